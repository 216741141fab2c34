"""Statistics and exports of expense claims: sums from the kept totals, rows streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import tzinfo
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.domain.expenses.budgets import Budget, UnitKind
from core.domain.expenses.stats import ClaimScope, Dimension, ExportRow, GroupSum, opportunity_label
from storage import expense_totals
from storage.tables import (
    ClaimRow,
    CustomerRow,
    DepartmentRow,
    MemberRow,
    OpportunityRow,
    ProjectRow,
)
from storage.value_lists import one_of


def _where(scope: ClaimScope) -> list:
    """The scope as conditions the (spent_on, status) and department indexes can serve."""
    conditions = [ClaimRow.spent_on >= scope.period.start, ClaimRow.spent_on < scope.period.end,
                  ClaimRow.status.in_(sorted(scope.statuses))]
    if scope.department_ids is not None:
        conditions.append(one_of(ClaimRow.department_id, scope.department_ids))
    return conditions


class SqlExpenseStats:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def breakdowns(self, scope: ClaimScope) -> dict[Dimension, list[GroupSum]]:
        if scope.empty:
            return {by: [] for by in Dimension}
        return await expense_totals.breakdowns(self.session, scope)

    async def opportunity_titles(self, ids: Collection[int]) -> dict[int, tuple[str, str]]:
        """(customer name, title) of each opportunity that still exists."""
        # The customer's name looked up per opportunity: with a join, SQLite's planner may
        # scan every customer and probe the whole id list for each.
        customer = (select(CustomerRow.name).where(CustomerRow.id == OpportunityRow.customer_id)
                    .scalar_subquery())
        rows = await self.session.execute(
            select(OpportunityRow.id, customer, OpportunityRow.title)
            .where(one_of(OpportunityRow.id, ids)))
        return {row_id: (customer, title) for row_id, customer, title in rows}

    async def recount(self, zone: tzinfo) -> None:
        await expense_totals.recount(self.session, zone)

    async def committed(self, budgets: Sequence[Budget]) -> dict[int, Decimal]:
        return await expense_totals.committed(self.session, budgets)

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
