"""Plan items and work-log entries as the rep sees them, and who may change them when."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from core.domain.errors import NotAllowed
from core.domain.schedule.calendar import Month, month_range
from core.domain.schedule.checkins import TrustFlag, proves_visit
from core.domain.schedule.execution import ItemOutcome, ItemResult, PlanRefused, check_plan_day

MAX_ITEMS = 30  # a day's plan; more is a list, not a plan
_CLOCK = re.compile(r"([01]?\d|2[0-3])[:：.]([0-5]\d)")


@dataclass(frozen=True)
class NewItem:
    """A plan item before it is stored."""

    text: str
    customer_id: int | None = None
    at_time: str | None = None  # HH:MM in the team's zone
    opportunity_id: int | None = None


@dataclass(frozen=True)
class PlanItem:
    id: int
    member_id: int
    day: date
    position: int
    text: str
    customer_id: int | None = None
    customer_name: str | None = None
    at_time: str | None = None
    outcome: ItemOutcome = ItemOutcome.OPEN
    moved_to: date | None = None
    note: str | None = None
    verified_check_in_id: int | None = None
    logged_late: bool = False
    opportunity_id: int | None = None


@dataclass(frozen=True)
class LogEntry:
    """Unplanned work written into a day's log."""

    id: int
    text: str
    customer_id: int | None = None
    late: bool = False


@dataclass(frozen=True)
class Visit:
    """A check-in as the schedule sees it: who, which local day, where, how trusted."""

    id: int
    member_id: int
    day: date
    customer_id: int | None
    flags: frozenset[TrustFlag]

    @property
    def proves_visit(self) -> bool:
        return proves_visit(self.customer_id, self.flags)


def parse_time(text: str) -> str:
    """'9:30', '09.30' or '９：３０' -> '09:30'; PlanRefused('time_format') otherwise."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise PlanRefused("time_format")
    return f"{int(match[1]):02d}:{match[2]}"


def check_item_count(count: int) -> None:
    if count >= MAX_ITEMS:
        raise PlanRefused("too_many_items", limit=MAX_ITEMS)


def check_owner(item: PlanItem, member_id: int) -> None:
    """Only the rep whose plan it is marks, edits or deletes its items."""
    if item.member_id != member_id:
        raise NotAllowed("not_your_plan")


def check_editable(item: PlanItem, member_id: int, today: date) -> None:
    """Edit or delete: the owner, before the day is over, while nothing was logged for it.

    Afterwards the plan is the record the log and the execution rate are measured against.
    """
    check_owner(item, member_id)
    if item.day < today:
        raise PlanRefused("plan_day_over")
    if item.outcome is not ItemOutcome.OPEN:
        raise PlanRefused("item_logged")


def check_log_day(day: date, today: date) -> None:
    """A log tells what happened: not for days still to come, nor for days before the
    calendar's first month."""
    if day > today:
        raise PlanRefused("log_in_future")
    if Month.of(day) < month_range(today)[0]:
        raise PlanRefused("day_out_of_range")


def check_move(item: PlanItem, target: date, today: date) -> None:
    """Moved to a later day, one a plan may be written for."""
    if target <= item.day:
        raise PlanRefused("move_not_later")
    check_plan_day(target, today)


def item_result(item: PlanItem, visits: set[tuple[int, date, int]]) -> ItemResult:
    """Done and proven: a check-in without doubtful flags at the item's customer that day."""
    verified = item.outcome is ItemOutcome.DONE and item.customer_id is not None and (
        item.verified_check_in_id is not None
        or (item.member_id, item.day, item.customer_id) in visits)
    return ItemResult(item.outcome, verified)
