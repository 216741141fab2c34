"""The Mini App from the chat: "Open dashboard" buttons, the menu button, the link in groups.

Telegram opens Web App buttons only beside a private chat. In a group the button is a link
into the private chat, where `/start dashboard` answers with the Web App button. None of this
appears unless [web] public_url is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButton,
    MenuButtonDefault,
    MenuButtonWebApp,
    Update,
    WebAppInfo,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application

from bot.context import CrmContext
from bot.i18n import N_, Translator
from bot.keyboards import private_chat_link
from core.domain.org.language import pick_language
from core.domain.org.model import Role
from core.org.membership import OrgService

log = logging.getLogger("crmbot.dashboard")

DASHBOARD = "dashboard"  # where the application keeps its Dashboard
START_PARAMETER = "dashboard"  # /start dashboard: the group's link into the private chat
OPEN = N_("📊 Open dashboard")
MENU_TEXT = N_("Dashboard")
# The menu button goes to those whose dashboard shows a team or the money. A rep keeps the
# command list there, the tools of their day, and opens the dashboard under their day and
# their claims.
MENU_ROLES = frozenset({Role.MANAGER, Role.FINANCE, Role.ADMIN})
# Menu buttons set a second when the bot starts: beside the replies, never in their way.
MENU_BUTTONS_PER_SECOND = 10.0
# In the member's kept user_data: the menu button last set for them, so that a restart or a
# takeover sets again only the buttons whose text, page or kind changed.
MENU_SET = "menu_button"
# Private-only commands whose screens carry the button: from a group, the link instead.
LINKED_COMMANDS = frozenset({"team", "stats", "pipeline", "calendar", "claims"})


class View(enum.StrEnum):
    """The tab the page opens with (its ?view=, web/static/app.js)."""

    TODAY = "today"
    APPROVALS = "approvals"
    BUDGETS = "budgets"
    CLAIMS = "claims"
    MINE = "mine"
    PIPELINE = "pipeline"


class Dashboard:
    """Where the Mini App is served, and the menu buttons published when the bot starts."""

    def __init__(self, public_url: str,
                 menu_buttons_per_second: float = MENU_BUTTONS_PER_SECOND) -> None:
        self.public_url = public_url
        self._spacing = 1 / menu_buttons_per_second
        self._publishing: asyncio.Task[None] | None = None

    @property
    def offered(self) -> bool:
        return bool(self.public_url)

    def url(self, view: View | None = None) -> str:
        return f"{self.public_url}?view={view}" if view else self.public_url

    def button(self, t: Translator, view: View | None = None) -> InlineKeyboardButton:
        """Opens the page beside a private chat."""
        return InlineKeyboardButton(t(OPEN), web_app=WebAppInfo(self.url(view)))

    @staticmethod
    def link(t: Translator, bot_username: str) -> InlineKeyboardButton:
        """From a group: into the private chat, which answers with the button."""
        return InlineKeyboardButton(
            t(OPEN), url=f"https://t.me/{bot_username}?start={START_PARAMETER}")

    def menu_button(self, t: Translator, roles: frozenset[Role]) -> MenuButton:
        """The page for those with a team or the money to look after; the default else, so
        that a member who lost the role gets the command list back."""
        if self.offered and roles & MENU_ROLES:
            return MenuButtonWebApp(t(MENU_TEXT), WebAppInfo(self.public_url))
        return MenuButtonDefault()

    async def set_menu_button(self, bot: Bot, account_id: int, t: Translator,
                              roles: frozenset[Role], kept: dict) -> bool:
        """Set it unless `kept` (the member's user_data) says it is set so already; True
        when it was set now."""
        button = self.menu_button(t, roles)
        signature = button.to_json()
        if kept.get(MENU_SET, MenuButtonDefault().to_json()) == signature:
            return False
        await bot.set_chat_menu_button(account_id, button)
        kept[MENU_SET] = signature
        return True

    # Published when the bot starts ---------------------------------------------------------

    async def start(self, application: Application) -> None:
        """Set every member's menu button in the background: polling does not wait for it.
        Without public_url only the buttons set before go back to the default."""
        if self._publishing is not None:
            return
        self._publishing = asyncio.create_task(self._publish(application), name="menu-buttons")

    async def stop(self) -> None:
        task, self._publishing = self._publishing, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def published(self) -> None:
        """Until every member's menu button has been set once (at once when none is due)."""
        if self._publishing is not None:
            await asyncio.shield(self._publishing)

    async def _publish(self, application: Application) -> None:
        try:
            await self._publish_all(application, application.bot_data["services"].org)
        except Exception:
            # The next start, or each member's /start, sets them.
            log.exception("menu buttons not published")
        finally:
            # What was set is kept with the members' chats, for the next start to skip.
            with contextlib.suppress(Exception):
                await application.update_persistence()
                await application.persistence.save()

    async def _publish_all(self, application: Application, org: OrgService) -> None:
        standings = await org.standings()
        changed = refused = 0
        for standing in standings:
            member = standing.member
            assert member.account_id is not None
            # Without an update there is no app language: the member's own, else the org's.
            t = Translator(pick_language(member.language, None,
                                         standing.settings.default_language))
            kept = application.user_data[member.account_id]
            try:
                if not await self.set_menu_button(application.bot, member.account_id, t,
                                                  standing.roles, kept):
                    continue
            except TelegramError as error:
                # Never started the bot, or blocked it: their /start sets it.
                refused += 1
                log.debug("menu button of %s not set: %s", member.key, error)
            else:
                changed += 1
                application.mark_data_for_update_persistence(user_ids=[member.account_id])
            await asyncio.sleep(self._spacing)
        log.info("menu buttons: %d members, %d set now, %d refused", len(standings), changed,
                 refused)


def dashboard_of(context: CrmContext) -> Dashboard | None:
    """The Mini App when it is offered (public_url set), else None."""
    dashboard = context.bot_data.get(DASHBOARD)
    return dashboard if isinstance(dashboard, Dashboard) and dashboard.offered else None


def open_button(update: Update, context: CrmContext,
                view: View | None = None) -> InlineKeyboardButton | None:
    """The button under a screen: the page in a private chat, the link to it in a group."""
    dashboard = dashboard_of(context)
    if dashboard is None:
        return None
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        return dashboard.button(context.t, view)
    return dashboard.link(context.t, context.bot.username)


def with_dashboard(update: Update, context: CrmContext, view: View,
                   keyboard: InlineKeyboardMarkup | None = None) -> InlineKeyboardMarkup | None:
    """The keyboard with the button as its last row (when the Mini App is offered)."""
    button = open_button(update, context, view)
    if button is None:
        return keyboard
    rows = list(keyboard.inline_keyboard) if keyboard else []
    return InlineKeyboardMarkup([*rows, [button]])


def private_chat_buttons(context: CrmContext, command: str) -> InlineKeyboardMarkup:
    """Under "please use /command in a private chat": the way there, and for a screen that
    carries the button there, the dashboard's link too."""
    markup = private_chat_link(context.bot.username, context.t)
    dashboard = dashboard_of(context)
    if dashboard is None or command not in LINKED_COMMANDS:
        return markup
    return InlineKeyboardMarkup([*markup.inline_keyboard,
                                 [dashboard.link(context.t, context.bot.username)]])


async def offer_menu_button(update: Update, context: CrmContext,
                            roles: frozenset[Role]) -> None:
    """/start sets the speaker's menu button as their roles are now."""
    dashboard = dashboard_of(context)
    if dashboard is None:
        return
    try:
        await dashboard.set_menu_button(context.bot, update.effective_user.id, context.t, roles,
                                        context.user_data)
    except TelegramError as error:
        # The greeting is out; the next start of the bot sets the button.
        log.warning("menu button not set at /start: %s", error)
