"""Plans, work logs and how well the plan was carried out."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from core.domain.errors import DomainError
from core.domain.text import clean_text

MAX_ITEM_TEXT = 1000
MAX_DAYS_AHEAD = 90


class ItemOutcome(enum.StrEnum):
    OPEN = "open"  # planned, not logged yet
    DONE = "done"
    NOT_DONE = "not_done"
    MOVED = "moved"


class PlanRefused(DomainError):
    """A plan or item that cannot be accepted: code says why."""

    code = "plan_refused"


def check_plan_day(day: date, today: date) -> None:
    """Plans are for today or later, at most 90 days ahead."""
    if day < today:
        raise PlanRefused("plan_in_past", day=day)
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise PlanRefused("plan_too_far", day=day, limit=MAX_DAYS_AHEAD)


def check_item_text(text: str) -> str:
    text = clean_text(text).strip()
    if not text:
        raise PlanRefused("item_empty")
    if len(text) > MAX_ITEM_TEXT:
        raise PlanRefused("item_too_long", limit=MAX_ITEM_TEXT, length=len(text))
    return text


@dataclass(frozen=True)
class ItemResult:
    """One plan item as the log left it."""

    outcome: ItemOutcome
    verified: bool = False  # done, with a matching check-in at the planned customer


@dataclass(frozen=True)
class Execution:
    """Plan vs log over one day or many: planned items done, and done with proof."""

    planned: int
    done: int
    verified: int

    @property
    def rate(self) -> Fraction | None:
        return Fraction(self.done, self.planned) if self.planned else None

    @property
    def verified_rate(self) -> Fraction | None:
        return Fraction(self.verified, self.planned) if self.planned else None

    def __add__(self, other: Execution) -> Execution:
        return Execution(self.planned + other.planned, self.done + other.done,
                         self.verified + other.verified)


NOTHING_PLANNED = Execution(0, 0, 0)


def plan_vs_log(items: Iterable[ItemResult]) -> Execution:
    """Moved items count as planned and not done on the day they were planned for."""
    planned = done = verified = 0
    for item in items:
        planned += 1
        if item.outcome is ItemOutcome.DONE:
            done += 1
            verified += item.verified
    return Execution(planned, done, verified)


def percent(rate: Fraction | None) -> str:
    """'83%' (rounded half up), or '—' when nothing was planned."""
    if rate is None:
        return "—"
    return f"{int(rate * 100 + Fraction(1, 2))}%"
