"""Org and membership use cases: who is speaking, joining by invite, the org import."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import count
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
from core.domain.org.permissions import can_invite, effective_roles, visible_departments
from core.inbox.notifications import parse_quiet_hours
from core.org.members import active_member
from core.org.ports import ImportProgress
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
class Standing:
    """An active member as a front end lays out its screens: their roles as they act, and
    whether anyone's day is theirs to see. What each screen shows is checked again there."""

    member: Member
    settings: OrgSettings
    roles: frozenset[Role]
    oversees: bool  # manages a department (or is an admin): the team's views


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

    async def standing(self, account_id: int) -> Standing:
        """The active member behind an account and what they act as; NotAllowed else."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            tree = OrgTree.of(await uow.departments.all())
            return Standing(member, await self._settings(uow), effective_roles(member, tree),
                            bool(visible_departments(member, tree)))

    async def standings(self) -> list[Standing]:
        """Every active member with a messenger account, as `standing` tells of one: for what
        a front end sets up per person when it starts (the messenger's menu button)."""
        async with self._uows(read_only=True) as uow:
            settings = await self._settings(uow)
            tree = OrgTree.of(await uow.departments.all())
            return [Standing(member, settings, effective_roles(member, tree),
                             bool(visible_departments(member, tree)))
                    for member in await uow.members.all()
                    if member.active and member.account_id is not None]

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

    async def import_org(self, document: OrgDocument,
                         progress: ImportProgress | None = None) -> ImportReport:
        """Create or update everything in the document.

        Everything is read once and the whole document checked against it in memory before
        anything is written, so a bad file changes nothing. The changes are then written in
        bulk, in short transactions of at most WRITE_CHUNK rows, so that the bot's own
        writes (check-ins, approvals) wait a moment at most. Should the writing stop half
        way (a crash, a lost connection), what was written stays; importing the same file
        again writes the rest, since it compares with what is stored.
        """
        progress = progress or QuietProgress()
        stored = await self._stored(progress)
        entries = sum(len(getattr(document, s)) for s in _SECTIONS) + 1
        with progress.phase("comparing", entries) as advance:
            plan = _OrgImport(stored, self._defaults, ImportReport(), advance).apply(document)
        await _OrgWrite(self._uows, plan, progress).run()
        return plan.report

    async def _stored(self, progress: ImportProgress) -> _Stored:
        async with self._uows(read_only=True) as uow:
            with progress.phase("reading", 8) as advance:
                read = []
                for reading in (uow.organization.get, uow.departments.all, uow.members.all,
                                uow.projects.all, uow.customers.all, uow.budgets.all,
                                uow.org_records.goals, uow.org_records.invited_members):
                    read.append(await reading())
                    advance(1)
            return _Stored(*read)


# Rows written per transaction: a check-in or an approval waits for one such write at most.
WRITE_CHUNK = 500
_SECTIONS = ("departments", "members", "projects", "customers", "budgets", "goals")


class QuietProgress:
    """No progress shown."""

    @contextmanager
    def phase(self, name: str, total: int) -> Iterator[Callable[[int], None]]:
        yield lambda _steps: None


@dataclass(frozen=True)
class _Stored:
    """The organisation as stored when an import starts."""

    settings: OrgSettings | None
    departments: list[Department]
    members: list[Member]
    projects: list[Project]
    customers: list[Customer]
    budgets: list[Budget]
    goals: list[Goal]
    invited: set[int]


@dataclass
class _Plan:
    """What an import writes: new objects carry provisional (negative) ids until stored."""

    report: ImportReport
    settings: OrgSettings | None = None
    recount_in: str | None = None
    new_departments: list[Department] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)
    accounts: list[tuple[int, int | None]] = field(default_factory=list)
    new_members: list[Member] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    new_projects: list[Project] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)


