"""Scheduled rules: plan and log reminders, the team digest and the nightly backup, each
run once per day.

The config says which rules run and when; `sync_rules` writes that to the database, so
every process reads what runs (and when each rule last ran) from one place.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.config import CalendarConfig, RemindersConfig
from core.domain.errors import DomainError, NotFound
from core.domain.inbox.notifications import NewNotification, Notification, NotificationKind
from core.domain.inbox.reminders import ReminderRule, TeamGroup, WorkCalendar
from core.domain.org.model import Member, OrgSettings, OrgTree, Role
from core.inbox.notifications import publish, publish_many
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory

PLAN_REMINDER = "plan_reminder"
LOG_REMINDER = "log_reminder"
MORNING_DIGEST = "morning_digest"
# Deals closing soon or idle, and goals reached (core.goals.GoalService.run_daily).
FOLLOW_UP = "follow_up"
# Counts hours from each pending approval, so it runs every few minutes, not at a time.
APPROVAL_SLA = "approval_sla"
SLA_INTERVAL = timedelta(minutes=15)
# A copy of the database and the photos (made by the callable bootstrap wires in).
BACKUP = "backup"
# A run this long after its time is a catch-up: people now in their quiet hours are left out.
ON_TIME = timedelta(minutes=5)
RULE_NAMES = (PLAN_REMINDER, LOG_REMINDER, MORNING_DIGEST, APPROVAL_SLA, FOLLOW_UP, BACKUP)
# Rules that run on every day of the week, working day or not.
EVERY_DAY = frozenset({BACKUP})

log = logging.getLogger(__name__)


class UnknownRule(DomainError):
    code = "unknown_rule"


class BackupFailed(Exception):
    """The backup could not be made; the message says why, in one line."""


def work_calendar(config: CalendarConfig) -> WorkCalendar:
    return WorkCalendar(frozenset(config.working_days), frozenset(config.holidays),
                        frozenset(config.working_weekends))


def configured_rules(config: RemindersConfig) -> list[ReminderRule]:
    """The rules as the config describes them; their last runs live in the database."""
    rules = []
    for name in RULE_NAMES:
        values = getattr(config, name).model_dump(mode="json")
        enabled = values.pop("enabled")
        # approval_sla has no time of day: it counts hours from each claim.
        at = values.pop("at", "")
        rules.append(ReminderRule(name, enabled, at, values))
    return rules


def previous_working_day(calendar: WorkCalendar, day: date) -> date:
    """The last working day before `day`: what a morning digest looks back on."""
    candidate = day - timedelta(days=1)
    for _ in range(366):
        if calendar.is_working_day(candidate):
            return candidate
        candidate -= timedelta(days=1)
    raise ValueError("no working day within a year")


def next_run(rule: ReminderRule, now: datetime, zone: ZoneInfo,
             calendar: WorkCalendar) -> datetime | None:
    """The rule's first fire time after `now` on a day it runs (a working day, unless it
    runs every day); None without a time of day."""
    if not rule.at:
        return None
    today = now.astimezone(zone).date()
    for ahead in range(367):
        day = today + timedelta(days=ahead)
        runs = rule.name in EVERY_DAY or calendar.is_working_day(day)
        if runs and (moment := rule.fire_time(day, zone)) > now:
            return moment
    return None


def reminder_key(rule: str, member_id: int, day: date) -> str:
    return f"{rule}:{member_id}:{day.isoformat()}"


def group_reminder_key(rule: str, group_id: int, day: date) -> str:
    return f"{rule}:group:{group_id}:{day.isoformat()}"


def digest_key(group_id: int, day: date) -> str:
    return f"digest:{group_id}:{day.isoformat()}"


def _people(members: Iterable[Member]) -> list[dict[str, Any]]:
    """Who a group message names: the name always, the messenger account to mention them by."""
    return [{"name": m.name, "account_id": m.account_id}
            for m in sorted(members, key=lambda m: m.name)]


@dataclass(frozen=True)
class DigestRefresh:
    """What /digest did: posted today's digest, or revised the one already there."""

    notification: Notification
    created: bool
    changed: bool


