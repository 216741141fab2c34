"""/start: the greeting with the main menu, joining with an invite link, and the dashboard
for those who come from a group's link."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from bot.context import CrmContext
from bot.dashboard import START_PARAMETER, offer_menu_button, open_button
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
    """Send `text` (HTML) with the main menu for the speaker's roles and unread count; the
    menu button follows the roles too."""
    roles = await context.services.org.roles(update.effective_user.id)
    unread = await context.services.inbox.unread(update.effective_user.id)
    await update.effective_message.reply_html(
        text, reply_markup=main_menu(context.t, roles, unread))
    await offer_menu_button(update, context, roles)


async def start(update: Update, context: CrmContext) -> None:
    """Greet a member with the main menu; a token in the link registers a newcomer, and
    `dashboard` (the link in a group) brings the dashboard's button."""
    dashboard = context.args == [START_PARAMETER]
    if context.args and not dashboard and context.visitor.member is None:
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
    if context.args and not dashboard:
        await update.effective_message.reply_text(
            t("You are already a member, so there is no need for an invite."))
    await show_menu(update, context, t("Hello, <b>{name}</b>! What would you like to do?",
                                       name=escape(visitor.member.name)))
    if dashboard and (button := open_button(update, context)):
        await update.effective_message.reply_text(
            t("Your dashboard opens with the button below."),
            reply_markup=InlineKeyboardMarkup([[button]]))


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
