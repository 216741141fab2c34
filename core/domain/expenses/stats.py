"""Expense statistics: which claims count, how sums are grouped, and the periods to pick."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.domain.expenses.budgets import Budget
from core.domain.expenses.claims import ClaimStatus
from core.domain.period import Period

ZERO = Decimal("0.00")
NO_VALUE = "—"  # no opportunity (or unit, or category) on the claim


class StatusFilter(enum.StrEnum):
    """Which claims a statistic adds up (the value is what buttons carry)."""

    COMMITTED = "c"  # approved + pending: what budgets count
    APPROVED = "a"
    PENDING = "p"
    REJECTED = "r"

    @property
    def statuses(self) -> frozenset[ClaimStatus]:
        return _STATUSES[self]


_STATUSES = {
    StatusFilter.COMMITTED: frozenset({ClaimStatus.APPROVED, ClaimStatus.PENDING}),
    StatusFilter.APPROVED: frozenset({ClaimStatus.APPROVED}),
    StatusFilter.PENDING: frozenset({ClaimStatus.PENDING}),
    StatusFilter.REJECTED: frozenset({ClaimStatus.REJECTED}),
}


class Dimension(enum.StrEnum):
    """What a breakdown groups by."""

    CATEGORY = "category"
    UNIT = "unit"  # the accounting unit: (unit kind, unit id)
    MEMBER = "member"
    OPPORTUNITY = "opportunity"
    STAGE = "stage"  # the stage the claim's opportunity was in at the end of its date


# The breakdowns with a group per person, deal or unit: grown with the organisation, ranked
# largest first, and shown as their largest lines and the rest summed.
RANKED = (Dimension.UNIT, Dimension.MEMBER, Dimension.OPPORTUNITY)


@dataclass(frozen=True)
class ClaimScope:
    """The claims a statistic or an export covers: spent in the period, in these statuses,
    claimed from these departments (None: every department, as finance sees it)."""

    period: Period
    statuses: frozenset[ClaimStatus]
    department_ids: frozenset[int] | None = None

    @property
    def empty(self) -> bool:
        """Nothing can match: a scope limited to no department at all."""
        return self.department_ids is not None and not self.department_ids


@dataclass(frozen=True)
class GroupSum:
    """One group of a breakdown as the database summed it (the key as stored)."""

    key: object
    amount: Decimal
    count: int


@dataclass(frozen=True)
class Breakdowns:
    """Every breakdown's groups as summed; a breakdown cut to its largest groups has the
    others summed in `left_out` (its key: how many groups they are)."""

    groups: dict[Dimension, list[GroupSum]]
    left_out: dict[Dimension, GroupSum]


@dataclass(frozen=True)
class Line:
    """One row of a breakdown, named for people."""

    label: str
    amount: Decimal
    count: int
    kind: str = ""  # an accounting unit's kind: department, project or member


@dataclass(frozen=True)
class BudgetLine:
    """A budget against what is committed to it (approved + pending in its own period)."""

    budget: Budget
    unit: str
    used: Decimal
    category: str | None = None  # the category's name; None: every category

    @property
    def remaining(self) -> Decimal:
        return self.budget.amount - self.used

    @property
    def percent(self) -> int | None:
        if not self.budget.amount:
            return None
        return int(self.used * 100 / self.budget.amount)


def total(lines: Sequence[Line]) -> Line:
    return Line("", sum((line.amount for line in lines), ZERO), sum(line.count for line in lines))


def ranked(lines: Sequence[Line]) -> list[Line]:
    """Largest first; equal amounts by name, so the order never depends on the database."""
    return sorted(lines, key=lambda line: (-line.amount, line.label.casefold(), line.label))


def head(lines: Sequence[Line], limit: int,
         left_out: Line | None = None) -> tuple[list[Line], Line | None]:
    """The first `limit` lines and the rest summed into one (None when nothing is left);
    `left_out`: lines already summed after `lines`, as a cut breakdown has them."""
    if left_out is None and len(lines) <= limit:
        return list(lines), None
    return list(lines[:limit - 1]), _rest(lines[limit - 1:], left_out)


def cut(lines: Sequence[Line], top: int | None,
        left_out: Line | None = None) -> tuple[list[Line], Line | None]:
    """The first `top` lines (all without a top) and the others summed into one, with the
    lines already summed (`left_out`)."""
    if top is None or len(lines) <= top:
        return list(lines), left_out
    return list(lines[:top]), _rest(lines[top:], left_out)


def _rest(lines: Sequence[Line], left_out: Line | None) -> Line:
    """Lines summed into one labelled with how many they are."""
    amount, count = _sums(lines)
    if left_out is None:
        return Line(str(len(lines)), amount, count)
    return Line(str(len(lines) + int(left_out.label)), amount + left_out.amount,
                count + left_out.count)


def _sums(lines: Sequence[Line]) -> tuple[Decimal, int]:
    summed = total(lines)
    return summed.amount, summed.count


def opportunity_label(opportunity_id: int | None, customer: str | None = None,
                      title: str | None = None) -> str:
    """"Harbor Logistics · Cold-chain fleet"; "—" without an opportunity, "#id" for one
    that no longer exists."""
    if opportunity_id is None:
        return NO_VALUE
    if title is None:
        return f"#{opportunity_id}"
    return " · ".join(part for part in (customer, title) if part)


def period_choices(today: date) -> dict[str, Period]:
    """The periods the buttons offer, as the team's calendar has them today."""
    last_month = date(today.year - 1, 12, 1) if today.month == 1 else date(
        today.year, today.month - 1, 1)
    return {
        "this_month": Period.parse(f"{today:%Y-%m}"),
        "last_month": Period.parse(f"{last_month:%Y-%m}"),
        "this_quarter": Period.parse(f"{today.year}-Q{(today.month - 1) // 3 + 1}"),
        "this_year": Period.parse(str(today.year)),
    }


def overlaps(budget: Budget, period: Period) -> bool:
    return budget.period.start < period.end and period.start < budget.period.end


def overlapping_labels(period: Period) -> set[str]:
    """Every month, quarter and year that overlaps the period, by its label: the periods a
    budget may have and still overlap it."""
    labels = set()
    day = period.start
    while day < period.end:
        labels |= {f"{day:%Y-%m}", f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}",
                   f"{day.year:04d}"}
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return labels


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One claim as the export lists it (times in UTC; names as they are now)."""

    number: str | None
    spent_on: date
    member: str
    department: str
    category: str | None
    unit_kind: str | None
    unit: str | None
    amount: Decimal
    currency: str
    status: str
    submitted_at: datetime | None
    decided_at: datetime | None
    posted_at: datetime | None
    ledger_ref: str | None
    description: str
    opportunity: str | None  # "customer · title"
