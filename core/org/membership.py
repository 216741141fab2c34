"""Org and membership use cases: who is speaking, joining by invite, the org import."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.domain.errors import DomainError, NotAllowed
from core.domain.expenses.budgets import Budget, UnitKind
from core.domain.opportunities.goals import Goal
from core.domain.org.invite import Invite, InviteRefused, looks_like_token, new_token, token_digest
from core.domain.org.model import (
    LANGUAGES,
    Customer,
    CycleError,
    Department,
    Member,
    OrgSettings,
    OrgTree,
    Project,
    Role,
)
from core.domain.org.org_file import (
    BudgetEntry,
    CustomerEntry,
    DepartmentEntry,
    GoalEntry,
    MemberEntry,
    OrgDocument,
    OrgFileError,
    ProjectEntry,
)
from core.domain.org.permissions import can_invite, effective_roles
from core.inbox.notifications import parse_quiet_hours
from core.org.members import active_member
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class MessengerUser:
    """What the messenger tells about whoever is speaking."""

    account_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip()


@dataclass(frozen=True)
class Visitor:
    """Whoever sent an update: a member (maybe inactive) or a stranger."""

    member: Member | None
    settings: OrgSettings

    @property
    def is_member(self) -> bool:
        return self.member is not None and self.member.active


@dataclass(frozen=True)
class IssuedInvite:
    token: str
    department_name: str
    expires_at: datetime


@dataclass(frozen=True)
class Joined:
    member: Member
    department_name: str


class AlreadyMember(DomainError):
    code = "already_member"


@dataclass
class ImportReport:
    """What an org import did, per section."""

    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)

    def count(self, section: str, before: object | None, after: object) -> None:
        if before is None:
            self.created[section] += 1
        elif before != after:
            self.updated[section] += 1
        else:
            self.unchanged[section] += 1

    @property
    def changed(self) -> bool:
        return bool(self.created.total() or self.updated.total())


class OrgService:
    """Membership: identify speakers, invites, languages, and the org import."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 invite_ttl: timedelta = timedelta(days=7)) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self._invite_ttl = invite_ttl

    async def _settings(self, uow: UnitOfWork) -> OrgSettings:
        return await uow.organization.get() or self._defaults

    async def settings(self) -> OrgSettings:
        async with self._uows(read_only=True) as uow:
            return await self._settings(uow)

    async def identify(self, account_id: int) -> Visitor:
        """The member behind a messenger account, if any, with the org's settings."""
        async with self._uows(read_only=True) as uow:
            member = await uow.members.by_account_id(account_id)
            return Visitor(member, await self._settings(uow))

    async def start(self, person: MessengerUser) -> Visitor:
        """/start: a listed username is claimed by its messenger account on first contact."""
        async with self._uows() as uow:
            member = await uow.members.by_account_id(person.account_id)
            if member is None and person.username:
                listed = await uow.members.unclaimed_by_username(person.username)
                if listed is not None:
                    member = replace(listed, account_id=person.account_id,
                                     joined_at=listed.joined_at or self._clock.now())
                    await uow.members.update(member)
            elif member is not None and (member.username != person.username
                                         or not member.reachable):
                # Whoever sends /start can be written to again (they unblocked the bot).
                member = replace(member, username=person.username, unreachable_since=None)
                await uow.members.update(member)
            await uow.commit()
            return Visitor(member, await self._settings(uow))

    async def roles(self, account_id: int) -> frozenset[Role]:
        """The roles a member acts with (heading a department makes a manager)."""
        async with self._uows(read_only=True) as uow:
            member = await uow.members.by_account_id(account_id)
            if member is None or not member.active:
                return frozenset()
            return effective_roles(member, OrgTree.of(await uow.departments.all()))

    async def create_invite(self, account_id: int) -> IssuedInvite:
        """A one-time link into the inviter's department."""
        async with self._uows() as uow:
            actor = await active_member(uow, account_id)
            departments = await uow.departments.all()
            if not can_invite(actor, OrgTree.of(departments)):
                raise NotAllowed("invite_not_allowed")
            token = new_token()
            invite = Invite.issue(token, department_id=actor.department_id, created_by=actor.id,
                                  now=self._clock.now(), ttl=self._invite_ttl)
            await uow.invites.add(invite)
            await uow.commit()
            name = next(d.name for d in departments if d.id == actor.department_id)
            return IssuedInvite(token, name, invite.expires_at)

    async def join(self, token: str, person: MessengerUser) -> Joined:
        """/start <token>: register the person into the invite's department, once."""
        now = self._clock.now()
        async with self._uows() as uow:
            if await uow.members.by_account_id(person.account_id) is not None:
                raise AlreadyMember()
            invite = await uow.invites.by_digest(token_digest(token)) if looks_like_token(
                token) else None
            if invite is None:
                raise InviteRefused("invite_unknown")
            invite.check_usable(now)
            member = await uow.members.add(Member(
                id=None, key=f"tg{person.account_id}", name=person.full_name or str(
                    person.account_id), department_id=invite.department_id, roles=invite.roles,
                account_id=person.account_id, username=person.username, joined_at=now))
            if not await uow.invites.mark_used(invite.id, member.id, now):
                raise InviteRefused("invite_used")
            departments = {d.id: d for d in await uow.departments.all()}
            await uow.commit()
            return Joined(member, departments[invite.department_id].name)

    async def _change_member(self, account_id: int, **changes: object) -> Member:
        """Change the speaker's own settings, if they are an active member."""
        async with self._uows() as uow:
            member = replace(await active_member(uow, account_id), **changes)
            await uow.members.update(member)
            await uow.commit()
            return member

    async def set_language(self, account_id: int, language: str) -> Member:
        if language not in LANGUAGES:
            raise DomainError("unknown_language")
        return await self._change_member(account_id, language=language)

    async def reminder_settings(self, account_id: int) -> Member:
        """The speaker as stored: whether reminders are paused, and their quiet hours."""
        async with self._uows(read_only=True) as uow:
            return await active_member(uow, account_id)

    async def pause_reminders(self, account_id: int, paused: bool) -> Member:
        """Pause or resume plan, log and follow-up reminders (requests still arrive)."""
        return await self._change_member(account_id, reminders_paused=paused)

    async def set_quiet_hours(self, account_id: int, window: str | None) -> Member:
        """Quiet hours from text like '22:00-07:30' (checked here), or None to turn them off."""
        quiet = None if window is None else parse_quiet_hours(window)
        return await self._change_member(account_id, quiet_hours=quiet)

    async def import_org(self, document: OrgDocument) -> ImportReport:
        """Create or update everything in the document, all or nothing."""
        async with self._uows() as uow:
            report = await _OrgImport(uow, self._defaults, report=ImportReport()).apply(document)
            await uow.commit()
            return report


