"""How each kind of notification reads, in the recipient's language, when it is sent or opened."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from html import escape
from typing import Protocol
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import OpenLog, PlanReminder
from bot.fitting import fit_some, fit_text
from bot.i18n import N_, Translator
from core.domain.inbox.notifications import Notification, NotificationKind

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
    NotificationKind.GOAL_REACHED: N_("Goal reached"),
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
    """The message text (HTML), within a message's length, and its buttons."""
    renderer = _RENDERERS.get(notification.kind, _fallback)
    text, markup = renderer(notification, t, audience)
    return fit_text(text), markup


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
    if event == "log_rated":
        return _log_rated(payload, t), None
    return _fallback(notification, t, audience)


def _log_rated(payload: dict, t: Translator) -> str:
    """A manager rated the rep's work log of a day (the comment may follow by an edit)."""
    rating = int(payload["rating"])
    text = t("⭐ <b>{manager}</b> rated your work log of {day}: {stars}",
             manager=escape(payload["by"]),
             day=day_label(t, date.fromisoformat(payload["day"])),
             stars="★" * rating + "☆" * (5 - rating))
    if payload.get("comment"):
        text += "\n" + t("Comment: {comment}", comment=escape(payload["comment"]))
    return text + "\n" + t("See the day in /calendar.")


@summarizes(NotificationKind.SYSTEM)
def _system_summary(notification: Notification, t: Translator) -> str:
    payload = notification.payload
    if payload.get("event") == "member_unreachable":
        return t("{member} cannot be reached", member=payload["member"])
    if payload.get("event") == "group_unbound_removed":
        return t("Removed from {group}", group=payload["group"])
    if payload.get("event") == "log_rated":
        return t("Your log of {day} was rated {rating}/5",
                 day=day_label(t, date.fromisoformat(payload["day"])), rating=payload["rating"])
    return t(KIND_TITLES[notification.kind])


# The scheduler's kinds: plan and log reminders (to a rep, or to a team group naming the
# people concerned) and the team digest.

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MONTHS = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"), N_("Jul"),
          N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))


def day_label(t: Translator, day: date) -> str:
    """'Fri 27 Nov' / '11月27日 周五'."""
    return t("{weekday} {day} {month_name}", weekday=t(WEEKDAYS[day.weekday()]), day=day.day,
             month_name=t(MONTHS[day.month - 1]))


def _sent_on(notification: Notification, audience: Audience) -> date:
    """The team's day the message goes out (quiet hours may have moved it to the morning)."""
    return notification.due_at.astimezone(ZoneInfo(audience.timezone)).date()


def _mention(person: dict) -> str:
    name = escape(person["name"])
    # Messages queued before the payload said "account_id" name the same account "telegram_id".
    account = person.get("account_id") or person.get("telegram_id")
    if account:
        return f'<a href="tg://user?id={int(account)}">{name}</a>'
    return name


MENTIONS_ROOM = 3500  # of a group message's 4,096 characters; the sentence takes the rest


def _mentions(t: Translator, people: list[dict]) -> str:
    """Everyone by name while they fit in one message; then how many more there are."""
    separator, shown, used = t(", "), [], 0
    for number, person in enumerate(people):
        length = len(person["name"]) + len(separator)
        if used + length > MENTIONS_ROOM:
            return t.plural("{names} and {n} more", "{names} and {n} more",
                            len(people) - number, names=separator.join(shown))
        shown.append(_mention(person))
        used += length
    return separator.join(shown)


@renders(NotificationKind.PLAN_REMINDER)
def _plan_reminder(notification: Notification, t: Translator, audience: Audience) -> Rendered:
    payload = notification.payload
    day = date.fromisoformat(payload["date"])
    label, sent_on = day_label(t, day), _sent_on(notification, audience)
    if notification.group_id is not None:
        people = _mentions(t, payload["people"])
        if day == sent_on + timedelta(days=1):
            return t("📝 No plan yet for tomorrow ({day}): {people}.", day=label,
                     people=people), None
        return t("📝 No plan yet for {day}: {people}.", day=label, people=people), None
    if day == sent_on + timedelta(days=1):
        head = t("Tomorrow ({day}) has no plan yet.", day=label)
    elif day == sent_on:
        head = t("Today ({day}) has no plan yet.", day=label)
    else:
        head = t("Your next working day, {day}, has no plan yet.", day=label)
    return ("📝 <b>" + head + "</b>\n" + t(
        "Please write down which customers you will visit and whom you will call, "
        "before you finish today.")), InlineKeyboardMarkup([[InlineKeyboardButton(
            t("🗓 Write the plan"), callback_data=PlanReminder(day).encode())]])


