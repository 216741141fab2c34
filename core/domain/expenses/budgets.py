"""Budgets per accounting unit, category and period (enforced by the expenses module)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.domain.period import Period


class UnitKind(enum.StrEnum):
    DEPARTMENT = "department"
    PROJECT = "project"
    MEMBER = "member"


class OverrunPolicy(enum.StrEnum):
    WARN = "warn"
    BLOCK = "block"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Budget:
    id: int | None
    unit_kind: UnitKind
    unit_id: int
    category: str | None  # None: all categories
    period: Period
    amount: Decimal
    policy: OverrunPolicy = OverrunPolicy.WARN


@dataclass(frozen=True)
class BudgetImpact:
    """A budget a claim is charged against: used before and with the claim."""

    budget: Budget
    used: Decimal  # approved + pending in the period, without this claim
    amount: Decimal  # this claim

    @property
    def after(self) -> Decimal:
        return self.used + self.amount

    @property
    def percent(self) -> int:
        if self.budget.amount == 0:
            return 100 if self.after == 0 else 999
        return int(self.after * 100 / self.budget.amount)

    @property
    def over(self) -> Decimal:
        """By how much the claim would take the budget over its amount (0 if it would not)."""
        return max(Decimal(0), self.after - self.budget.amount)

    @property
    def overrun(self) -> bool:
        return self.over > 0


def budgets_for(budgets: Iterable[Budget], unit_kind: UnitKind, unit_id: int, category: str,
                day: date) -> list[Budget]:
    """The budgets a claim is charged against: its unit, its category or all, its period."""
    return [b for b in budgets
            if b.unit_kind is unit_kind and b.unit_id == unit_id
            and b.category in (None, category) and b.period.contains(day)]


def overrun_policy(impacts: Iterable[BudgetImpact]) -> OverrunPolicy | None:
    """The strictest policy among the budgets the claim would take over (None: none)."""
    policies = {i.budget.policy for i in impacts if i.overrun}
    for policy in (OverrunPolicy.BLOCK, OverrunPolicy.ESCALATE, OverrunPolicy.WARN):
        if policy in policies:
            return policy
    return None


def extra_levels(policy: OverrunPolicy | None) -> int:
    """Approval levels an overrun adds to the route: one more manager for ESCALATE."""
    return 1 if policy is OverrunPolicy.ESCALATE else 0


ALERT_THRESHOLDS = (80, 100)


def thresholds_reached(used: Decimal, limit: Decimal) -> list[int]:
    """Alert thresholds (percent of `limit`) that `used` has reached; each is alerted once."""
    if limit <= 0:
        return list(ALERT_THRESHOLDS) if used > 0 else []
    return [p for p in ALERT_THRESHOLDS if used * 100 >= limit * p]