@dataclass
class _OrgImport:
    """Applies an org document inside one unit of work; any OrgFileError undoes it all."""

    uow: UnitOfWork
    defaults: OrgSettings
    report: ImportReport
    departments: dict[str, Department] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    departments_before: dict[str, Department] = field(default_factory=dict)
    listed: dict[str, MemberEntry] = field(default_factory=dict)
    usernames: dict[str, list[str]] = field(default_factory=dict)
    # The org file's name for a member's messenger account id.
    id_field: str = "account_id"

    async def apply(self, document: OrgDocument) -> ImportReport:
        self.id_field = document.accounts.id_field
        await self._org(document)
        self.departments = {d.key: d for d in await self.uow.departments.all()}
        self.departments_before = dict(self.departments)
        for entry in _parents_first(document.departments, self.departments):
            await self._department(entry)
        self.members = {m.key: m for m in await self.uow.members.all()}
        self.listed = {m.key: m for m in document.members}
        for member in self.members.values():
            # Usernames of the members the file lists are the file's, checked when parsed.
            if member.username and member.key not in self.listed:
                self.usernames.setdefault(member.username.casefold(), []).append(member.key)
        # Retired entries first, so that an account they hand over is free when its new
        # entry comes.
        for entry in sorted(document.members, key=lambda m: m.active):
            await self._member(entry)
        for entry in document.departments:
            await self._manager(entry)
        try:
            OrgTree.of(self.departments.values())
        except CycleError as error:
            raise OrgFileError(f"departments[{error}].parent", "makes a loop") from None
        for entry in document.projects:
            await self._project(entry)
        for entry in document.customers:
            await self._customer(entry)
        for entry in document.budgets:
            await self._budget(entry)
        for entry in document.goals:
            await self._goal(entry)
        return self.report

    async def _org(self, document: OrgDocument) -> None:
        header = document.org
        before = await self.uow.organization.get()
        base = before or self.defaults
        after = OrgSettings(
            name=header.name or base.name,
            timezone=header.timezone or base.timezone,
            currency=header.currency or base.currency,
            default_language=header.default_language or base.default_language,
        )
        if after != before:
            await self.uow.organization.put(after)
        if after.timezone != base.timezone:
            # Which day a deal moved depends on the calendar: claims by stage are refiled.
            await self.uow.expense_stats.recount(ZoneInfo(after.timezone))
        self.report.count("org", before, after)

    def _department_id(self, where: str, key: str) -> int:
        if key not in self.departments:
            raise OrgFileError(where, f'unknown department "{key}"')
        return self.departments[key].id

    def _member_id(self, where: str, key: str) -> int:
        if key not in self.members:
            raise OrgFileError(where, f'unknown member "{key}"')
        return self.members[key].id

    async def _department(self, entry: DepartmentEntry) -> None:
        where = f"departments[{entry.key}]"
        parent_id = None if entry.parent is None else self._department_id(
            f"{where}.parent", entry.parent)
        before = self.departments.get(entry.key)
        if before is None:
            after = await self.uow.departments.add(
                Department(None, entry.key, entry.name, parent_id, None))
        else:
            after = replace(before, name=entry.name, parent_id=parent_id)
            if after != before:
                await self.uow.departments.update(after)
        self.departments[entry.key] = after
        # The manager is set after the members exist; count the department then.

    async def _manager(self, entry: DepartmentEntry) -> None:
        where = f"departments[{entry.key}]"
        current = self.departments[entry.key]
        manager_id = None if entry.manager is None else self._member_id(
            f"{where}.manager", entry.manager)
        if entry.manager is not None and not self.members[entry.manager].active:
            raise OrgFileError(f"{where}.manager",
                               f'member "{entry.manager}" is retired (active = false)')
        after = replace(current, manager_id=manager_id)
        if after != current:
            await self.uow.departments.update(after)
            self.departments[entry.key] = after
        before = self.departments_before.get(entry.key)
        self.report.count("departments", before, after)

    async def _member(self, entry: MemberEntry) -> None:
        where = f"members[{entry.key}]"
        department_id = self._department_id(f"{where}.department", entry.department)
        before = self.members.get(entry.key)
        for field_name, holder in await self._account_holders(entry):
            if (before is None and holder.key not in self.listed
                    and await self.uow.invites.joined_with_invite(holder.id)):
                # Someone who joined by invite is now listed under a proper key.
                before = holder
            elif not self._stays_active(holder):
                # A retired entry lets go of the account; its history stays with it.
                released = replace(holder, **{field_name: None})
                await self.uow.members.update(released)
                self.members[holder.key] = released
            else:
                named = self.id_field if field_name == "account_id" else field_name
                raise OrgFileError(f"{where}.{named}", f"already belongs to members[{holder.key}]")
        fields = dict(key=entry.key, name=entry.name, department_id=department_id,
                      roles=entry.roles, username=entry.username, language=entry.language,
                      active=entry.active)
        if before is None:
            after = await self.uow.members.add(Member(
                id=None, account_id=entry.account_id, **fields))
        else:
            after = replace(before, account_id=entry.account_id or before.account_id, **fields)
            if after != before:
                await self.uow.members.update(after)
        self.members.pop(before.key if before else entry.key, None)
        self.members[entry.key] = after
        self.report.count("members", before, after)

    def _stays_active(self, member: Member) -> bool:
        listed = self.listed.get(member.key)
        return member.active if listed is None else listed.active

    async def _account_holders(self, entry: MemberEntry) -> list[tuple[str, Member]]:
        """Other entries holding the messenger account the entry names, by Member field."""
        holders: list[tuple[str, Member]] = []
        if entry.account_id is not None:
            holder = await self.uow.members.by_account_id(entry.account_id)
            if holder is not None and holder.key != entry.key:
                holders.append(("account_id", holder))
        if entry.username is not None:
            for key in self.usernames.get(entry.username.casefold(), ()):
                holder = self.members.get(key)
                if (holder is not None and key != entry.key and holder.username
                        and holder.username.casefold() == entry.username.casefold()
                        and all(h.id != holder.id for _, h in holders)):
                    holders.append(("username", holder))
                    break
        return holders

    async def _project(self, entry: ProjectEntry) -> None:
        where = f"projects[{entry.key}]"
        department_id = self._department_id(f"{where}.department", entry.department)
        member_ids = frozenset(self._member_id(f"{where}.members", k) for k in entry.members)
        before = await self.uow.projects.by_key(entry.key)
        if before is None:
            after = await self.uow.projects.add(Project(None, entry.key, entry.name,
                                                        department_id, member_ids, entry.active))
        else:
            after = replace(before, name=entry.name, department_id=department_id,
                            member_ids=member_ids, active=entry.active)
            if after != before:
                await self.uow.projects.update(after)
        self.report.count("projects", before, after)

    async def _customer(self, entry: CustomerEntry) -> None:
        before = await self.uow.customers.by_key(entry.key)
        fields = dict(name=entry.name, address=entry.address, lat=entry.lat, lon=entry.lon,
                      radius_m=entry.radius_m)
        if before is None:
            after = await self.uow.customers.add(Customer(None, entry.key, **fields))
        else:
            after = replace(before, **fields)
            if after != before:
                await self.uow.customers.update(after)
        self.report.count("customers", before, after)

    async def _budget(self, entry: BudgetEntry) -> None:
        if entry.unit_kind == "department":
            unit_id = self._department_id(f"{entry.where}.unit", entry.unit_key)
        elif entry.unit_kind == "member":
            unit_id = self._member_id(f"{entry.where}.unit", entry.unit_key)
        else:
            project = await self.uow.projects.by_key(entry.unit_key)
            if project is None:
                raise OrgFileError(f"{entry.where}.unit", f'unknown project "{entry.unit_key}"')
            unit_id = project.id
        before = await self.uow.budgets.find(entry.unit_kind, unit_id, entry.category,
                                             entry.period.label)
        if before is None:
            after = await self.uow.budgets.add(Budget(None, entry.unit_kind, unit_id,
                                                      entry.category, entry.period, entry.amount,
                                                      entry.policy))
        else:
            after = replace(before, amount=entry.amount, policy=entry.policy)
            if after != before:
                await self.uow.budgets.update(after)
        self.report.count("budgets", before, after)

    async def _goal(self, entry: GoalEntry) -> None:
        if entry.unit_kind == UnitKind.DEPARTMENT:
            unit_id = self._department_id(f"{entry.where}.unit", entry.unit_key)
        else:
            unit_id = self._member_id(f"{entry.where}.unit", entry.unit_key)
        before = await self.uow.goals.find(entry.unit_kind, unit_id, entry.metric,
                                           entry.period.label)
        if before is None:
            after = await self.uow.goals.add(Goal(None, entry.unit_kind, unit_id, entry.metric,
                                                  entry.period, entry.target))
        else:
            after = replace(before, target=entry.target)
            if after != before:
                await self.uow.goals.update(after)
        self.report.count("goals", before, after)


def _parents_first(entries: tuple[DepartmentEntry, ...],
                   existing: dict[str, Department]) -> list[DepartmentEntry]:
    """Order departments so that each parent is created before its children."""
    by_key = {e.key: e for e in entries}
    ordered: list[DepartmentEntry] = []
    placed: set[str] = set()
    for entry in entries:
        # Climb to the first ancestor already placed (or outside the file), then place the
        # climbed chain top down: a loop, not recursion, so any depth of tree is fine.
        trail: list[DepartmentEntry] = []
        on_trail: set[str] = set()
        current: DepartmentEntry | None = entry
        while current is not None and current.key not in placed:
            if current.key in on_trail:
                raise OrgFileError(f"departments[{current.key}].parent", "makes a loop")
            trail.append(current)
            on_trail.add(current.key)
            parent = current.parent
            if parent and parent not in by_key and parent not in existing:
                raise OrgFileError(f"departments[{current.key}].parent",
                                   f'unknown department "{parent}"')
            current = by_key.get(parent) if parent else None
        for climbed in reversed(trail):
            placed.add(climbed.key)
            ordered.append(climbed)
    return ordered
