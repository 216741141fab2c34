"""/start: the greeting with the main menu, and joining with an invite link."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import CrmContext
from bot.handlers.gate import refusal_for
from bot.keyboards import main_menu
from bot.texts import refusal
from core.domain.errors import DomainError
from core.org.membership import MessengerUser


def person(update: Update) -> MessengerUser:
    user = update.effective_user
    return MessengerUser(user.id, user.first_name, user.last_name, user.username,
                          user.language_code)


async def show_menu(update: Update, context: CrmContext, text: str) -> None:
    """Send `text` (HTML) with the main menu for the speaker's roles and unread count."""
    roles = await context.services.org.roles(update.effective_user.id)
    unread = await context.services.inbox.unread(update.effective_user.id)
    await update.effective_message.reply_html(
        text, reply_markup=main_menu(context.t, roles, unread))


async def start(update: Update, context: CrmContext) -> None:
    """Greet a member with the main menu; a token in the link registers a newcomer."""
    if context.args and context.visitor.member is None:
        await join(update, context, context.args[0])
        return
    # Also claims a member listed by username, and keeps the username current.
    visitor = await context.services.org.start(person(update))
    context.visitor = visitor
    context.choose_language(visitor, update.effective_user.language_code)
    t = context.t
    if not visitor.is_member:
        await update.effective_message.reply_text(refusal_for(t, visitor))
        return
    if context.args:
        await update.effective_message.reply_text(
            t("You are already a member, so there is no need for an invite."))
    await show_menu(update, context, t("Hello, <b>{name}</b>! What would you like to do?",
                                       name=escape(visitor.member.name)))


async def join(update: Update, context: CrmContext, token: str) -> None:
    """Register the speaker with a one-time invite token."""
    try:
        joined = await context.services.org.join(token, person(update))
    except DomainError as error:
        await update.effective_message.reply_text(refusal(context.t, error))
        return
    context.visitor = await context.services.org.identify(update.effective_user.id)
    context.choose_language(context.visitor, update.effective_user.language_code)
    await show_menu(update, context, context.t(
        "Welcome to the team, <b>{name}</b>! You have joined <b>{department}</b>.",
        name=escape(joined.member.name), department=escape(joined.department_name)))


def handlers() -> list:
    return [CommandHandler("start", start)]
