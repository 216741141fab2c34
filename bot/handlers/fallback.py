"""Last in line: private-only commands used in groups, unknown commands, stray text, and
presses of buttons nobody handles."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, MessageHandler, filters

from bot.commands import private_only_names
from bot.context import CrmContext
from bot.keyboards import private_chat_link


def _command_name(update: Update) -> str:
    return update.effective_message.text.split()[0][1:].split("@")[0].lower()


async def private_only_in_group(update: Update, context: CrmContext) -> None:
    """Point to the private chat: these commands show personal data or ask questions."""
    await update.effective_message.reply_text(
        context.t("Please use /{command} in a private chat with me.",
                  command=_command_name(update)),
        reply_markup=private_chat_link(context.bot.username, context.t))
    raise ApplicationHandlerStop


async def unknown_command(update: Update, context: CrmContext) -> None:
    """Say so, and where the list is; in groups only when the command names this bot."""
    first = update.effective_message.text.split()[0]
    if update.effective_chat.type != "private" and not first.lower().endswith(
            f"@{context.bot.username}".lower()):
        return
    await update.effective_message.reply_text(
        context.t("I don't know the command /{command}. Send /help to see what I can do.",
                  command=_command_name(update)))


async def stray_text(update: Update, context: CrmContext) -> None:
    """Text that is not an answer to anything: point to the menu."""
    await update.effective_message.reply_text(
        context.t("I did not understand that. Please use the menu buttons below, or /help."))


async def stale_button(update: Update, context: CrmContext) -> None:
    """A press no handler took (old, forged or malformed data): answer it, so that the
    button's spinner stops and the person knows nothing happened."""
    await update.callback_query.answer(context.t("That button is no longer valid."),
                                       show_alert=True)


class _PrivateOnlyCommand(filters.MessageFilter):
    def filter(self, message) -> bool:
        text = message.text or ""
        return text.startswith("/") and text.split()[0][1:].split("@")[0].lower() in (
            private_only_names())


def group_guard() -> MessageHandler:
    """Runs before the command handlers, so private-only commands never act in a group."""
    return MessageHandler(filters.ChatType.GROUPS & _PrivateOnlyCommand(), private_only_in_group)


def handlers() -> list:
    return [
        MessageHandler(filters.COMMAND, unknown_command),
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, stray_text),
        CallbackQueryHandler(stale_button),
    ]