@dataclass
class _OrgImport:
    """Compares an org document with what is stored, in memory; any OrgFileError stops it
    before anything is written."""

    stored: _Stored
    defaults: OrgSettings
    report: ImportReport
    advance: Callable[[int], None]
    departments: dict[str, Department] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    departments_before: dict[str, Department] = field(default_factory=dict)
    listed: dict[str, MemberEntry] = field(default_factory=dict)
    usernames: dict[str, list[str]] = field(default_factory=dict)
    # Who holds each messenger account id, by member key, as the import goes.
    accounts: dict[int, str] = field(default_factory=dict)
    plan: _Plan = field(init=False)
    # The org file's name for a member's messenger account id.
    id_field: str = "account_id"
    _provisional: Iterator[int] = field(default_factory=lambda: count(-1, -1))

    def apply(self, document: OrgDocument) -> _Plan:
        self.plan = _Plan(self.report)
        self.id_field = document.accounts.id_field
        self._org(document)
        self.departments = {d.key: d for d in self.stored.departments}
        self.departments_before = dict(self.departments)
        for entry in _parents_first(document.departments, self.departments):
            self._department(entry)
        self.members = {m.key: m for m in self.stored.members}
        self.accounts = {m.account_id: m.key for m in self.stored.members
                         if m.account_id is not None}
        self.listed = {m.key: m for m in document.members}
        for member in self.members.values():
            # Usernames of the members the file lists are the file's, checked when parsed.
            if member.username and member.key not in self.listed:
                self.usernames.setdefault(member.username.casefold(), []).append(member.key)
        # Retired entries first, so that an account they hand over is free when its new
        # entry comes.
        for entry in sorted(document.members, key=lambda m: m.active):
            self._member(entry)
        for entry in document.departments:
            self._manager(entry)
        try:
            OrgTree.of(self.departments.values())
        except CycleError as error:
            raise OrgFileError(f"departments[{error}].parent", "makes a loop") from None
        self.projects = {p.key: p for p in self.stored.projects}
        for entry in document.projects:
            self._project(entry)
        self._customers(document.customers)
        budgets = {(b.unit_kind, b.unit_id, b.category, b.period.label): b
                   for b in self.stored.budgets}
        for entry in document.budgets:
            self._budget(entry, budgets)
        goals = {(g.unit_kind, g.unit_id, g.metric, g.period.label): g
                 for g in self.stored.goals}
        for entry in document.goals:
            self._goal(entry, goals)
        self._changed_records()
        return self.plan

    def _new_id(self) -> int:
        return next(self._provisional)

    def _changed_records(self) -> None:
        """Sort the departments, members and projects as they now are into what to add and
        what to update."""
        plan = self.plan
        departments = {d.id: d for d in self.stored.departments}
        for department in self.departments.values():
            if department.id < 0:
                plan.new_departments.append(department)
            if departments.get(department.id) not in (None, department) or (
                    department.id < 0 and (department.parent_id or department.manager_id)):
                plan.departments.append(department)
        members = {m.id: m for m in self.stored.members}
        for member in self.members.values():
            before = members.get(member.id)
            if before is None:
                plan.new_members.append(member)
            elif before != member:
                plan.members.append(member)
                if before.account_id != member.account_id:
                    plan.accounts.append((member.id, member.account_id))
        projects = {p.id: p for p in self.stored.projects}
        for project in self.projects.values():
            before = projects.get(project.id)
            if before is None:
                plan.new_projects.append(project)
            elif before != project:
                plan.projects.append(project)

    def _org(self, document: OrgDocument) -> None:
        header = document.org
        before = self.stored.settings
        base = before or self.defaults
        after = OrgSettings(
            name=header.name or base.name,
            timezone=header.timezone or base.timezone,
            currency=header.currency or base.currency,
            default_language=header.default_language or base.default_language,
        )
        if after != before:
            self.plan.settings = after
        if after.timezone != base.timezone:
            # Which day a deal moved depends on the calendar: claims by stage are refiled.
            self.plan.recount_in = after.timezone
        self.report.count("org", before, after)
        self.advance(1)

    def _department_id(self, where: str, key: str) -> int:
        if key not in self.departments:
            raise OrgFileError(where, f'unknown department "{key}"')
        return self.departments[key].id

    def _member_id(self, where: str, key: str) -> int:
        if key not in self.members:
            raise OrgFileError(where, f'unknown member "{key}"')
        return self.members[key].id

    def _department(self, entry: DepartmentEntry) -> None:
        where = f"departments[{entry.key}]"
        parent_id = None if entry.parent is None else self._department_id(
            f"{where}.parent", entry.parent)
        before = self.departments.get(entry.key)
        if before is None:
            after = Department(self._new_id(), entry.key, entry.name, parent_id, None)
        else:
            after = replace(before, name=entry.name, parent_id=parent_id)
        self.departments[entry.key] = after
        # The manager is set after the members exist; count the department then.

    def _manager(self, entry: DepartmentEntry) -> None:
        where = f"departments[{entry.key}]"
        current = self.departments[entry.key]
        manager_id = None if entry.manager is None else self._member_id(
            f"{where}.manager", entry.manager)
        if entry.manager is not None and not self.members[entry.manager].active:
            raise OrgFileError(f"{where}.manager",
                               f'member "{entry.manager}" is retired (active = false)')
        after = replace(current, manager_id=manager_id)
        self.departments[entry.key] = after
        self.report.count("departments", self.departments_before.get(entry.key), after)
        self.advance(1)

    def _put_member(self, old_key: str, member: Member) -> None:
        """Keep `member` (stored under `old_key` until now) and who holds which account."""
        old = self.members.pop(old_key, None)
        if old is not None and old.account_id is not None \
                and self.accounts.get(old.account_id) == old_key:
            del self.accounts[old.account_id]
        self.members[member.key] = member
        if member.account_id is not None:
            self.accounts[member.account_id] = member.key

    def _member(self, entry: MemberEntry) -> None:
        where = f"members[{entry.key}]"
        department_id = self._department_id(f"{where}.department", entry.department)
        before = self.members.get(entry.key)
        for field_name, holder in self._account_holders(entry):
            if (before is None and holder.key not in self.listed
                    and holder.id in self.stored.invited):
                # Someone who joined by invite is now listed under a proper key.
                before = holder
            elif not self._stays_active(holder):
                # A retired entry lets go of the account; its history stays with it.
                self._put_member(holder.key, replace(holder, **{field_name: None}))
            else:
                named = self.id_field if field_name == "account_id" else field_name
                raise OrgFileError(f"{where}.{named}", f"already belongs to members[{holder.key}]")
        fields = dict(key=entry.key, name=entry.name, department_id=department_id,
                      roles=entry.roles, username=entry.username, language=entry.language,
                      active=entry.active)
        if before is None:
            after = Member(id=self._new_id(), account_id=entry.account_id, **fields)
        else:
            after = replace(before, account_id=entry.account_id or before.account_id, **fields)
        self._put_member(before.key if before else entry.key, after)
        self.report.count("members", before, after)
        self.advance(1)

    def _stays_active(self, member: Member) -> bool:
        listed = self.listed.get(member.key)
        return member.active if listed is None else listed.active

    def _account_holders(self, entry: MemberEntry) -> list[tuple[str, Member]]:
        """Other entries holding the messenger account the entry names, by Member field."""
        holders: list[tuple[str, Member]] = []
        if entry.account_id is not None:
            key = self.accounts.get(entry.account_id)
            if key is not None and key != entry.key:
                holders.append(("account_id", self.members[key]))
        if entry.username is not None:
            for key in self.usernames.get(entry.username.casefold(), ()):
                holder = self.members.get(key)
                if (holder is not None and key != entry.key and holder.username
                        and holder.username.casefold() == entry.username.casefold()
                        and all(h.id != holder.id for _, h in holders)):
                    holders.append(("username", holder))
                    break
        return holders

    def _project(self, entry: ProjectEntry) -> None:
        where = f"projects[{entry.key}]"
        department_id = self._department_id(f"{where}.department", entry.department)
        member_ids = frozenset(self._member_id(f"{where}.members", k) for k in entry.members)
        before = self.projects.get(entry.key)
        if before is None:
            after = Project(self._new_id(), entry.key, entry.name, department_id, member_ids,
                            entry.active)
        else:
            after = replace(before, name=entry.name, department_id=department_id,
                            member_ids=member_ids, active=entry.active)
        self.projects[entry.key] = after
        self.report.count("projects", before, after)
        self.advance(1)

    def _customers(self, entries: tuple[CustomerEntry, ...]) -> None:
        # A company has a hundred thousand: compared field by field, counted once.
        stored = {c.key: c for c in self.stored.customers}
        created = updated = 0
        for n, entry in enumerate(entries, start=1):
            if n % 1000 == 0:
                self.advance(1000)
            before = stored.get(entry.key)
            if before is None:
                created += 1
            elif (before.name, before.address, before.lat, before.lon, before.radius_m) == (
                    entry.name, entry.address, entry.lat, entry.lon, entry.radius_m):
                continue
            else:
                updated += 1
            self.plan.customers.append(Customer(
                before.id if before else None, entry.key, entry.name, entry.address,
                entry.lat, entry.lon, entry.radius_m))
        self.advance(len(entries) % 1000)
        for counter, counted in ((self.report.created, created),
                                 (self.report.updated, updated),
                                 (self.report.unchanged, len(entries) - created - updated)):
            if counted:
                counter["customers"] += counted

    def _budget(self, entry: BudgetEntry, stored: dict[tuple, Budget]) -> None:
        if entry.unit_kind == "department":
            unit_id = self._department_id(f"{entry.where}.unit", entry.unit_key)
        elif entry.unit_kind == "member":
            unit_id = self._member_id(f"{entry.where}.unit", entry.unit_key)
        else:
            project = self.projects.get(entry.unit_key)
            if project is None:
                raise OrgFileError(f"{entry.where}.unit", f'unknown project "{entry.unit_key}"')
            unit_id = project.id
        before = stored.get((entry.unit_kind, unit_id, entry.category, entry.period.label))
        if before is None:
            after = Budget(None, entry.unit_kind, unit_id, entry.category, entry.period,
                           entry.amount, entry.policy)
        else:
            after = replace(before, amount=entry.amount, policy=entry.policy)
        if after != before:
            self.plan.budgets.append(after)
        self.report.count("budgets", before, after)
        self.advance(1)

    def _goal(self, entry: GoalEntry, stored: dict[tuple, Goal]) -> None:
        if entry.unit_kind == UnitKind.DEPARTMENT:
            unit_id = self._department_id(f"{entry.where}.unit", entry.unit_key)
        else:
            unit_id = self._member_id(f"{entry.where}.unit", entry.unit_key)
        before = stored.get((entry.unit_kind, unit_id, entry.metric, entry.period.label))
        if before is None:
            after = Goal(None, entry.unit_kind, unit_id, entry.metric, entry.period,
                         entry.target)
        else:
            after = replace(before, target=entry.target)
        if after != before:
            self.plan.goals.append(after)
        self.report.count("goals", before, after)
        self.advance(1)


