"""Repositories: domain objects in and out, rows stay inside. They never commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from functools import cache

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.audit import RecordChange
from core.domain.expenses.budgets import Budget, OverrunPolicy, UnitKind
from core.domain.inbox.notifications import QuietHours, parse_clock
from core.domain.org.invite import Invite
from core.domain.org.model import Customer, Department, Member, OrgSettings, Project, Role
from core.domain.period import Period
from storage.tables import (
    BudgetRow,
    CustomerRow,
    DepartmentRow,
    InviteRow,
    MemberRoleRow,
    MemberRow,
    OrganizationRow,
    ProjectMemberRow,
    ProjectRow,
    RecordChangeRow,
)
from storage.value_lists import one_of


def _roles(text: str) -> frozenset[Role]:
    return frozenset(Role(r) for r in text.split(",") if r)


def _roles_text(roles: frozenset[Role]) -> str:
    return ",".join(sorted(roles))


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session


_ORG_SETTINGS = select(OrganizationRow.name, OrganizationRow.timezone, OrganizationRow.currency,
                       OrganizationRow.default_language).where(OrganizationRow.id == 1)


class SqlOrganizationRepository(_Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # Read once per unit of work (one update), never kept beyond it.
        self._read: tuple[OrgSettings | None] | None = None

    async def get(self) -> OrgSettings | None:
        if self._read is None:
            row = (await self.session.execute(_ORG_SETTINGS)).first()
            self._read = (None if row is None else OrgSettings(*row),)
        return self._read[0]

    async def put(self, settings: OrgSettings) -> None:
        self._read = None
        row = await self.session.get(OrganizationRow, 1)
        if row is None:
            self.session.add(OrganizationRow(id=1, name=settings.name, timezone=settings.timezone,
                                             currency=settings.currency,
                                             default_language=settings.default_language))
        else:
            row.name, row.timezone = settings.name, settings.timezone
            row.currency, row.default_language = settings.currency, settings.default_language
        await self.session.flush()


def _department(row: DepartmentRow) -> Department:
    return Department(row.id, row.key, row.name, row.parent_id, row.manager_id)


class SqlDepartmentRepository(_Repository):
    async def all(self) -> list[Department]:
        rows = await self.session.scalars(select(DepartmentRow).order_by(DepartmentRow.key))
        return [_department(r) for r in rows]

    async def by_key(self, key: str) -> Department | None:
        row = await self.session.scalar(select(DepartmentRow).where(DepartmentRow.key == key))
        return None if row is None else _department(row)

    async def add(self, department: Department) -> Department:
        row = DepartmentRow(key=department.key, name=department.name,
                            parent_id=department.parent_id, manager_id=department.manager_id)
        self.session.add(row)
        await self.session.flush()
        return _department(row)

    async def update(self, department: Department) -> None:
        await self.session.execute(
            update(DepartmentRow).where(DepartmentRow.id == department.id).values(
                key=department.key, name=department.name, parent_id=department.parent_id,
                manager_id=department.manager_id))


def _quiet(row: MemberRow) -> QuietHours | None:
    if not row.quiet_start or not row.quiet_end:
        return None
    return QuietHours(parse_clock(row.quiet_start), parse_clock(row.quiet_end))


def _member_values(member: Member) -> dict:
    quiet = member.quiet_hours
    return dict(
        key=member.key, name=member.name, department_id=member.department_id,
        account_id=member.account_id, username=member.username, language=member.language,
        active=member.active, joined_at=member.joined_at,
        unreachable_since=member.unreachable_since, reminders_paused=member.reminders_paused,
        quiet_start=quiet.start.strftime("%H:%M") if quiet else None,
        quiet_end=quiet.end.strftime("%H:%M") if quiet else None)


# Labelled by attribute: a column may keep an older name (members.telegram_id).
_MEMBER_COLUMNS = tuple(prop.columns[0].label(prop.key)
                       for prop in sa_inspect(MemberRow).column_attrs)


def _member_row(r, roles: frozenset[Role]) -> Member:
    """A Member from a MemberRow or a row of _MEMBER_COLUMNS."""
    return Member(id=r.id, key=r.key, name=r.name, department_id=r.department_id,
                  roles=roles, account_id=r.account_id,
                  username=r.username, language=r.language, active=r.active,
                  joined_at=r.joined_at, unreachable_since=r.unreachable_since,
                  reminders_paused=r.reminders_paused, quiet_hours=_quiet(r))


class SqlMemberRepository(_Repository):
    async def _load(self, rows: list) -> list[Member]:
        """Members from MemberRows or rows of _MEMBER_COLUMNS, with their roles."""
        if not rows:
            return []
        roles: dict[int, set[Role]] = defaultdict(set)
        found = await self.session.execute(
            select(MemberRoleRow.member_id, MemberRoleRow.role)
            .where(one_of(MemberRoleRow.member_id, [r.id for r in rows])))
        for member_id, role in found:
            roles[member_id].add(Role(role))
        return [_member_row(r, frozenset(roles[r.id])) for r in rows]

    async def _one(self, *where) -> Member | None:
        # The member and their roles in one round trip: a row per role (one with a NULL
        # role when they have none), plain columns rather than ORM objects.
        found = await self.session.execute(
            select(*_MEMBER_COLUMNS, MemberRoleRow.role)
            .outerjoin(MemberRoleRow, MemberRoleRow.member_id == MemberRow.id)
            .where(*where).order_by(MemberRow.id))
        first = None
        roles: set[Role] = set()
        for row in found:
            if first is None:
                first = row
            elif row.id != first.id:
                break
            if row.role is not None:
                roles.add(Role(row.role))
        return None if first is None else _member_row(first, frozenset(roles))

    async def get(self, member_id: int) -> Member | None:
        return await self._one(MemberRow.id == member_id)

    async def by_key(self, key: str) -> Member | None:
        return await self._one(MemberRow.key == key)

    async def by_account_id(self, account_id: int) -> Member | None:
        return await self._one(MemberRow.account_id == account_id)

    async def unclaimed_by_username(self, username: str) -> Member | None:
        return await self._one(
            func.lower(MemberRow.username) == username.lower().lstrip("@"),
            MemberRow.account_id.is_(None), MemberRow.active.is_(True),
        )

    async def all(self) -> list[Member]:
        # Plain columns: an org runs to tens of thousands of members.
        rows = list(await self.session.execute(select(*_MEMBER_COLUMNS).order_by(MemberRow.key)))
        return await self._load(rows)

    async def many(self, member_ids: Collection[int]) -> dict[int, Member]:
        """Members by id, in one query; unknown ids are left out."""
        if not member_ids:
            return {}
        rows = list(await self.session.scalars(
            select(MemberRow).where(one_of(MemberRow.id, member_ids))))
        return {m.id: m for m in await self._load(rows)}

    async def add(self, member: Member) -> Member:
        row = MemberRow(**_member_values(member))
        self.session.add(row)
        await self.session.flush()
        await self._set_roles(row.id, member.roles)
        return (await self._load([row]))[0]

    async def update(self, member: Member) -> None:
        await self.session.execute(
            update(MemberRow).where(MemberRow.id == member.id).values(**_member_values(member)))
        await self._set_roles(member.id, member.roles)

    async def _set_roles(self, member_id: int, roles: frozenset[Role]) -> None:
        await self.session.execute(
            delete(MemberRoleRow).where(MemberRoleRow.member_id == member_id))
        if roles:
            await self.session.execute(
                insert(MemberRoleRow), [{"member_id": member_id, "role": str(r)} for r in roles])


class SqlProjectRepository(_Repository):
    async def _load(self, rows: list[ProjectRow]) -> list[Project]:
        members: dict[int, set[int]] = defaultdict(set)
        if rows:
            found = await self.session.execute(
                select(ProjectMemberRow.project_id, ProjectMemberRow.member_id)
                .where(one_of(ProjectMemberRow.project_id, [r.id for r in rows])))
            for project_id, member_id in found:
                members[project_id].add(member_id)
        return [Project(r.id, r.key, r.name, r.department_id, frozenset(members[r.id]), r.active)
                for r in rows]

    async def all(self) -> list[Project]:
        rows = list(await self.session.scalars(select(ProjectRow).order_by(ProjectRow.key)))
        return await self._load(rows)

    async def by_key(self, key: str) -> Project | None:
        rows = list(await self.session.scalars(select(ProjectRow).where(ProjectRow.key == key)))
        loaded = await self._load(rows)
        return loaded[0] if loaded else None

    async def add(self, project: Project) -> Project:
        row = ProjectRow(key=project.key, name=project.name,
                         department_id=project.department_id, active=project.active)
        self.session.add(row)
        await self.session.flush()
        await self._set_members(row.id, project.member_ids)
        return (await self._load([row]))[0]

    async def update(self, project: Project) -> None:
        await self.session.execute(
            update(ProjectRow).where(ProjectRow.id == project.id).values(
                key=project.key, name=project.name, department_id=project.department_id,
                active=project.active))
        await self._set_members(project.id, project.member_ids)

    async def _set_members(self, project_id: int, member_ids: frozenset[int]) -> None:
        await self.session.execute(
            delete(ProjectMemberRow).where(ProjectMemberRow.project_id == project_id))
        if member_ids:
            await self.session.execute(
                insert(ProjectMemberRow),
                [{"project_id": project_id, "member_id": m} for m in sorted(member_ids)])


def _customer(row: CustomerRow) -> Customer:
    return Customer(row.id, row.key, row.name, row.address, row.lat, row.lon, row.radius_m)


class SqlCustomerRepository(_Repository):
    async def all(self) -> list[Customer]:
        # Plain columns: an org's customers run to hundreds of thousands.
        rows = await self.session.execute(
            select(CustomerRow.id, CustomerRow.key, CustomerRow.name, CustomerRow.address,
                   CustomerRow.lat, CustomerRow.lon, CustomerRow.radius_m)
            .order_by(CustomerRow.key))
        return [Customer(*r) for r in rows]

    async def by_key(self, key: str) -> Customer | None:
        row = await self.session.scalar(select(CustomerRow).where(CustomerRow.key == key))
        return None if row is None else _customer(row)

    async def add(self, customer: Customer) -> Customer:
        row = CustomerRow(key=customer.key, name=customer.name, address=customer.address,
                          lat=customer.lat, lon=customer.lon, radius_m=customer.radius_m)
        self.session.add(row)
        await self.session.flush()
        return _customer(row)

    async def update(self, customer: Customer) -> None:
        await self.session.execute(
            update(CustomerRow).where(CustomerRow.id == customer.id).values(
                key=customer.key, name=customer.name, address=customer.address,
                lat=customer.lat, lon=customer.lon, radius_m=customer.radius_m))


def _budget(row, period=Period.parse) -> Budget:
    """A Budget from a BudgetRow or a row of _BUDGET_COLUMNS."""
    return Budget(row.id, UnitKind(row.unit_kind), row.unit_id, row.category or None,
                  period(row.period), row.amount, OverrunPolicy(row.policy))


_BUDGET_COLUMNS = (BudgetRow.id, BudgetRow.unit_kind, BudgetRow.unit_id, BudgetRow.category,
                   BudgetRow.period, BudgetRow.amount, BudgetRow.policy)


class SqlBudgetRepository(_Repository):
    async def all(self) -> list[Budget]:
        rows = await self.session.execute(
            select(*_BUDGET_COLUMNS).order_by(BudgetRow.period, BudgetRow.unit_kind,
                                              BudgetRow.unit_id, BudgetRow.category))
        # Thousands of budgets share a handful of periods.
        period = cache(Period.parse)
        return [_budget(r, period) for r in rows]

    async def find(self, unit_kind: UnitKind, unit_id: int, category: str | None,
                   period_label: str) -> Budget | None:
        row = await self.session.scalar(select(BudgetRow).where(
            BudgetRow.unit_kind == str(unit_kind), BudgetRow.unit_id == unit_id,
            BudgetRow.category == (category or ""), BudgetRow.period == period_label))
        return None if row is None else _budget(row)

    async def add(self, budget: Budget) -> Budget:
        row = BudgetRow(unit_kind=str(budget.unit_kind), unit_id=budget.unit_id,
                        category=budget.category or "", period=budget.period.label,
                        amount=budget.amount, policy=str(budget.policy))
        self.session.add(row)
        await self.session.flush()
        return _budget(row)

    async def update(self, budget: Budget) -> None:
        await self.session.execute(update(BudgetRow).where(BudgetRow.id == budget.id).values(
            amount=budget.amount, policy=str(budget.policy)))


class SqlRecordChangeRepository(_Repository):
    async def add(self, changes: list[RecordChange]) -> None:
        if changes:
            await self.session.execute(insert(RecordChangeRow), [
                {"subject_type": c.subject_type, "subject_id": c.subject_id, "field": c.field,
                 "old_value": c.old, "new_value": c.new, "changed_by": c.changed_by,
                 "at": c.at} for c in changes])

    async def of(self, subject_type: str, subject_ids: Collection[int],
                 limit: int) -> list[RecordChange]:
        rows = await self.session.scalars(
            select(RecordChangeRow).where(RecordChangeRow.subject_type == subject_type,
                                          one_of(RecordChangeRow.subject_id, subject_ids))
            .order_by(RecordChangeRow.at.desc(), RecordChangeRow.id.desc()).limit(limit))
        return [RecordChange(r.subject_type, r.subject_id, r.field, r.old_value, r.new_value,
                             r.changed_by, r.at, r.id) for r in rows]


def _invite(row: InviteRow) -> Invite:
    return Invite(row.id, row.digest, row.department_id, row.created_by, row.created_at,
                  row.expires_at, _roles(row.roles), row.used_at, row.used_by)


class SqlInviteRepository(_Repository):
    async def add(self, invite: Invite) -> Invite:
        row = InviteRow(digest=invite.digest, department_id=invite.department_id,
                        created_by=invite.created_by, created_at=invite.created_at,
                        expires_at=invite.expires_at, roles=_roles_text(invite.roles))
        self.session.add(row)
        await self.session.flush()
        return _invite(row)

    async def by_digest(self, digest: str) -> Invite | None:
        row = await self.session.scalar(select(InviteRow).where(InviteRow.digest == digest))
        return None if row is None else _invite(row)

    async def mark_used(self, invite_id: int, member_id: int, at: datetime) -> bool:
        result = await self.session.execute(
            update(InviteRow).where(InviteRow.id == invite_id, InviteRow.used_at.is_(None))
            .values(used_at=at, used_by=member_id))
        return result.rowcount == 1

    async def joined_with_invite(self, member_id: int) -> bool:
        return await self.session.scalar(
            select(InviteRow.id).where(InviteRow.used_by == member_id).limit(1)) is not None
