"""What the schedule conversations share: one typed-text flow at a time per chat."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application, ConversationHandler, filters
from telegram.warnings import PTBUserWarning

from bot.handlers.inbox import edit_or_send
from bot.i18n import all_translations
from bot.keyboards import MAIN_MENU, MenuButton, counted_label_pattern
from bot.texts import refusal
from core.domain.days import Toward, parse_day
from core.domain.errors import DomainError

# A rep interrupted by a customer comes back within the hour; after that the draft is gone.
TIMEOUT = timedelta(minutes=45)
FLOW = "flow"  # chat_data key: the conversation that typed text belongs to


def menu_button(button: MenuButton) -> filters.BaseFilter:
    """A private-chat message that is this main-menu button, in any language."""
    return filters.ChatType.PRIVATE & filters.Regex(counted_label_pattern(button))


def _any_menu_label() -> str:
    labels = {label for row in MAIN_MENU for b in row for label in all_translations(b.label)}
    return rf"^(?:{'|'.join(re.escape(label) for label in sorted(labels))})(?: \(\d+\))?$"


def typed() -> filters.BaseFilter:
    """Text typed as an answer: not a command, not a main-menu button."""
    return (filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
            & ~filters.Regex(_any_menu_label()))


class ScheduleConversation(ConversationHandler):
    """A conversation that takes typed text only while it is the chat's latest flow.

    /plan and /log can both be open in a chat (their buttons stay valid); typed text goes to
    the one started last, never to both and never to the wrong one.
    """

    def __init__(self, flow: str, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            # Tracked per chat, not per message, on purpose: every button carries what it
            # acts on (PTB warns of button handlers in such a conversation).
            warnings.simplefilter("ignore", PTBUserWarning)
            # Persistent: a process taking over goes on where the conversation stood.
            super().__init__(name=flow, per_chat=True, per_user=True, per_message=False,
                             allow_reentry=True, conversation_timeout=TIMEOUT,
                             persistent=True, **kwargs)
        self.flow = flow
        self._chats: Mapping[int, dict] = {}

    def bind(self, application: Application) -> ScheduleConversation:
        self._chats = application.chat_data
        return self

    def check_update(self, update: object) -> object:
        if isinstance(update, Update) and update.message and update.message.text and (
                not update.message.text.startswith("/")):
            chat = self._chats.get(update.message.chat_id) or {}
            if chat.get(FLOW, self.flow) != self.flow and not any(
                    handler.check_update(update) for handler in self.entry_points):
                return None
        return super().check_update(update)


def enter(context: Any, flow: str) -> None:
    context.chat_data[FLOW] = flow


async def refuse(update: Update, context: Any, error: DomainError,
                 told: Mapping[str, str] | None = None) -> None:
    """Say why not: as an alert on a button press, as a reply to a message."""
    if update.callback_query:
        await update.callback_query.answer(refusal(context.t, error, told), show_alert=True)
    else:
        await update.effective_message.reply_text(refusal(context.t, error, told))


async def day_argument(context: Any, toward: Toward) -> date | None:
    """The day written after the command (/plan 12-03), or None; DomainError if unreadable.

    A month and day alone is the next such day for a plan, the last one for a log.
    """
    if not context.args:
        return None
    return parse_day(" ".join(context.args), await context.services.work_logs.today(), toward)


async def drop_draft(update: Update, context: Any, key: str, said: str) -> int:
    """/cancel or ✖ in a flow whose draft lives in chat_data: forget it and say so."""
    context.chat_data.pop(key, None)
    if update.callback_query:
        await update.callback_query.answer()
        await edit_or_send(update, context, said, None)
    else:
        await update.effective_message.reply_text(said)
    return ConversationHandler.END


async def draft_closed(update: Update, said: str) -> int:
    """A button of a draft that is gone (saved, cancelled or timed out)."""
    await update.callback_query.answer(said, show_alert=True)
    return ConversationHandler.END