@dataclass
class _OrgWrite:
    """Writes an import's plan in short transactions, each section after those it refers
    to; new records get their ids as they are stored."""

    uows: UnitOfWorkFactory
    plan: _Plan
    progress: ImportProgress
    ids: dict[int, int] = field(default_factory=dict)

    def _id(self, provisional: int | None) -> int | None:
        return self.ids.get(provisional, provisional) if provisional is not None else None

    async def _in_chunks(self, section: str, records: list, write) -> None:
        if not records:
            return
        with self.progress.phase(f"writing {section}", len(records)) as advance:
            for start in range(0, len(records), WRITE_CHUNK):
                chunk = records[start:start + WRITE_CHUNK]
                async with self.uows() as uow:
                    await write(uow, chunk)
                    await uow.commit()
                advance(len(chunk))

    async def _add(self, uow: UnitOfWork, add, records: list) -> None:
        stored = await add(records)
        self.ids.update((r.id, stored[r.key]) for r in records)

    async def run(self) -> None:
        plan = self.plan
        if plan.settings is not None or plan.recount_in is not None:
            async with self.uows() as uow:
                if plan.settings is not None:
                    await uow.organization.put(plan.settings)
                if plan.recount_in is not None:
                    await uow.expense_stats.recount(ZoneInfo(plan.recount_in))
                await uow.commit()
        # New departments first without their parent and manager (both may be new too).
        await self._in_chunks("departments", plan.new_departments, lambda uow, chunk: self._add(
            uow, uow.org_records.add_departments,
            [replace(d, parent_id=None, manager_id=None) for d in chunk]))
        if plan.accounts:
            # In one go: an account may pass between members of different chunks.
            async with self.uows() as uow:
                await uow.org_records.move_accounts(plan.accounts)
                await uow.commit()
        await self._in_chunks("members", plan.members, lambda uow, chunk: (
            uow.org_records.update_members(
                [replace(m, department_id=self._id(m.department_id)) for m in chunk])))
        await self._in_chunks("members", plan.new_members, lambda uow, chunk: self._add(
            uow, uow.org_records.add_members,
            [replace(m, department_id=self._id(m.department_id)) for m in chunk]))
        await self._in_chunks("departments", plan.departments, lambda uow, chunk: (
            uow.org_records.update_departments(
                [replace(d, id=self._id(d.id), parent_id=self._id(d.parent_id),
                         manager_id=self._id(d.manager_id)) for d in chunk])))
        projects = [replace(p, department_id=self._id(p.department_id),
                            member_ids=frozenset(self._id(m) for m in p.member_ids))
                    for p in (*plan.new_projects, *plan.projects)]
        new = len(plan.new_projects)
        await self._in_chunks("projects", projects[:new], lambda uow, chunk: self._add(
            uow, uow.org_records.add_projects, chunk))
        await self._in_chunks("projects", projects[new:], lambda uow, chunk: (
            uow.org_records.update_projects(chunk)))
        await self._in_chunks("customers", plan.customers, lambda uow, chunk: (
            uow.org_records.put_customers(chunk)))
        await self._in_chunks("budgets", plan.budgets, lambda uow, chunk: (
            uow.org_records.put_budgets([replace(b, unit_id=self._id(b.unit_id))
                                         for b in chunk])))
        await self._in_chunks("goals", plan.goals, lambda uow, chunk: (
            uow.org_records.put_goals([replace(g, unit_id=self._id(g.unit_id))
                                       for g in chunk])))


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
