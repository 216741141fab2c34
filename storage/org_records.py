"""The org file's sections written in bulk: many rows per statement, ids read back by key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.expenses.budgets import Budget
from core.domain.opportunities.goals import Goal
from core.domain.org.model import Customer, Department, Member, Project
from storage.goals import _goal
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
        return [_goal(row) for row in await self.session.scalars(
            select(GoalRow).order_by(GoalRow.id))]

    async def invited_members(self) -> set[int]:
        return set(await self.session.scalars(
            select(InviteRow.used_by).where(InviteRow.used_by.is_not(None)).distinct()))

    async def add_departments(self, departments: Sequence[Department]) -> dict[str, int]:
        if not departments:
            return {}
        await self.session.execute(insert(DepartmentRow), [
            {"key": d.key, "name": d.name, "parent_id": d.parent_id,
             "manager_id": d.manager_id} for d in departments])
        return await self._ids(DepartmentRow, [d.key for d in departments])

    async def update_departments(self, departments: Sequence[Department]) -> None:
        if departments:
            await self.session.execute(update(DepartmentRow), [
                {"id": d.id, "key": d.key, "name": d.name, "parent_id": d.parent_id,
                 "manager_id": d.manager_id} for d in departments])

    async def add_members(self, members: Sequence[Member]) -> dict[str, int]:
        if not members:
            return {}
        await self.session.execute(insert(MemberRow), [_member_values(m) for m in members])
        ids = await self._ids(MemberRow, [m.key for m in members])
        await self._set_roles([(ids[m.key], m) for m in members], fresh=True)
        return ids

    async def update_members(self, members: Sequence[Member]) -> None:
        if not members:
            return
        await self.session.execute(update(MemberRow), [
            {"id": m.id, **{name: getattr(m, name) for name in _LISTED}} for m in members])
        await self._set_roles([(m.id, m) for m in members], fresh=False)

    async def _set_roles(self, members: list[tuple[int, Member]], *, fresh: bool) -> None:
        if not fresh:
            await self.session.execute(delete(MemberRoleRow).where(
                one_of(MemberRoleRow.member_id, [member_id for member_id, _ in members])))
        roles = [{"member_id": member_id, "role": str(role)}
                 for member_id, member in members for role in sorted(member.roles)]
        if roles:
            await self.session.execute(insert(MemberRoleRow), roles)

    async def move_accounts(self, accounts: Sequence[tuple[int, int | None]]) -> None:
        if not accounts:
            return
        # Let go first: an account may pass from one member to another in the same batch.
        await self.session.execute(update(MemberRow).where(
            one_of(MemberRow.id, [member_id for member_id, _ in accounts]))
            .values(account_id=None))
        taken = [{"id": member_id, "account_id": account} for member_id, account in accounts
                 if account is not None]
        if taken:
            await self.session.execute(update(MemberRow), taken)

    async def add_projects(self, projects: Sequence[Project]) -> dict[str, int]:
        if not projects:
            return {}
        await self.session.execute(insert(ProjectRow), [
            {"key": p.key, "name": p.name, "department_id": p.department_id,
             "active": p.active} for p in projects])
        ids = await self._ids(ProjectRow, [p.key for p in projects])
        await self._set_project_members([(ids[p.key], p) for p in projects], fresh=True)
        return ids

    async def update_projects(self, projects: Sequence[Project]) -> None:
        if not projects:
            return
        await self.session.execute(update(ProjectRow), [
            {"id": p.id, "key": p.key, "name": p.name, "department_id": p.department_id,
             "active": p.active} for p in projects])
        await self._set_project_members([(p.id, p) for p in projects], fresh=False)

    async def _set_project_members(self, projects: list[tuple[int, Project]], *,
                                   fresh: bool) -> None:
        if not fresh:
            await self.session.execute(delete(ProjectMemberRow).where(
                one_of(ProjectMemberRow.project_id, [project_id for project_id, _ in projects])))
        rows = [{"project_id": project_id, "member_id": member_id}
                for project_id, project in projects for member_id in sorted(project.member_ids)]
        if rows:
            await self.session.execute(insert(ProjectMemberRow), rows)

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
