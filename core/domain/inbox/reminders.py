"""Team groups, the working calendar and scheduled rules (reminders, digests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.domain.inbox.notifications import parse_clock


@dataclass(frozen=True)
class TeamGroup:
    """A group chat bound to a department."""

    id: int | None
    chat_id: int
    title: str
    department_id: int
    bound_by: int
    bound_at: datetime
    active: bool = True


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days: weekdays (1 = Monday) minus holidays plus make-up days."""

    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.working_weekends:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def next_working_day(self, day: date) -> date:
        """The first working day after `day`."""
        candidate = day + timedelta(days=1)
        for _ in range(366):
            if self.is_working_day(candidate):
                return candidate
            candidate += timedelta(days=1)
        raise ValueError("no working day within a year")


@dataclass(frozen=True)
class ReminderRule:
    """A rule that runs daily at a local time: `name` picks what it does."""

    name: str
    enabled: bool
    at: str  # HH:MM in the team's zone
    params: dict[str, Any] = field(default_factory=dict)
    last_run_at: datetime | None = None

    @property
    def clock(self) -> time:
        return parse_clock(self.at)

    def fire_time(self, day: date, zone: ZoneInfo) -> datetime:
        """When the rule fires on a local day, as an aware datetime."""
        return datetime.combine(day, self.clock, tzinfo=zone)

    def last_due(self, now: datetime, zone: ZoneInfo, calendar: WorkCalendar,
                 working_days_only: bool = True) -> datetime | None:
        """The latest fire time at or before `now` (within a week), or None."""
        local_today = now.astimezone(zone).date()
        for back in range(8):
            day = local_today - timedelta(days=back)
            if working_days_only and not calendar.is_working_day(day):
                continue
            moment = self.fire_time(day, zone)
            if moment <= now:
                return moment
        return None

    def due(self, now: datetime, zone: ZoneInfo, calendar: WorkCalendar, window: timedelta,
            working_days_only: bool = True) -> datetime | None:
        """The fire time to run at `now`: the latest one, not run since, at most `window` ago.

        A bot that was down at 19:00 and starts again at 23:30 stays quiet: a reminder about
        a day that is nearly over helps nobody and wakes everyone.
        """
        due = self.last_due(now, zone, calendar, working_days_only)
        if due is None or now - due > window:
            return None
        if self.last_run_at is not None and self.last_run_at >= due:
            return None
        return due
