"""/invite: a one-time link that brings a new member into the inviter's department."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.context import CrmContext
from bot.i18n import all_translations
from bot.keyboards import INVITE
from bot.texts import refusal
from bot.timefmt import local_datetime
from core.domain.errors import DomainError


async def invite(update: Update, context: CrmContext) -> None:
    """Make an invite link for the speaker's department."""
    t = context.t
    try:
        issued = await context.services.org.create_invite(update.effective_user.id)
    except DomainError as error:
        await update.effective_message.reply_text(refusal(t, error))
        return
    link = f"https://t.me/{context.bot.username}?start={issued.token}"
    expires = local_datetime(issued.expires_at, context.visitor.settings.timezone)
    await update.effective_message.reply_html(
        t("Send this link to the new member. It adds them to <b>{department}</b>, "
          "works once and expires on {expires}.\n\n{link}",
          department=escape(issued.department_name), expires=expires, link=escape(link)),
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(
            t("Share the invite"), url=f"https://t.me/share/url?url={quote(link, safe='')}")]]),
    )


def handlers() -> list:
    return [
        CommandHandler("invite", invite),
        MessageHandler(filters.ChatType.PRIVATE & filters.Text(all_translations(INVITE.label)),
                       invite),
    ]
