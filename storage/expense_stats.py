"""Statistics and exports of expense claims: sums grouped by the database, rows streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import Date, and_, func, literal, literal_column, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.domain.budget import Budget, UnitKind
from core.domain.expense_stats import (
    ClaimScope,
    Dimension,
    ExportRow,
    GroupSum,
    opportunity_label,
)
from core.domain.expenses import COMMITTED
from storage.tables import (
    ClaimRow,
    CustomerRow,
    DepartmentRow,
    MemberRow,
    OpportunityRow,
    OpportunityStageRow,
    ProjectRow,
)
from storage.types import UTCDateTime

_GROUPS = {
    Dimension.CATEGORY: (ClaimRow.category,),
    Dimension.UNIT: (ClaimRow.unit_kind, ClaimRow.unit_id),
    Dimension.MEMBER: (ClaimRow.member_id,),
    Dimension.OPPORTUNITY: (ClaimRow.opportunity_id,),
}
# SQLite allows 500 terms in one compound SELECT.
_BUDGETS_PER_QUERY = 200
_DAYS_PER_QUERY = 400  # a year and a bit: the longest period /stats shows
_IDS_PER_QUERY = 1000


def _where(scope: ClaimScope) -> list:
    """The scope as conditions the (spent_on, status) and department indexes can serve."""
    conditions = [ClaimRow.spent_on >= scope.period.start, ClaimRow.spent_on < scope.period.end,
                  ClaimRow.status.in_(sorted(scope.statuses))]
    if scope.department_ids is not None:
        conditions.append(ClaimRow.department_id.in_(sorted(scope.department_ids)))
    return conditions


def _usage(budget: Budget):
    """The committed sum of one budget, labelled with its id."""
    conditions = [ClaimRow.unit_kind == budget.unit_kind.value,
                  ClaimRow.unit_id == budget.unit_id,
                  ClaimRow.spent_on >= budget.period.start,
                  ClaimRow.spent_on < budget.period.end,
                  ClaimRow.status.in_(sorted(COMMITTED))]
    if budget.category:
        conditions.append(ClaimRow.category == budget.category)
    return select(literal_column(str(int(budget.id))).label("budget_id"),
                  func.coalesce(func.sum(ClaimRow.amount), 0).label("used")).where(*conditions)


def day_ends(start: date, end: date, zone: tzinfo) -> list[tuple[date, datetime]]:
    """Each local day of [start, end) with the UTC moment it ends (its next midnight in the
    zone; daylight saving makes some days 23 or 25 hours long)."""
    days = []
    day = start
    while day < end:
        following = day + timedelta(days=1)
        days.append((day, datetime.combine(following, time(), zone)))
        day = following
    return days


def _days(start: date, end: date, zone: tzinfo):
    """The period's days and their ends as a small table the database joins claims to."""
    return union_all(*(select(literal(day, Date).label("day"),
                              literal(ends, UTCDateTime).label("ends"))
                       for day, ends in day_ends(start, end, zone))).subquery("days")


