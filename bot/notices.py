"""How each kind of notification reads, in the recipient's language, when it is sent or opened."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Protocol

from telegram import InlineKeyboardMarkup

from bot.i18n import N_, Translator
from core.domain.notification import Notification, NotificationKind

Rendered = tuple[str, InlineKeyboardMarkup | None]


class Audience(Protocol):
    """Who reads it: a core.notifications.Delivery, or the inbox's stand-in for one."""

    timezone: str
    recipient_name: str


Renderer = Callable[[Notification, Translator, Audience], Rendered]

KIND_TITLES: dict[NotificationKind, str] = {
    NotificationKind.APPROVAL_REQUEST: N_("Approval request"),
    NotificationKind.APPROVAL_DECISION: N_("Approval decision"),
    NotificationKind.PLAN_REMINDER: N_("Plan reminder"),
    NotificationKind.LOG_REMINDER: N_("Log reminder"),
    NotificationKind.BUDGET_ALERT: N_("Budget alert"),
    NotificationKind.FOLLOW_UP: N_("Follow-up"),
    NotificationKind.DIGEST: N_("Team digest"),
    NotificationKind.SYSTEM: N_("Notice"),
}

_RENDERERS: dict[NotificationKind, Renderer] = {}
_SUMMARIES: dict[NotificationKind, Callable[[Notification, Translator], str]] = {}


def renders(kind: NotificationKind) -> Callable[[Renderer], Renderer]:
    """Register the renderer of one kind (modules add theirs next to the ones here)."""

    def register(function: Renderer) -> Renderer:
        _RENDERERS[kind] = function
        return function

    return register


def render(notification: Notification, t: Translator, audience: Audience) -> Rendered:
    """The message text (HTML) and its buttons."""
    renderer = _RENDERERS.get(notification.kind, _fallback)
    return renderer(notification, t, audience)


def summarizes(kind: NotificationKind):
    """Register the one-line summary of one kind."""

    def register(function: Callable[[Notification, Translator], str]):
        _SUMMARIES[kind] = function
        return function

    return register


def summary(notification: Notification, t: Translator) -> str:
    """A one-line title for lists such as the inbox (plain text, no HTML)."""
    function = _SUMMARIES.get(notification.kind)
    return function(notification, t) if function else t(KIND_TITLES[notification.kind])


def _fallback(notification: Notification, t: Translator, audience: Audience) -> Rendered:
    text = notification.payload.get("text")
    return (escape(text) if text else t(KIND_TITLES[notification.kind])), None


@renders(NotificationKind.SYSTEM)
def _system(notification: Notification, t: Translator, audience: Audience) -> Rendered:
    payload = notification.payload
    event = payload.get("event")
    if event == "member_unreachable":
        return t("⚠️ I can no longer reach <b>{member}</b> on Telegram: they blocked the bot "
                 "or never started it. Their notifications wait in their /inbox; ask them to "
                 "open the bot and press Start.", member=escape(payload["member"])), None
    if event == "group_unbound_removed":
        return t("⚠️ I was removed from the group <b>{group}</b>, so it no longer receives "
                 "the team's digests and reminders. Add me again and send /bindgroup there "
                 "to restore it.", group=escape(payload["group"])), None
    return _fallback(notification, t, audience)


@summarizes(NotificationKind.SYSTEM)
def _system_summary(notification: Notification, t: Translator) -> str:
    payload = notification.payload
    if payload.get("event") == "member_unreachable":
        return t("{member} cannot be reached", member=payload["member"])
    if payload.get("event") == "group_unbound_removed":
        return t("Removed from {group}", group=payload["group"])
    return t(KIND_TITLES[notification.kind])
