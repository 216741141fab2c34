"""Keyboards: the main menu and small inline pickers."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.ext import CallbackQueryHandler, filters

from bot.callbacks import Callback, ChooseLanguage, any_of
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Translator, all_translations
from core.domain.org.model import Role


@dataclass(frozen=True)
class MenuButton:
    label: str  # marked with N_
    roles: frozenset[Role] = frozenset()  # empty: every member
    request_location: bool = False  # the phone shares its location when pressed


MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
CHECK_IN = MenuButton(N_("📍 Check in"), request_location=True)
PLAN = MenuButton(N_("🗓 Plan"))
LOG = MenuButton(N_("📝 Log"))
EXPENSE = MenuButton(N_("🧾 Expense"))
CALENDAR = MenuButton(N_("📅 Calendar"))
INBOX = MenuButton(N_("📥 Inbox"))
TEAM = MenuButton(N_("👥 Team"), MANAGERS)
INVITE = MenuButton(N_("✉️ Invite"), MANAGERS)
HELP = MenuButton(N_("❓ Help"))
LANGUAGE = MenuButton(N_("🌐 Language"))

# Rows of the main menu: a rep's day first, within reach of a thumb.
MAIN_MENU: tuple[tuple[MenuButton, ...], ...] = (
    (CHECK_IN, PLAN, LOG),
    (EXPENSE, CALENDAR, INBOX),
    (TEAM, INVITE),
    (HELP, LANGUAGE),
)


def main_menu(t: Translator, roles: frozenset[Role], unread: int = 0) -> ReplyKeyboardMarkup:
    """The reply keyboard of the main actions this person may take (with the unread count)."""
    rows = []
    for row in MAIN_MENU:
        buttons = [KeyboardButton(_label(t, b, unread), request_location=b.request_location)
                   for b in row if not b.roles or b.roles & roles]
        if buttons:
            rows.append(buttons)
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)


def _label(t: Translator, button: MenuButton, unread: int) -> str:
    if button is INBOX and unread > 0:
        return f"{t(button.label)} ({unread})"
    return t(button.label)


def counted_label_pattern(button: MenuButton) -> str:
    """A regex for the button's label in any language, with or without a count: "📥 Inbox (3)".

    The keyboard keeps the count it was sent with, so any number must still match.
    """
    labels = "|".join(re.escape(label) for label in sorted(all_translations(button.label)))
    return rf"^(?:{labels})(?: \(\d+\))?$"


def language_picker(current: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(("✓ " if code == current else "") + LANGUAGE_NAMES[code],
                             callback_data=ChooseLanguage(code).encode())
        for code in LANGUAGES
    ]])


def pager(number: int, count: int,
          turn_to: Callable[[int], Callback]) -> list[InlineKeyboardButton]:
    """The row under a long list on page `number` (from 0) of `count`: ◀ 3/12 ▶, each arrow
    only where there is a page that way; the middle button shows the page again (the list
    may have changed). Empty when the list has one page.

    `turn_to(n)` is the button data of page n: the list's own kind, so its handler re-checks
    who may see the list on every press.
    """
    if count <= 1:
        return []
    row = [InlineKeyboardButton(f"{number + 1}/{count}", callback_data=turn_to(number).encode())]
    if number > 0:
        row.insert(0, InlineKeyboardButton("◀", callback_data=turn_to(number - 1).encode()))
    if number + 1 < count:
        row.append(InlineKeyboardButton("▶", callback_data=turn_to(number + 1).encode()))
    return row


def private_chat_link(bot_username: str, t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(t("Open a private chat"), url=f"https://t.me/{bot_username}")
    ]])


class AnswersQuestion(filters.MessageFilter):
    """A reply to one of the bot's ForceReply questions, recognised by the mark it opens with."""

    def __init__(self, mark: str) -> None:
        super().__init__()
        self.mark = mark

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.is_bot
                    and (replied.text or "").startswith(self.mark))


async def answer_stale(query: CallbackQuery, t: Translator) -> None:
    """A press of an old, forged or malformed button: say so, so the spinner stops too."""
    await query.answer(t("That button is no longer valid."), show_alert=True)


class ButtonHandler(CallbackQueryHandler):
    """Presses of one kind of button (or of any of several), by its decoded data.

    The callback gets the press from the kind: `press = ApproveClaim.of(update)`. A press
    with empty data is refused here (PTB would hand it to any handler with a pattern), so
    it reaches the catch-all that answers stale buttons.
    """

    def __init__(self, kinds: type[Callback] | tuple[type[Callback], ...],
                 callback: Callable[[Update, Any], Awaitable[Any]], **kwargs: Any) -> None:
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        super().__init__(callback, pattern=any_of(*kinds), **kwargs)
        self.kinds = kinds

    def check_update(self, update: object) -> bool | object | None:
        if isinstance(update, Update) and update.callback_query and not update.callback_query.data:
            return None
        return super().check_update(update)
