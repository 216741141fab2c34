"""Notifications: every message the system sends is a record, delivered once through the outbox."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any


class NotificationKind(enum.StrEnum):
    APPROVAL_REQUEST = "approval_request"
    APPROVAL_DECISION = "approval_decision"
    PLAN_REMINDER = "plan_reminder"
    LOG_REMINDER = "log_reminder"
    BUDGET_ALERT = "budget_alert"
    FOLLOW_UP = "follow_up"
    DIGEST = "digest"
    GOAL_REACHED = "goal_reached"
    SYSTEM = "system"


# Reminders respect a member's pause and quiet hours; requests and decisions do not wait.
REMINDER_KINDS = frozenset({NotificationKind.PLAN_REMINDER, NotificationKind.LOG_REMINDER,
                            NotificationKind.FOLLOW_UP})


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (or to be edited: version > sent_version)
    DELIVERED = "delivered"  # the messenger accepted it
    FAILED = "failed"  # the messenger refused it for good (the chat is gone)
    SKIPPED = "skipped"  # not sent: the recipient cannot be reached


@dataclass(frozen=True)
class Notification:
    """One message to one member or one bound team group, with its idempotency key."""

    id: int | None
    key: str
    kind: NotificationKind
    member_id: int | None
    group_id: int | None
    payload: dict[str, Any]
    created_at: datetime
    due_at: datetime
    subject_type: str | None = None
    subject_id: int | None = None
    state: DeliveryState = DeliveryState.PENDING
    version: int = 1
    sent_version: int = 0
    attempts: int = 0
    chat_id: int | None = None
    message_id: int | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    last_error: str | None = None

    def __post_init__(self) -> None:
        if (self.member_id is None) == (self.group_id is None):
            raise ValueError("a notification goes to a member or to a group, not both")

    @property
    def needs_edit(self) -> bool:
        """Delivered once, changed since: the sent message is edited in place."""
        return self.message_id is not None and self.sent_version < self.version


@dataclass(frozen=True)
class NewNotification:
    """What a service publishes; the outbox fills in the rest."""

    key: str
    kind: NotificationKind
    payload: dict[str, Any]
    member_id: int | None = None
    group_id: int | None = None
    subject_type: str | None = None
    subject_id: int | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class QuietHours:
    """A nightly window (in the team's zone) in which reminders wait."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def next_end(self, local: datetime) -> datetime:
        """The first moment at or after `local` outside the window (local, aware)."""
        if not self.contains(local.timetz().replace(tzinfo=None)):
            return local
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0,
                            microsecond=0)
        return end if end > local else end + timedelta(days=1)


def parse_clock(text: str) -> time:
    """'18:00' -> time(18, 0); ValueError for anything else."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError("use HH:MM, like 18:00")
    return time(int(hours), int(minutes))


def retry_delay(attempts: int) -> timedelta:
    """Backoff after a network error: 2, 4, 8 ... seconds, at most five minutes."""
    return timedelta(seconds=min(300, 2 ** max(1, attempts)))


@dataclass(frozen=True)
class Page:
    """One page of a list, with what is needed to draw the page buttons."""

    items: list
    number: int
    pages: int
    total: int
    unread: int = 0
    extra: dict = field(default_factory=dict)
