"""Statistics and exports of expense claims: sums from the kept totals, rows streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import tzinfo
from decimal import Decimal

from sqlalchemy import String, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.domain.expenses.budgets import Budget, OverrunPolicy, UnitKind
from core.domain.expenses.stats import (
    Breakdowns,
    ClaimScope,
    Dimension,
    ExportRow,
    opportunity_label,
    overlapping_labels,
)
from core.domain.period import Period
from storage import expense_totals
from storage.tables import (
    BudgetRow,
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


def _period_start(label) -> object:
    """A budget's period label ("2026", "2026-Q4", "2026-11") as the month it starts
    ("2026-01", "2026-10", "2026-11"), text that sorts as the dates do."""
    quarter = _substr(label, 7, 1)
    return case(
        (func.length(label) == 4, label + literal("-01")),
        (_substr(label, 6, 1) == "Q",
         _substr(label, 1, 5) + case((quarter == "1", "01"), (quarter == "2", "04"),
                                    (quarter == "3", "07"), else_="10")),
        else_=label)


def _substr(text, start: int, length: int) -> object:
    return func.substr(text, start, length, type_=String)


class SqlExpenseStats:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def breakdowns(self, scope: ClaimScope, top: int | None = None) -> Breakdowns:
        if scope.empty:
            return Breakdowns({by: [] for by in Dimension}, {})
        return await expense_totals.breakdowns(self.session, scope, top)

    async def budgets(self, scope: ClaimScope,
                      limit: int | None = None) -> tuple[list[Budget], int]:
        if scope.empty:
            return [], 0
        conditions = [BudgetRow.period.in_(sorted(overlapping_labels(scope.period)))]
        if scope.department_ids is not None:
            seen = scope.department_ids
            conditions.append(or_(
                and_(BudgetRow.unit_kind == UnitKind.DEPARTMENT.value,
                     one_of(BudgetRow.unit_id, seen)),
                and_(BudgetRow.unit_kind == UnitKind.PROJECT.value, BudgetRow.unit_id.in_(
                    select(ProjectRow.id).where(one_of(ProjectRow.department_id, seen)))),
                and_(BudgetRow.unit_kind == UnitKind.MEMBER.value, BudgetRow.unit_id.in_(
                    select(MemberRow.id).where(one_of(MemberRow.department_id, seen))))))
        listed = (select(BudgetRow.id, BudgetRow.unit_kind, BudgetRow.unit_id,
                         BudgetRow.category, BudgetRow.period, BudgetRow.amount,
                         BudgetRow.policy, func.count().over().label("budgets"))
                  .where(*conditions)
                  .order_by(_period_start(BudgetRow.period), BudgetRow.unit_kind,
                            BudgetRow.unit_id, BudgetRow.category, BudgetRow.period)
                  .limit(limit))
        rows = (await self.session.execute(listed)).all()
        if not rows:
            return [], 0
        return [Budget(row.id, UnitKind(row.unit_kind), row.unit_id, row.category or None,
                       Period.parse(row.period), row.amount, OverrunPolicy(row.policy))
                for row in rows], rows[0].budgets

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
