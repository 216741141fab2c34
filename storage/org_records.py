"""The org file's sections written in bulk: many rows per statement, ids read back by key."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.expenses.budgets import Budget, UnitKind
from core.domain.opportunities.goals import Goal, Metric
from core.domain.org.model import Customer, Department, Member, Project
from core.domain.period import Period
from storage.repositories import _member_values
from storage.tables import (
    BudgetRow,
    CustomerRow,
    DepartmentRow,
    GoalRow,
    InviteRow,
    MemberRoleRow,
    MemberRow,
    ProjectMemberRow,
    ProjectRow,
)
from storage.value_lists import one_of

# What an import says about a member; the rest (joined, reachable, reminders, quiet hours)
# is the member's own and may change while the import runs.
_LISTED = ("key", "name", "department_id", "username", "language", "active")
# Column names by attribute (members.telegram_id is the member's account_id).
_COLUMN_NAMES = {prop.key: prop.columns[0].name for prop in sa_inspect(MemberRow).column_attrs}


def _by_id(table, names) -> object:
    """An UPDATE of `names` (columns of `table`) by id, for executemany with parameters
    named `row_id` and `to_<name>`."""
    return update(table).where(table.c.id == bindparam("row_id")).values(
        {name: bindparam(f"to_{name}") for name in names})


def _to(values: dict) -> dict:
    return {f"to_{name}": value for name, value in values.items()}


class SqlOrgRecords:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, table):
        dialect = self.session.bind.dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)

    async def _ids(self, row_class, keys: Sequence[str]) -> dict[str, int]:
        found = await self.session.execute(
            select(row_class.key, row_class.id).where(one_of(row_class.key, keys)))
        return {key: id_ for key, id_ in found}

    async def goals(self) -> list[Goal]:
        rows = await self.session.execute(select(
            GoalRow.id, GoalRow.unit_kind, GoalRow.unit_id, GoalRow.metric, GoalRow.period,
            GoalRow.target, GoalRow.set_by, GoalRow.set_at).order_by(GoalRow.id))
        # Thousands of goals share a handful of periods.
        period = cache(Period.parse)
        return [Goal(r.id, UnitKind(r.unit_kind), r.unit_id, Metric(r.metric), period(r.period),
                     r.target, r.set_by, r.set_at) for r in rows]

    async def invited_members(self) -> set[int]:
        return set(await self.session.scalars(
            select(InviteRow.used_by).where(InviteRow.used_by.is_not(None)).distinct()))

    async def add_departments(self, departments: Sequence[Department]) -> dict[str, int]:
        if not departments:
            return {}
        await self.session.execute(insert(DepartmentRow.__table__), [
            {"key": d.key, "name": d.name, "parent_id": d.parent_id,
             "manager_id": d.manager_id} for d in departments])
        return await self._ids(DepartmentRow, [d.key for d in departments])

    async def update_departments(self, departments: Sequence[Department]) -> None:
        if departments:
            await self.session.execute(
                _by_id(DepartmentRow.__table__, ("key", "name", "parent_id", "manager_id")), [
                    {"row_id": d.id, **_to({"key": d.key, "name": d.name,
                                            "parent_id": d.parent_id,
                                            "manager_id": d.manager_id})}
                    for d in departments])

    async def add_members(self, members: Sequence[Member]) -> dict[str, int]:
        if not members:
            return {}
        await self.session.execute(insert(MemberRow.__table__), [
            {_COLUMN_NAMES[name]: value for name, value in _member_values(m).items()}
            for m in members])
        ids = await self._ids(MemberRow, [m.key for m in members])
        await self._set_roles([(ids[m.key], m) for m in members], fresh=True)
        return ids

    async def update_members(self, members: Sequence[Member]) -> None:
        if not members:
            return
        await self.session.execute(_by_id(MemberRow.__table__, _LISTED), [
            {"row_id": m.id, **_to({name: getattr(m, name) for name in _LISTED})}
            for m in members])
        await self._set_roles([(m.id, m) for m in members], fresh=False)

    async def _set_roles(self, members: list[tuple[int, Member]], *, fresh: bool) -> None:
        if not fresh:
            await self.session.execute(delete(MemberRoleRow).where(
                one_of(MemberRoleRow.member_id, [member_id for member_id, _ in members])))
        roles = [{"member_id": member_id, "role": str(role)}
                 for member_id, member in members for role in sorted(member.roles)]
        if roles:
            await self.session.execute(insert(MemberRoleRow.__table__), roles)

    async def move_accounts(self, accounts: Sequence[tuple[int, int | None]]) -> None:
        if not accounts:
            return
        # Let go first: an account may pass from one member to another in the same batch.
        await self.session.execute(update(MemberRow).where(
            one_of(MemberRow.id, [member_id for member_id, _ in accounts]))
            .values(account_id=None))
        taken = [{"row_id": member_id, **_to({_COLUMN_NAMES["account_id"]: account})}
                 for member_id, account in accounts if account is not None]
        if taken:
            await self.session.execute(
                _by_id(MemberRow.__table__, [_COLUMN_NAMES["account_id"]]), taken)

    async def add_projects(self, projects: Sequence[Project]) -> dict[str, int]:
        if not projects:
            return {}
        await self.session.execute(insert(ProjectRow.__table__), [
            {"key": p.key, "name": p.name, "department_id": p.department_id,
             "active": p.active} for p in projects])
        ids = await self._ids(ProjectRow, [p.key for p in projects])
        await self._set_project_members([(ids[p.key], p) for p in projects], fresh=True)
        return ids

    async def update_projects(self, projects: Sequence[Project]) -> None:
        if not projects:
            return
        await self.session.execute(
            _by_id(ProjectRow.__table__, ("key", "name", "department_id", "active")), [
                {"row_id": p.id, **_to({"key": p.key, "name": p.name,
                                        "department_id": p.department_id, "active": p.active})}
                for p in projects])
        await self._set_project_members([(p.id, p) for p in projects], fresh=False)

    async def _set_project_members(self, projects: list[tuple[int, Project]], *,
                                   fresh: bool) -> None:
        if not fresh:
            await self.session.execute(delete(ProjectMemberRow).where(
                one_of(ProjectMemberRow.project_id, [project_id for project_id, _ in projects])))
        rows = [{"project_id": project_id, "member_id": member_id}
                for project_id, project in projects for member_id in sorted(project.member_ids)]
        if rows:
            await self.session.execute(insert(ProjectMemberRow.__table__), rows)

    async def put_customers(self, customers: Sequence[Customer]) -> None:
        if not customers:
            return
        statement = self._insert(CustomerRow.__table__)
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=[CustomerRow.key],
            set_={name: statement.excluded[name]
                  for name in ("name", "address", "lat", "lon", "radius_m")}), [
            {"key": c.key, "name": c.name, "address": c.address, "lat": c.lat, "lon": c.lon,
             "radius_m": c.radius_m} for c in customers])

    async def put_budgets(self, budgets: Sequence[Budget]) -> None:
        if not budgets:
            return
        statement = self._insert(BudgetRow.__table__)
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=[BudgetRow.unit_kind, BudgetRow.unit_id, BudgetRow.category,
                            BudgetRow.period],
            set_={"amount": statement.excluded.amount, "policy": statement.excluded.policy}), [
            {"unit_kind": str(b.unit_kind), "unit_id": b.unit_id, "category": b.category or "",
             "period": b.period.label, "amount": b.amount, "policy": str(b.policy)}
            for b in budgets])

    async def put_goals(self, goals: Sequence[Goal]) -> None:
        if not goals:
            return
        statement = self._insert(GoalRow.__table__)
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=[GoalRow.unit_kind, GoalRow.unit_id, GoalRow.metric, GoalRow.period],
            set_={"target": statement.excluded.target}), [
            {"unit_kind": str(g.unit_kind), "unit_id": g.unit_id, "metric": str(g.metric),
             "period": g.period.label, "target": g.target, "set_by": g.set_by,
             "set_at": g.set_at} for g in goals])
