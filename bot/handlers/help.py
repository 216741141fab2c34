"""/help: the commands this person's roles allow."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.commands import commands_for
from bot.context import CrmContext
from bot.i18n import all_translations
from bot.keyboards import HELP


async def show_help(update: Update, context: CrmContext) -> None:
    """List the commands the speaker may use, one line each."""
    t = context.t
    roles = await context.services.org.roles(update.effective_user.id)
    lines = [t("Here is what I can do for you:"), ""]
    lines += [f"/{c.name} — {t(c.description)}" for c in commands_for(roles)]
    await update.effective_message.reply_text("\n".join(lines))


def handlers() -> list:
    return [
        CommandHandler("help", show_help),
        MessageHandler(filters.ChatType.PRIVATE & filters.Text(all_translations(HELP.label)),
                       show_help),
    ]