@summarizes(NotificationKind.PLAN_REMINDER)
def _plan_reminder_summary(notification: Notification, t: Translator) -> str:
    return t("No plan yet for {day}",
             day=day_label(t, date.fromisoformat(notification.payload["date"])))


@renders(NotificationKind.LOG_REMINDER)
def _log_reminder(notification: Notification, t: Translator, audience: Audience) -> Rendered:
    payload = notification.payload
    day = date.fromisoformat(payload["date"])
    label, today = day_label(t, day), day == _sent_on(notification, audience)
    if notification.group_id is not None:
        people = _mentions(t, payload["people"])
        if today:
            return t("🗒 No work log yet for today ({day}): {people}.", day=label,
                     people=people), None
        return t("🗒 No work log yet for {day}: {people}.", day=label, people=people), None
    head = (t("Today ({day}) has no work log yet.", day=label) if today
            else t("{day} has no work log yet.", day=label))
    return ("🗒 <b>" + head + "</b>\n" + t(
        "Please note what you did: the visits and calls, and what came of them.")), (
        InlineKeyboardMarkup([[InlineKeyboardButton(
            t("📝 Write the log"), callback_data=OpenLog(day).encode())]]))


@summarizes(NotificationKind.LOG_REMINDER)
def _log_reminder_summary(notification: Notification, t: Translator) -> str:
    return t("No work log yet for {day}",
             day=day_label(t, date.fromisoformat(notification.payload["date"])))


DIGEST_COLUMNS = {"plan": N_("plan"), "log": N_("log"), "check_ins": N_("check-ins")}


def _digest_cell(row: dict, column: str) -> str:
    value = row.get(column)
    if isinstance(value, bool):
        return "✅" if value else "❌"
    return str(value)


@renders(NotificationKind.DIGEST)
def _digest(notification: Notification, t: Translator, audience: Audience) -> Rendered:
    """One line per rep, the marks first so they line up; what is not tracked has no column.

    A department too big for one message shows the reps with something missing first, as
    many as fit, and counts the rest: the totals always cover everyone.
    """
    payload = notification.payload
    columns, rows = payload["columns"], payload["rows"]
    head = [t("📊 <b>Team digest: {department}</b>", department=escape(payload["department"])),
            t("{day} — {columns}", day=day_label(t, date.fromisoformat(payload["day"])),
              columns=" / ".join(t(DIGEST_COLUMNS[c]) for c in columns))]
    if not rows:
        head.append(t("No reps in this department yet."))
    missing_first = sorted(rows, key=lambda row: all(row.get(c) for c in columns))
    people = [" ".join(_digest_cell(row, c) for c in columns) + "  " + escape(row["name"])
              for row in missing_first]
    as_of = datetime.fromisoformat(payload["as_of"]).astimezone(ZoneInfo(audience.timezone))
    totals = [t("Planned {done}/{total}", done=sum(r["plan"] for r in rows), total=len(rows)),
              t("Logged {done}/{total}", done=sum(r["log"] for r in rows), total=len(rows))]
    stamp = t("as of {time}", time=as_of.strftime("%H:%M"))

    def more(n: int) -> str:
        return t.plural("… and {n} more: a manager sees everyone with /team.",
                        "… and {n} more: a manager sees everyone with /team.", n)

    return fit_some(people, more, head=head,
                    footer=["", " · ".join([*(totals if rows else []), stamp])]), None


@summarizes(NotificationKind.DIGEST)
def _digest_summary(notification: Notification, t: Translator) -> str:
    payload = notification.payload
    return t("Team digest: {department}, {day}", department=payload["department"],
             day=day_label(t, date.fromisoformat(payload["day"])))
