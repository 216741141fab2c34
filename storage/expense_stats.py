"""Statistics and exports of expense claims: sums grouped by the database, rows streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

from sqlalchemy import and_, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.domain.budget import Budget, UnitKind
from core.domain.expense_stats import ClaimScope, Dimension, ExportRow, GroupSum
from core.domain.expenses import COMMITTED
from storage.tables import ClaimRow, DepartmentRow, MemberRow, ProjectRow

_GROUPS = {
    Dimension.CATEGORY: (ClaimRow.category,),
    Dimension.UNIT: (ClaimRow.unit_kind, ClaimRow.unit_id),
    Dimension.MEMBER: (ClaimRow.member_id,),
    Dimension.OPPORTUNITY: (ClaimRow.opportunity_id,),
}
# SQLite allows 500 terms in one compound SELECT.
_BUDGETS_PER_QUERY = 200


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
                   ClaimRow.description, ClaimRow.opportunity_id)
            .join(claimant, claimant.id == ClaimRow.member_id)
            .join(home, home.id == ClaimRow.department_id)
            .outerjoin(unit_department, and_(kind == UnitKind.DEPARTMENT.value,
                                             unit_department.id == ClaimRow.unit_id))
            .outerjoin(ProjectRow, and_(kind == UnitKind.PROJECT.value,
                                        ProjectRow.id == ClaimRow.unit_id))
            .outerjoin(unit_member, and_(kind == UnitKind.MEMBER.value,
                                         unit_member.id == ClaimRow.unit_id))
            .where(*_where(scope))
            .order_by(ClaimRow.spent_on, ClaimRow.id)
            .execution_options(yield_per=chunk))
        # A server-side cursor on PostgreSQL; chunked fetches on SQLite.
        connection = await self.session.connection()
        result = await connection.stream(statement)
        async for partition in result.partitions():
            for row in partition:
                yield ExportRow(*row)
