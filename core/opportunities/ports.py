"""What the opportunities module needs from storage."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Protocol

from core.domain.expenses.budgets import UnitKind
from core.domain.opportunities.goals import Goal, Metric
from core.domain.opportunities.pipeline import (
    CardFacts,
    Note,
    Opportunity,
    OpportunityScope,
    StageChange,
    StageStays,
    StageSum,
)
from core.domain.schedule.calendar import (
    PhotoFact,
)


class OpportunityRepository(Protocol):
    """Open means not closed (closed_at unset); updates are conditional on version and stage."""

    async def add(self, opportunity: Opportunity, changed_by: int) -> Opportunity:
        """Insert it with its first stage change (from nothing, at created_at)."""
        ...

    async def get(self, opportunity_id: int) -> Opportunity | None: ...
    async def update(self, opportunity: Opportunity, *, version: int, stage: str) -> bool:
        """False when it is no longer at `version` in `stage` (someone was first)."""
        ...

    async def touch(self, opportunity_id: int, at: datetime) -> None: ...
    async def listed(self, scope: OpportunityScope, *, today: date,
                     stages: Collection[str] | None = None, search: str | None = None,
                     offset: int = 0, limit: int = 20) -> list[Opportunity]:
        """Overdue open ones first, then by expected close; search in title and customer."""
        ...

    async def count_listed(self, scope: OpportunityScope, *,
                           stages: Collection[str] | None = None,
                           search: str | None = None) -> int: ...
    async def open_for(self, member_id: int) -> list[Opportunity]: ...
    async def find_duplicate(self, customer_id: int, title: str) -> Opportunity | None: ...
    async def add_change(self, change: StageChange, *, day: date | None) -> StageChange:
        """Keep the move; claims of the deal spent on `day` (the move's local date) or later
        now count under its new stage (None: a new deal, which has no claims)."""
        ...
    async def history(self, opportunity_id: int,
                      limit: int | None = None) -> list[StageChange]: ...
    async def stages_on(self, pairs: Collection[tuple[int, date]],
                        zone: tzinfo) -> dict[tuple[int, date], str | None]:
        """The stage of each (opportunity, local day) at the day's end, in one read."""
        ...

    async def add_note(self, note: Note) -> Note: ...
    async def notes(self, opportunity_id: int, limit: int | None = None) -> list[Note]: ...
    async def open_sums(self, scope: OpportunityScope) -> list[tuple[int, StageSum]]:
        """(owner id, sums) per owner and stage of the open ones."""
        ...

    async def closed_sums(self, scope: OpportunityScope, start: datetime,
                          end: datetime) -> list[StageSum]:
        """Sums per stage of those closed (won or lost) in [start, end)."""
        ...

    async def stays_ending_between(self, scope: OpportunityScope, start: datetime,
                                   end: datetime) -> list[StageStays]:
        """Per stage, the stays that ended in [start, end): count and total seconds."""
        ...

    async def card_facts(self, opportunity: Opportunity, zone: tzinfo, limit: int, *,
                         money: bool) -> CardFacts:
        """In one read: each timeline source's newest `limit` entries (stage changes, notes,
        plan items, log entries, check-ins linked to the deal and its owner's at its
        customer while it was open, claims), their authors' names, the claim totals (if
        `money`) and the photo count of those check-ins."""
        ...

    async def photos(self, opportunity: Opportunity, limit: int) -> list[PhotoFact]: ...


class GoalRepository(Protocol):
    async def find(self, unit_kind: UnitKind, unit_id: int, metric: Metric,
                   period_label: str) -> Goal | None: ...
    async def add(self, goal: Goal) -> Goal: ...
    async def update(self, goal: Goal) -> None: ...
    async def in_periods(self, labels: Collection[str]) -> list[Goal]: ...
    async def verified_visits(self, member_ids: Collection[int], start: datetime,
                              end: datetime) -> int: ...
    async def opportunities_created(self, member_id: int | None,
                                    department_ids: Collection[int] | None,
                                    start: datetime, end: datetime) -> int: ...
    async def won_amount(self, member_id: int | None, department_ids: Collection[int] | None,
                         won_stage: str, start: datetime, end: datetime) -> Decimal:
        """Opportunities moved to the won stage in [start, end) and still won at `end`."""
        ...

    async def approved_expenses(self, member_id: int | None,
                                department_ids: Collection[int] | None, start: date,
                                end: date) -> Decimal: ...
    async def due_for_follow_up(self, close_by: date,
                                idle_before: datetime) -> list[Opportunity]:
        """Open ones closing by `close_by` or without activity since before `idle_before`."""
        ...