class SqlExpenseStats:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sums(self, scope: ClaimScope, by: Dimension) -> list[GroupSum]:
        if scope.empty:
            return []
        columns = _GROUPS[by]
        rows = await self.session.execute(
            select(*columns, func.sum(ClaimRow.amount), func.count())
            .where(*_where(scope)).group_by(*columns))
        return [GroupSum(tuple(row[:-2]) if len(columns) > 1 else row[0], row[-2], row[-1])
                for row in rows]

    async def breakdowns(self, scope: ClaimScope) -> dict[Dimension, list[GroupSum]]:
        """Every dimension's sums: on PostgreSQL in one pass over the claims (GROUPING SETS),
        elsewhere one GROUP BY each."""
        if scope.empty or self.session.bind.dialect.name != "postgresql":
            return {by: await self.sums(scope, by) for by in Dimension}
        columns = list(dict.fromkeys(c for by in Dimension for c in _GROUPS[by]))
        # GROUPING() has a bit per column, the first the highest, set where a column is not
        # grouped by: which set each row belongs to, even when a key itself is NULL.
        sets = {sum(1 << (len(columns) - 1 - i) for i, c in enumerate(columns)
                    if c not in _GROUPS[by]): by for by in Dimension}
        rows = await self.session.execute(
            select(*columns, func.grouping(*columns), func.sum(ClaimRow.amount), func.count())
            .where(*_where(scope))
            .group_by(func.grouping_sets(*(tuple_(*_GROUPS[by]) for by in Dimension))))
        found: dict[Dimension, list[GroupSum]] = {by: [] for by in Dimension}
        for row in rows:
            by = sets[row[-3]]
            key = tuple(row[columns.index(c)] for c in _GROUPS[by])
            found[by].append(GroupSum(key if len(key) > 1 else key[0], row[-2], row[-1]))
        return found

    async def stage_sums(self, scope: ClaimScope, zone: tzinfo) -> list[GroupSum]:
        """One sum per stage the claims' opportunities were in at the end of each claim's
        day (local to `zone`); claims without an opportunity on that day are left out.

        Claims are first summed per (opportunity, day); each such pair then looks up the
        latest stage change before its day ended through the (opportunity, at) index, once
        (the pairs are materialized with their stage before being grouped by it).
        """
        if scope.empty:
            return []
        start, end = scope.period.start, scope.period.end
        if (end - start).days > _DAYS_PER_QUERY:
            raise ValueError(f"a period of at most {_DAYS_PER_QUERY} days: {scope.period}")
        days = _days(start, end, zone)
        claimed = (select(ClaimRow.opportunity_id, ClaimRow.spent_on,
                          func.sum(ClaimRow.amount).label("amount"),
                          func.count().label("claims"))
                   .where(*_where(scope), ClaimRow.opportunity_id.is_not(None))
                   .group_by(ClaimRow.opportunity_id, ClaimRow.spent_on)
                   .subquery("claimed"))
        moves = OpportunityStageRow
        stage = (select(moves.to_stage)
                 .where(moves.opportunity_id == claimed.c.opportunity_id, moves.at < days.c.ends)
                 .order_by(moves.at.desc(), moves.id.desc())
                 .limit(1)
                 .scalar_subquery())
        staged = (select(stage.label("stage"), claimed.c.amount, claimed.c.claims)
                  .select_from(claimed.join(days, days.c.day == claimed.c.spent_on))
                  .cte("staged").prefix_with("MATERIALIZED"))
        rows = await self.session.execute(
            select(staged.c.stage, func.sum(staged.c.amount), func.sum(staged.c.claims))
            .where(staged.c.stage.is_not(None))
            .group_by(staged.c.stage))
        return [GroupSum(key, amount, int(count)) for key, amount, count in rows]

    async def opportunity_titles(self, ids: Collection[int]) -> dict[int, tuple[str, str]]:
        """(customer name, title) of each opportunity that still exists."""
        wanted = sorted(ids)
        titles: dict[int, tuple[str, str]] = {}
        for first in range(0, len(wanted), _IDS_PER_QUERY):
            rows = await self.session.execute(
                select(OpportunityRow.id, CustomerRow.name, OpportunityRow.title)
                .join(CustomerRow, CustomerRow.id == OpportunityRow.customer_id)
                .where(OpportunityRow.id.in_(wanted[first:first + _IDS_PER_QUERY])))
            titles.update({row_id: (customer, title) for row_id, customer, title in rows})
        return titles

    async def committed(self, budgets: Sequence[Budget]) -> dict[int, Decimal]:
        used: dict[int, Decimal] = {}
        for start in range(0, len(budgets), _BUDGETS_PER_QUERY):
            chunk = budgets[start:start + _BUDGETS_PER_QUERY]
            rows = await self.session.execute(union_all(*(_usage(b) for b in chunk)))
            # A sum of integer cents (the Money type turns it into Decimal): exact everywhere.
            used.update({budget_id: cents for budget_id, cents in rows})
        return used

    async def count(self, scope: ClaimScope) -> int:
        if scope.empty:
            return 0
        return await self.session.scalar(
            select(func.count()).select_from(ClaimRow).where(*_where(scope))) or 0

    async def rows(self, scope: ClaimScope, chunk: int = 2000) -> AsyncIterator[ExportRow]:
        if scope.empty:
            return
        claimant, home = aliased(MemberRow), aliased(DepartmentRow)
        unit_department, unit_member = aliased(DepartmentRow), aliased(MemberRow)
        kind = ClaimRow.unit_kind
        unit = func.coalesce(unit_department.name, ProjectRow.name, unit_member.name)
        statement = (
            select(ClaimRow.number, ClaimRow.spent_on, claimant.name, home.name,
                   ClaimRow.category, ClaimRow.unit_kind, unit, ClaimRow.amount,
                   ClaimRow.currency, ClaimRow.status, ClaimRow.submitted_at,
                   ClaimRow.decided_at, ClaimRow.posted_at, ClaimRow.ledger_ref,
                   ClaimRow.description, ClaimRow.opportunity_id, CustomerRow.name,
                   OpportunityRow.title)
            .join(claimant, claimant.id == ClaimRow.member_id)
            .join(home, home.id == ClaimRow.department_id)
            .outerjoin(unit_department, and_(kind == UnitKind.DEPARTMENT.value,
                                             unit_department.id == ClaimRow.unit_id))
            .outerjoin(ProjectRow, and_(kind == UnitKind.PROJECT.value,
                                        ProjectRow.id == ClaimRow.unit_id))
            .outerjoin(unit_member, and_(kind == UnitKind.MEMBER.value,
                                         unit_member.id == ClaimRow.unit_id))
            .outerjoin(OpportunityRow, OpportunityRow.id == ClaimRow.opportunity_id)
            .outerjoin(CustomerRow, CustomerRow.id == OpportunityRow.customer_id)
            .where(*_where(scope))
            .order_by(ClaimRow.spent_on, ClaimRow.id)
            .execution_options(yield_per=chunk))
        # A server-side cursor on PostgreSQL; chunked fetches on SQLite.
        connection = await self.session.connection()
        result = await connection.stream(statement)
        async for partition in result.partitions():
            for row in partition:
                opportunity = None if row[-3] is None else opportunity_label(*row[-3:])
                yield ExportRow(*row[:-3], opportunity)
