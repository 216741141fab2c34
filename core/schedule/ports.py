"""What the schedule module needs from storage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from core.domain.org.model import Customer
from core.domain.schedule.calendar import (
    CheckInFact,
    LogEntryFact,
    LogFact,
    PhotoFact,
    PlanItemFact,
)
from core.domain.schedule.checkins import BoundingBox, CheckIn, OpenDeal
from core.domain.schedule.photos import VisitPhoto
from core.domain.schedule.plans import LogEntry, NewItem, PlanItem, Visit


class ScheduleFacts(Protocol):
    """What the schedule knows about a day, for reminders and digests."""

    async def planned(self, member_ids: Collection[int], day: date) -> set[int]:
        """Those of `member_ids` who have a plan for `day`."""
        ...

    async def logged(self, member_ids: Collection[int], day: date) -> set[int]:
        """Those of `member_ids` who have a work log for `day`."""
        ...

    async def check_ins(self, member_ids: Collection[int], day: date,
                        timezone: str = "UTC") -> dict[int, int] | None:
        """Check-ins per member on the local `day` in `timezone` (members with none left out)."""
        ...


class CheckInRepository(Protocol):
    async def add(self, check_in: CheckIn) -> CheckIn: ...
    async def get(self, check_in_id: int) -> CheckIn | None: ...
    async def update(self, check_in: CheckIn) -> None: ...
    async def latest(self, member_id: int, since: datetime) -> CheckIn | None:
        """The member's most recent check-in at or after `since`."""
        ...

    async def active_members(self, accounts: Collection[int]) -> dict[int, int]:
        """Messenger account -> member id, for those of `accounts` that are active members."""
        ...

    async def add_many(self, check_ins: Sequence[CheckIn]) -> list[CheckIn]:
        """Record the check-ins (in one statement or a few), in order, with their ids."""
        ...

    async def open_deals(self, pairs: Collection[tuple[int, int]]) -> list[OpenDeal]:
        """The open opportunities of each (owner member id, customer id) pair."""
        ...

    async def assign(self, check_in: CheckIn) -> bool:
        """Set customer, distance and opportunity of a check-in that has no customer yet;
        False (nothing written) if it has one."""
        ...

    async def close_before(self, check_ins: Sequence[CheckIn], since: timedelta) -> None:
        """Check each check-in's member out, at its time, of their visits still open that
        began less than `since` before it (and were recorded before it)."""
        ...

    async def by_message(self, chat_id: int, message_id: int) -> CheckIn | None: ...


class VisitPhotoRepository(Protocol):
    async def add(self, photo: VisitPhoto) -> VisitPhoto: ...
    async def get(self, photo_id: int) -> VisitPhoto | None: ...
    async def attach(self, photo_id: int, check_in_id: int, flags: frozenset[str]) -> None: ...
    async def remove(self, photo_id: int) -> None: ...
    async def on_check_in(self, check_in_id: int) -> list[VisitPhoto]: ...
    async def hashes_elsewhere(self, check_in_id: int | None) -> list[int]:
        """Difference hashes of every photo attached to another check-in."""
        ...


class CustomerSites(Protocol):
    """Customers by where they are: a bounding box on indexed lat/lon."""

    async def within(self, box: BoundingBox) -> list[Customer]: ...
    async def largest_radius_m(self) -> float: ...
    def in_parts(self, size: int) -> AsyncIterator[list[Customer]]:
        """Every customer, `size` at a time."""
        ...

    async def many(self, customer_ids: Collection[int]) -> dict[int, Customer]: ...


class PlanRepository(Protocol):
    async def items(self, member_id: int, day: date) -> list[PlanItem]: ...
    async def items_between(self, member_ids: Collection[int], first: date,
                            last: date) -> list[PlanItem]: ...
    async def item(self, item_id: int) -> PlanItem | None: ...
    async def add_items(self, member_id: int, day: date, items: list[NewItem],
                        now: datetime) -> list[int]:
        """Append to the day's plan, creating it if needed; the new items' ids."""
        ...

    async def update_item(self, item: PlanItem, logged_at: datetime | None = None) -> None: ...
    async def delete_item(self, item_id: int) -> None: ...
    async def recent_customer_ids(self, member_id: int, limit: int) -> list[int]: ...


class WorkLogRepository(Protocol):
    async def exists(self, member_id: int, day: date) -> bool: ...
    async def touch(self, member_id: int, day: date, now: datetime, *, late: bool) -> int:
        """The day's log id (created if missing); `late` marks it amended after its day."""
        ...

    async def amended_late(self, member_id: int, day: date) -> bool: ...
    async def add_entry(self, log_id: int, text: str, customer_id: int | None, *, late: bool,
                        now: datetime) -> int: ...
    async def entries(self, member_id: int, day: date) -> list[LogEntry]: ...


class CheckInFacts(Protocol):
    """The check-ins the schedule reads to verify planned visits."""

    async def visits(self, member_ids: Collection[int], first: date, last: date,
                     zone: ZoneInfo) -> list[Visit]:
        """Check-ins of `member_ids` on local days `first`..`last` in `zone`."""
        ...


class CalendarFacts(Protocol):
    """The schedule's tables as the calendar and the team view read them (and the rating)."""

    async def plan_days(self, member_ids: Collection[int], first: date,
                        last: date) -> set[tuple[int, date]]:
        """(member, day) pairs that have a plan between first and last."""
        ...

    async def plan_items(self, member_ids: Collection[int], first: date,
                         last: date) -> list[PlanItemFact]: ...
    async def logs(self, member_ids: Collection[int], first: date, last: date) -> list[LogFact]: ...
    async def log_entries(self, log_id: int) -> list[LogEntryFact]: ...
    async def check_ins(self, member_ids: Collection[int], start: datetime,
                        end: datetime) -> list[CheckInFact]:
        """Check-ins received in [start, end), oldest first, with their photo counts."""
        ...

    async def photos(self, member_id: int, start: datetime, end: datetime) -> list[PhotoFact]:
        """Photos of the member's check-ins in [start, end) (or sent then without one)."""
        ...

    async def rate(self, log_id: int, rating: int, comment: str | None, by: int,
                   at: datetime) -> None: ...
