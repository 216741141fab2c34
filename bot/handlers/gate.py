"""Before any handler: find out who is speaking; strangers get a polite refusal."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.context import CrmContext
from bot.i18n import Translator
from bot.texts import refusal
from core.domain.errors import DomainError
from core.org.membership import Visitor
from core.trace import bind_member


def refusal_for(t: Translator, visitor: Visitor) -> str:
    """What a stranger, or a member no longer active, is told."""
    if visitor.member is not None:
        return t("Your membership is not active. Please talk to your manager.")
    return t("Sorry, this bot is only for members of our sales team. "
             "If you work with us, ask your manager for an invite link.")


def _is_start(update: Update) -> bool:
    message = update.message
    return bool(message and message.text and message.text.split()[0].split("@")[0] == "/start")


def _addressed_to_bot(update: Update) -> bool:
    """In a group only commands speak to the bot; other chatter is none of its business."""
    message = update.effective_message
    return bool(message and message.text and message.text.startswith("/"))


async def identify(update: Update, context: CrmContext) -> None:
    """Load the speaker; stop strangers here so no handler ever sees them."""
    user = update.effective_user
    if user is None or update.my_chat_member or update.chat_member:
        return
    visitor = await context.services.visitors.identify(user.id)
    context.visitor = visitor
    if visitor.member is not None:
        bind_member(visitor.member.id, visitor.member.key)
    context.choose_language(visitor, user.language_code)
    if visitor.is_member:
        return
    chat = update.effective_chat
    private = chat is not None and chat.type == ChatType.PRIVATE
    if private and _is_start(update):
        return  # /start decides: a listed username, an invite token, or a refusal
    text = refusal_for(context.t, visitor)
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message and (private or _addressed_to_bot(update)):
        await update.effective_message.reply_text(text)
    raise ApplicationHandlerStop


def gate_handler() -> TypeHandler:
    return TypeHandler(Update, identify)


async def pressed_outside_private_chat(update: Update, context: CrmContext,
                                       command: str) -> bool:
    """Buttons of private screens pressed in a group (forged): say so and stop."""
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        return False
    await update.callback_query.answer(
        context.t("Please use /{command} in a private chat with me.", command=command),
        show_alert=True)
    return True


PressHandler = Callable[[Update, CrmContext], Awaitable[None]]


def private_press(command: str, say: Callable[[Translator, DomainError], str] = refusal,
                  ) -> Callable[[PressHandler], PressHandler]:
    """A press of a button on a private screen: refused in a group (forged there), and a
    service's refusal is the press's answer, as an alert."""

    def wrap(handler: PressHandler) -> PressHandler:
        @functools.wraps(handler)
        async def press(update: Update, context: CrmContext) -> None:
            if await pressed_outside_private_chat(update, context, command):
                return
            try:
                await handler(update, context)
            except DomainError as error:
                await update.callback_query.answer(say(context.t, error), show_alert=True)

        return press

    return wrap
