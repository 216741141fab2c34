"""Before any handler: find out who is speaking; strangers get a polite refusal."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.context import CrmContext
from bot.i18n import Translator
from core.org.membership import Visitor


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
