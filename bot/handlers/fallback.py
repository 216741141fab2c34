"""Last in line: private-only commands used in groups, unknown commands, stray text,
messages of kinds the bot cannot use, presses of buttons nobody handles; first in line:
edited messages."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, MessageHandler, filters

from bot.commands import private_only_names
from bot.context import CrmContext
from bot.dashboard import private_chat_buttons
from bot.keyboards import answer_stale


def _command_name(update: Update) -> str:
    return update.effective_message.text.split()[0][1:].split("@")[0].lower()


async def private_only_in_group(update: Update, context: CrmContext) -> None:
    """Point to the private chat: these commands show personal data or ask questions."""
    command = _command_name(update)
    await update.effective_message.reply_text(
        context.t("Please use /{command} in a private chat with me.", command=command),
        reply_markup=private_chat_buttons(context, command))
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


async def unreadable_message(update: Update, context: CrmContext) -> None:
    """Stickers, audio, videos, contacts, dice, polls, games: say what I can take instead."""
    await update.effective_message.reply_text(context.t(
        "I can't use this kind of message. I read text, photos (of visits and receipts) "
        "and locations (to check in). Send /help to see what I can do."))


async def voice_message(update: Update, context: CrmContext) -> None:
    """A voice note may become a log entry one day; until then, ask for text."""
    await update.effective_message.reply_text(context.t(
        "I can't listen to voice messages yet. Please type it instead: what you did today "
        "goes into /log."))


async def edited_message(update: Update, context: CrmContext) -> None:
    """An edit is never acted on (an edited /expense would file a second claim): say so."""
    if update.effective_chat.type == "private":
        await update.effective_message.reply_text(context.t(
            "I don't read edited messages, so nothing was changed. Please send it again as a "
            "new message."))
    raise ApplicationHandlerStop


async def stale_button(update: Update, context: CrmContext) -> None:
    """A press no handler took (old, forged or malformed data): answer it, so that the
    button's spinner stops and the person knows nothing happened."""
    await answer_stale(update.callback_query, context.t)


UNREADABLE = (filters.Sticker.ALL | filters.AUDIO | filters.VIDEO | filters.VIDEO_NOTE
              | filters.CONTACT | filters.Dice.ALL | filters.POLL | filters.GAME)


class _PrivateOnlyCommand(filters.MessageFilter):
    def filter(self, message) -> bool:
        text = message.text or ""
        return text.startswith("/") and text.split()[0][1:].split("@")[0].lower() in (
            private_only_names())


def edit_guard() -> MessageHandler:
    """Runs before every handler: edits stop here, but a live location's moves go on."""
    return MessageHandler(filters.UpdateType.EDITED_MESSAGE & ~filters.LOCATION, edited_message)


def group_guard() -> MessageHandler:
    """Runs before the command handlers, so private-only commands never act in a group."""
    return MessageHandler(filters.ChatType.GROUPS & _PrivateOnlyCommand(), private_only_in_group)


def handlers() -> list:
    return [
        MessageHandler(filters.COMMAND, unknown_command),
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, stray_text),
        MessageHandler(filters.ChatType.PRIVATE & filters.VOICE, voice_message),
        MessageHandler(filters.ChatType.PRIVATE & UNREADABLE, unreadable_message),
        CallbackQueryHandler(stale_button),
    ]