@dataclass(frozen=True)
class _Team:
    """Active reps and the department tree, loaded once per run."""

    tree: OrgTree
    reps: list[Member]

    def in_subtree(self, department_id: int, members: Iterable[Member]) -> list[Member]:
        if department_id not in self.tree.departments:
            return []
        below = self.tree.subtree_ids(department_id)
        return [m for m in members if m.department_id in below]

    def department_name(self, department_id: int) -> str:
        department = self.tree.departments.get(department_id)
        return department.name if department else ""


async def _team(uow: UnitOfWork) -> _Team:
    tree = OrgTree.of(await uow.departments.all())
    reps = [m for m in await uow.members.all() if m.active and m.has(Role.REP)]
    return _Team(tree, sorted(reps, key=lambda m: m.name))


class ReminderService:
    """Runs the scheduled rules: who gets reminded, what the team groups read."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 config: RemindersConfig, calendar: WorkCalendar,
                 sla: Callable[[datetime], Awaitable[int]] | None = None,
                 follow_up: Callable[..., Awaitable[int]] | None = None,
                 backup: Callable[[datetime], Awaitable[str]] | None = None) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self._config = config
        self.calendar = calendar
        # The approvals' SLA pass (core.approvals.ApprovalService.run_sla).
        self._sla = sla
        # The opportunities' daily pass (core.goals.GoalService.run_daily).
        self._follow_up = follow_up
        # Makes a backup named for the moment given and says what it made, or raises
        # BackupFailed (bootstrap.nightly_backup.NightlyBackup).
        self._backup = backup

    @property
    def check_interval(self) -> timedelta:
        """How often a running bot asks `run_due`."""
        return timedelta(seconds=self._config.check_seconds)

    async def sync_rules(self) -> list[ReminderRule]:
        """Write the configured rules to the database, keeping when each last ran."""
        async with self._uows() as uow:
            for configured in configured_rules(self._config):
                stored = await uow.rules.get(configured.name)
                rule = replace(configured, last_run_at=stored.last_run_at if stored else None)
                if rule != stored:
                    await uow.rules.save(rule)
            rules = await uow.rules.all()
            await uow.commit()
            return rules

    async def rules(self) -> list[ReminderRule]:
        async with self._uows(read_only=True) as uow:
            return await uow.rules.all()

    async def zone(self) -> ZoneInfo:
        async with self._uows(read_only=True) as uow:
            return ZoneInfo((await uow.organization.get() or self._defaults).timezone)

    def rule(self, name: str) -> ReminderRule:
        """The configured rule by name; UnknownRule when there is none."""
        if name not in RULE_NAMES:
            raise UnknownRule(name=name)
        return next(r for r in configured_rules(self._config) if r.name == name)

    async def run(self, name: str, now: datetime | None = None, *, late: bool = False) -> int:
        """Run a rule once (idempotent per day); returns how many notifications are new.

        `late`: a catch-up after a restart, which reaches nobody inside their quiet hours.
        """
        configured = self.rule(name)
        now = now or self._clock.now()
        if name == APPROVAL_SLA:
            return await self._run_sla(configured, now)
        if name == FOLLOW_UP:
            return await self._run_follow_up(configured, now, late)
        if name == BACKUP:
            return await self._run_backup(configured, now)
        async with self._uows() as uow:
            settings = await uow.organization.get() or self._defaults
            today = now.astimezone(ZoneInfo(settings.timezone)).date()
            news: list[NewNotification] = []
            if self.calendar.is_working_day(today):
                build = {PLAN_REMINDER: self._plan_reminders, LOG_REMINDER: self._log_reminders,
                         MORNING_DIGEST: self._digests}[name]
                news = await build(uow, today, now)
            created = await publish_many(uow, news, now=now, settings=settings, late=late)
            rule = await uow.rules.get(name) or configured
            await uow.rules.save(replace(rule, last_run_at=now))
            await uow.commit()
            return created

    async def _run_sla(self, configured: ReminderRule, now: datetime) -> int:
        """Every day counts: an approval waits on a weekend too."""
        created = await self._sla(now)
        async with self._uows() as uow:
            rule = await uow.rules.get(APPROVAL_SLA) or configured
            await uow.rules.save(replace(rule, last_run_at=now))
            await uow.commit()
        return created

    async def _run_follow_up(self, configured: ReminderRule, now: datetime, late: bool) -> int:
        """On working days, like the other reminders; the pass runs in its own unit of work."""
        async with self._uows(read_only=True) as uow:
            settings = await uow.organization.get() or self._defaults
        created = 0
        if self.calendar.is_working_day(now.astimezone(ZoneInfo(settings.timezone)).date()):
            created = await self._follow_up(now, late=late, **configured.params)
        async with self._uows() as uow:
            rule = await uow.rules.get(FOLLOW_UP) or configured
            await uow.rules.save(replace(rule, last_run_at=now))
            await uow.commit()
        return created

    async def _run_backup(self, configured: ReminderRule, now: datetime) -> int:
        """Every day, at most once per day of the team's calendar, whichever process asks
        first; a failure is logged (the next day's run tries again). Notifies nobody."""
        async with self._uows() as uow:
            zone = ZoneInfo((await uow.organization.get() or self._defaults).timezone)
            midnight = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)
            claimed = await uow.rules.claim_run(configured, now, since=midnight)
            await uow.commit()
        if not claimed:
            return 0
        try:
            made = await self._backup(now)
        except BackupFailed as error:
            log.error("backup failed: %s", error)
        else:
            log.info("backup: %s", made)
        return 0

    async def run_due(self, now: datetime | None = None) -> dict[str, int]:
        """Run each rule whose time has come by the team's clock; {rule: new notifications}.

        The scheduler calls this every few seconds and once at start. A rule whose time
        passed while no bot was running is caught up within `catch_up_minutes`; such a late
        run leaves out whoever is in their quiet hours by then.
        """
        now = now or self._clock.now()
        async with self._uows(read_only=True) as uow:
            rules = await uow.rules.all()
            zone = ZoneInfo((await uow.organization.get() or self._defaults).timezone)
        window = timedelta(minutes=self._config.catch_up_minutes)
        ran: dict[str, int] = {}
        for rule in rules:
            if not rule.enabled or rule.name not in RULE_NAMES:
                continue
            if (rule.name == FOLLOW_UP and self._follow_up is None) or (
                    rule.name == APPROVAL_SLA and self._sla is None) or (
                    rule.name == BACKUP and self._backup is None):
                continue
            if rule.name == APPROVAL_SLA:
                if rule.last_run_at is None or now - rule.last_run_at >= SLA_INTERVAL:
                    ran[rule.name] = await self.run(rule.name, now)
                continue
            due = rule.due(now, zone, self.calendar, window,
                           working_days_only=rule.name not in EVERY_DAY)
            if due is not None:
                ran[rule.name] = await self.run(rule.name, now, late=now - due > ON_TIME)
        return ran

    async def refresh_digest(self, chat_id: int) -> DigestRefresh:
        """Today's digest for a bound group: posted if missing, else revised in place."""
        now = self._clock.now()
        async with self._uows() as uow:
            group = await uow.groups.by_chat(chat_id)
            if group is None or not group.active:
                raise NotFound("group_not_bound")
            settings = await uow.organization.get() or self._defaults
            today = now.astimezone(ZoneInfo(settings.timezone)).date()
            team = await _team(uow)
            payload = (await self._digest_payloads(uow, team, [group], today, now))[group.id]
            key = digest_key(group.id, today)
            before = await uow.notifications.by_key(key)
            if before is not None:
                revised = await uow.notifications.revise(key, payload)
                await uow.commit()
                return DigestRefresh(revised, False, revised.version != before.version)
            created = await publish(uow, NewNotification(
                key=key, kind=NotificationKind.DIGEST, payload=payload, group_id=group.id,
                subject_type="department", subject_id=group.department_id),
                now=now, settings=settings)
            await uow.commit()
            if created is None:  # someone posted it a moment ago
                return DigestRefresh(await uow.notifications.by_key(key), False, False)
            return DigestRefresh(created, True, True)

    # The rules. Each returns what to publish; publish_many skips keys that exist, paused
    # members and unbound groups, and moves reminders out of quiet hours.

    async def _plan_reminders(self, uow: UnitOfWork, today: date,
                              now: datetime) -> list[NewNotification]:
        day = self.calendar.next_working_day(today)
        team = await _team(uow)
        planned = await uow.schedule.planned([m.id for m in team.reps], day)
        missing = [m for m in team.reps if m.id not in planned]
        payload = {"date": day.isoformat(), "today": today.isoformat()}
        return await self._reminders(uow, team, PLAN_REMINDER, NotificationKind.PLAN_REMINDER,
                                     missing, day, payload)

    async def _log_reminders(self, uow: UnitOfWork, today: date,
                             now: datetime) -> list[NewNotification]:
        team = await _team(uow)
        logged = await uow.schedule.logged([m.id for m in team.reps], today)
        missing = [m for m in team.reps if m.id not in logged]
        payload = {"date": today.isoformat()}
        return await self._reminders(uow, team, LOG_REMINDER, NotificationKind.LOG_REMINDER,
                                     missing, today, payload)

    async def _reminders(self, uow: UnitOfWork, team: _Team, rule: str, kind: NotificationKind,
                         missing: list[Member], day: date,
                         payload: dict[str, Any]) -> list[NewNotification]:
        """One reminder per person, and one per team group naming its people."""
        news = [NewNotification(key=reminder_key(rule, m.id, day), kind=kind, payload=payload,
                                member_id=m.id) for m in missing]
        # Someone who paused their reminders is not named in front of the team either.
        named = [m for m in missing if not m.reminders_paused]
        for group in await uow.groups.active():
            people = team.in_subtree(group.department_id, named)
            if people:
                news.append(NewNotification(
                    key=group_reminder_key(rule, group.id, day), kind=kind, group_id=group.id,
                    payload={**payload, "department": team.department_name(group.department_id),
                             "people": _people(people)},
                    subject_type="department", subject_id=group.department_id))
        return news

    async def _digests(self, uow: UnitOfWork, today: date,
                       now: datetime) -> list[NewNotification]:
        groups = await uow.groups.active()
        if not groups:
            return []
        payloads = await self._digest_payloads(uow, await _team(uow), groups, today, now)
        return [NewNotification(key=digest_key(g.id, today), kind=NotificationKind.DIGEST,
                                payload=payloads[g.id], group_id=g.id,
                                subject_type="department", subject_id=g.department_id)
                for g in groups]

    async def _digest_payloads(self, uow: UnitOfWork, team: _Team, groups: Collection[TeamGroup],
                               today: date, now: datetime) -> dict[int, dict[str, Any]]:
        """Per group: each rep of its department subtree, and what they did on the last
        working day. Only what is tracked gets a column (check-ins arrive later)."""
        day = previous_working_day(self.calendar, today)
        ids = [m.id for m in team.reps]
        planned = await uow.schedule.planned(ids, day)
        logged = await uow.schedule.logged(ids, day)
        zone = (await uow.organization.get() or self._defaults).timezone
        check_ins = await uow.schedule.check_ins(ids, day, zone)
        columns = ["plan", "log", *(["check_ins"] if check_ins is not None else [])]
        payloads = {}
        for group in groups:
            rows = []
            for member in team.in_subtree(group.department_id, team.reps):
                row = {"member_id": member.id, "name": member.name,
                       "plan": member.id in planned, "log": member.id in logged}
                if check_ins is not None:
                    row["check_ins"] = check_ins.get(member.id, 0)
                rows.append(row)
            payloads[group.id] = {
                "date": today.isoformat(), "day": day.isoformat(),
                "department": team.department_name(group.department_id),
                "columns": columns, "rows": rows, "as_of": now.isoformat()}
        return payloads
