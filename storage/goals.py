"""Goals, the facts their progress is measured by, and the deals due for a follow-up.

Progress is read from what the other modules keep: check-ins, opportunities with their
stage history, and expense claims. Each sum is one query bounded by the period.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.claims import ClaimStatus
from core.domain.opportunities.goals import Goal, Metric
from core.domain.opportunities.pipeline import Opportunity
from core.domain.period import Period
from core.domain.schedule.checkins import parse_flags, proves_visit
from storage.tables import (
    CheckInRow,
    ClaimRow,
    CustomerRow,
    GoalRow,
    OpportunityRow,
    OpportunityStageRow,
)
from storage.value_lists import one_of

ZERO = Decimal("0.00")


def _goal(row: GoalRow) -> Goal:
    return Goal(row.id, UnitKind(row.unit_kind), row.unit_id, Metric(row.metric),
                Period.parse(row.period), row.target, row.set_by, row.set_at)


def _whose(owner_column, department_column, member_id: int | None,
           department_ids: Collection[int] | None) -> list:
    """One member's records, or those of a set of departments."""
    if member_id is not None:
        return [owner_column == member_id]
    return [one_of(department_column, department_ids or ())]


class SqlGoalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, unit_kind: UnitKind, unit_id: int, metric: Metric,
                   period_label: str) -> Goal | None:
        row = await self.session.scalar(select(GoalRow).where(
            GoalRow.unit_kind == str(unit_kind), GoalRow.unit_id == unit_id,
            GoalRow.metric == str(metric), GoalRow.period == period_label))
        return None if row is None else _goal(row)

    async def add(self, goal: Goal) -> Goal:
        row = GoalRow(unit_kind=str(goal.unit_kind), unit_id=goal.unit_id,
                      metric=str(goal.metric), period=goal.period.label, target=goal.target,
                      set_by=goal.set_by, set_at=goal.set_at)
        self.session.add(row)
        await self.session.flush()
        return _goal(row)

    async def update(self, goal: Goal) -> None:
        await self.session.execute(update(GoalRow).where(GoalRow.id == goal.id).values(
            target=goal.target, set_by=goal.set_by, set_at=goal.set_at))

    async def in_periods(self, labels: Collection[str]) -> list[Goal]:
        rows = await self.session.scalars(
            select(GoalRow).where(GoalRow.period.in_(sorted(labels))).order_by(GoalRow.id))
        return [_goal(row) for row in rows]

    async def verified_visits(self, member_ids: Collection[int], start: datetime,
                              end: datetime) -> int:
        """Check-ins in [start, end) that prove a visit. Those at a customer come back grouped
        by their flags (there are few distinct combinations), with one of their customers,
        and the check-in domain decides which of them prove."""
        rows = await self.session.execute(
            select(CheckInRow.flags, func.max(CheckInRow.customer_id), func.count())
            .where(one_of(CheckInRow.member_id, member_ids), CheckInRow.customer_id.is_not(None),
                   CheckInRow.at >= start, CheckInRow.at < end)
            .group_by(CheckInRow.flags))
        return sum(count for flags, customer_id, count in rows
                   if proves_visit(customer_id, parse_flags(flags)))

    async def opportunities_created(self, member_id: int | None,
                                    department_ids: Collection[int] | None,
                                    start: datetime, end: datetime) -> int:
        return int(await self.session.scalar(
            select(func.count()).select_from(OpportunityRow).where(
                *_whose(OpportunityRow.owner_id, OpportunityRow.department_id, member_id,
                        department_ids),
                OpportunityRow.created_at >= start, OpportunityRow.created_at < end)) or 0)

    async def won_amount(self, member_id: int | None, department_ids: Collection[int] | None,
                         won_stage: str, start: datetime, end: datetime) -> Decimal:
        """The amount of the opportunities moved to the won stage in [start, end) that were
        still won at `end` (a deal won twice counts once; one reopened since, not at all)."""
        won_ids = (select(OpportunityStageRow.opportunity_id)
                   .join(OpportunityRow, OpportunityRow.id == OpportunityStageRow.opportunity_id)
                   .where(OpportunityStageRow.to_stage == won_stage,
                          OpportunityStageRow.at >= start, OpportunityStageRow.at < end,
                          *_whose(OpportunityRow.owner_id, OpportunityRow.department_id,
                                  member_id, department_ids)))
        latest: dict[int, tuple[datetime, int, str]] = {}
        rows = await self.session.execute(
            select(OpportunityStageRow.opportunity_id, OpportunityStageRow.at,
                   OpportunityStageRow.id, OpportunityStageRow.to_stage)
            .where(OpportunityStageRow.opportunity_id.in_(won_ids),
                   OpportunityStageRow.at < end))
        for opportunity_id, at, change_id, to_stage in rows:
            if opportunity_id not in latest or (at, change_id) > latest[opportunity_id][:2]:
                latest[opportunity_id] = (at, change_id, to_stage)
        still_won = sorted(i for i, (_, _, stage) in latest.items() if stage == won_stage)
        total = await self.session.scalar(
            select(func.coalesce(func.sum(OpportunityRow.amount), 0))
            .where(one_of(OpportunityRow.id, still_won))) or ZERO
        return Decimal(total).quantize(Decimal("0.01"))

    async def approved_expenses(self, member_id: int | None,
                                department_ids: Collection[int] | None, start: date,
                                end: date) -> Decimal:
        """Approved claims spent in [start, end): what budgets and /stats count by day."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(ClaimRow.amount), 0)).where(
                *_whose(ClaimRow.member_id, ClaimRow.department_id, member_id, department_ids),
                ClaimRow.status == ClaimStatus.APPROVED.value,
                ClaimRow.spent_on >= start, ClaimRow.spent_on < end))
        return Decimal(total or 0).quantize(Decimal("0.01"))

    async def due_for_follow_up(self, close_by: date, idle_before: datetime) -> list[Opportunity]:
        """Open opportunities expected to close by `close_by`, or untouched since before
        `idle_before` (last activity, or creation when nothing happened since)."""
        last = func.coalesce(OpportunityRow.last_activity_at, OpportunityRow.created_at)
        rows = await self.session.execute(
            select(OpportunityRow, CustomerRow.name)
            .join(CustomerRow, CustomerRow.id == OpportunityRow.customer_id)
            .where(OpportunityRow.closed_at.is_(None),
                   or_(OpportunityRow.expected_close <= close_by,
                       last < idle_before))
            .order_by(OpportunityRow.owner_id, OpportunityRow.expected_close, OpportunityRow.id))
        return [_deal(row, name) for row, name in rows]


def _deal(row: OpportunityRow, customer_name: str) -> Opportunity:
    return Opportunity(
        id=row.id, owner_id=row.owner_id, department_id=row.department_id,
        customer_id=row.customer_id, title=row.title, amount=row.amount, currency=row.currency,
        stage=row.stage, probability=row.probability, expected_close=row.expected_close,
        created_at=row.created_at, updated_at=row.updated_at, closed_at=row.closed_at,
        lost_reason=row.lost_reason, last_activity_at=row.last_activity_at,
        version=row.version, customer_name=customer_name or "")
