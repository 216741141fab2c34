"""Budgets per accounting unit, category and period (enforced by the expenses module)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
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
