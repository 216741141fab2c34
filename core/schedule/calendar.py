"""My schedule and the team view: month marks, a day in full, today's status, rating a log."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.domain.org.model import Customer, Department, Member, OrgSettings, OrgTree
from core.domain.org.permissions import can_rate_log, can_see_member, visible_departments
from core.domain.schedule.calendar import (
    CheckInFact,
    DayMarks,
    LogEntryFact,
    LogFact,
    Month,
    PhotoFact,
    PlanItemFact,
    check_rating,
    clamp_month,
    month_range,
    week_of,
)
from core.domain.schedule.execution import Execution, ItemOutcome, ItemResult, plan_vs_log
from core.inbox.notifications import publish
from core.org.members import active_member
from core.ports import Clock, PhotoFiles, UnitOfWork, UnitOfWorkFactory


def _utc_range(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC moments from the start of `first` to the end of `last` in the team's zone."""
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def _execution(items: list[PlanItemFact]) -> Execution:
    return plan_vs_log(ItemResult(ItemOutcome(i.outcome), i.verified) for i in items)


@dataclass(frozen=True)
class MonthView:
    """One member's month: a mark per day, and which months lie either side."""

    member: Member
    own: bool
    month: Month
    today: date
    days: dict[date, DayMarks]
    clamped: bool = False
    has_previous: bool = True
    has_next: bool = True


@dataclass(frozen=True)
class DayView:
    """A day as its owner sees it: plan items with outcomes, the log, check-ins, photos."""

    member: Member
    own: bool
    day: date
    timezone: str
    items: list[PlanItemFact]
    log: LogFact | None
    entries: list[LogEntryFact]
    check_ins: list[CheckInFact]
    can_rate: bool = False
    rated_by: str | None = None

    @property
    def execution(self) -> Execution:
        return _execution(self.items)

    @property
    def photos(self) -> int:
        return sum(c.photos for c in self.check_ins)


@dataclass(frozen=True)
class TeamRow:
    """One person in the manager's "today"."""

    member: Member
    planned: bool
    logged: bool
    check_ins: int
    flagged: int  # check-ins today with a trust flag
    week: Execution


@dataclass(frozen=True)
class TeamToday:
    today: date
    rows: list[TeamRow] = field(default_factory=list)
    # The departments the manager sees, each before the ones below it.
    departments: list[Department] = field(default_factory=list)
    # Today's check-ins of the people in the rows, oldest first, and (when a map asked for
    # them) the sites of the customers those check-ins were matched to.
    check_ins: list[CheckInFact] = field(default_factory=list)
    sites: list[Customer] = field(default_factory=list)


@dataclass(frozen=True)
class Rated:
    member: Member
    day: date
    rating: int
    comment: str | None


@dataclass(frozen=True)
class ShownPhoto:
    """A visit photo with its watermark applied, ready to send."""

    data: bytes
    caption: str


def watermarked(store: PhotoFiles | None, facts: Sequence[PhotoFact], zone: ZoneInfo,
                names: Mapping[int, str]) -> list[ShownPhoto]:
    """Each photo still in the store, watermarked and captioned with who took it, when (in
    the team's zone) and where."""
    shown: list[ShownPhoto] = []
    if store is None:
        return shown
    for photo in facts:
        try:
            data = store.read(photo.sha256)
        except OSError:
            continue  # the file is gone from the store: show the others
        when = photo.taken_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        lines = [names.get(photo.member_id, "—"), f"{when} ({zone.key})",
                 photo.customer or "—"]
        shown.append(ShownPhoto(store.watermark(data, lines), " · ".join(lines)))
    return shown


class _Reader:
    """What both services share: who is asking, whom they may see, the team's clock."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults


    async def _zone(self, uow: UnitOfWork) -> tuple[ZoneInfo, str]:
        settings = await uow.organization.get() or self._defaults
        return ZoneInfo(settings.timezone), settings.timezone

    async def _subject(self, uow: UnitOfWork, actor: Member, member_id: int | None,
                       tree: OrgTree) -> Member:
        """The person whose schedule is shown; NotFound outside the actor's view."""
        if member_id is None or member_id == actor.id:
            return actor
        other = await uow.members.get(member_id)
        # Someone outside the subtree is "not found": their existence is not shown either.
        if other is None or not can_see_member(actor, other, tree):
            raise NotFound("member_not_visible")
        return other

    def _today(self, zone: ZoneInfo) -> date:
        return self._clock.now().astimezone(zone).date()

    def _shown_day(self, day: date, zone: ZoneInfo) -> date:
        """A day the calendar shows (the months it may show, seen from today); a day far off
        (a forged button, a typed address) is refused before any arithmetic on it."""
        if clamp_month(Month.of(day), self._today(zone))[1]:
            raise DomainError("day_out_of_range")
        return day


class CalendarService(_Reader):
    """My schedule, or a teammate's as their manager sees it."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 photos: PhotoFiles | None = None) -> None:
        super().__init__(uows, clock, defaults)
        self._photos = photos

    async def month(self, account_id: int, month: Month | None = None, *,
                    member_id: int | None = None) -> MonthView:
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            tree = OrgTree.of(await uow.departments.all())
            member = await self._subject(uow, actor, member_id, tree)
            zone, _ = await self._zone(uow)
            today = self._today(zone)
            shown, clamped = clamp_month(month or Month.of(today), today)
            first, last = shown.first, shown.last
            facts = uow.calendar
            planned = {d for _, d in await facts.plan_days([member.id], first, last)}
            logs = {log.day: log for log in await facts.logs([member.id], first, last)}
            check_ins: dict[date, list[CheckInFact]] = defaultdict(list)
            for check_in in await facts.check_ins([member.id], *_utc_range(first, last, zone)):
                check_ins[check_in.at.astimezone(zone).date()].append(check_in)
            days = {day: DayMarks(day, day in planned, day in logs, len(check_ins[day]),
                                  any(c.flags for c in check_ins[day]),
                                  logs[day].rating if day in logs else None)
                    for day in shown.days()}
            low, high = month_range(today)
            return MonthView(member, member.id == actor.id, shown, today, days, clamped,
                             shown > low, shown < high)

    async def day(self, account_id: int, day: date, *,
                  member_id: int | None = None) -> DayView:
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            tree = OrgTree.of(await uow.departments.all())
            member = await self._subject(uow, actor, member_id, tree)
            zone, zone_name = await self._zone(uow)
            return await _day_view(uow, actor, member, self._shown_day(day, zone), zone,
                                   zone_name, tree)

    async def photos(self, account_id: int, member_id: int | None,
                     day: date) -> list[ShownPhoto]:
        """The day's visit photos, each watermarked with who, when (team's zone) and where."""
        member, zone, facts = await self._photo_facts(account_id, member_id, day)
        return watermarked(self._photos, facts, zone, {member.id: member.name})

    async def photo(self, account_id: int, member_id: int | None, day: date,
                    number: int) -> ShownPhoto:
        """One of the day's photos (the first is 0, in the order `photos` gives them),
        watermarked the same way; NotFound past the last or when its file is gone."""
        member, zone, facts = await self._photo_facts(account_id, member_id, day)
        if not 0 <= number < len(facts):
            raise NotFound()
        # Drawing on a photo takes milliseconds of CPU: off the event loop, which serves
        # everyone else meanwhile.
        shown = await asyncio.to_thread(watermarked, self._photos, facts[number:number + 1],
                                        zone, {member.id: member.name})
        if not shown:
            raise NotFound()
        return shown[0]

    async def _photo_facts(self, account_id: int, member_id: int | None,
                           day: date) -> tuple[Member, ZoneInfo, list[PhotoFact]]:
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            tree = OrgTree.of(await uow.departments.all())
            member = await self._subject(uow, actor, member_id, tree)
            zone, _ = await self._zone(uow)
            day = self._shown_day(day, zone)
            return member, zone, await uow.calendar.photos(member.id,
                                                           *_utc_range(day, day, zone))


async def _day_view(uow: UnitOfWork, actor: Member, member: Member, day: date,
                    zone: ZoneInfo, zone_name: str, tree: OrgTree) -> DayView:
    facts = uow.calendar
    items = await facts.plan_items([member.id], day, day)
    logs = await facts.logs([member.id], day, day)
    log = logs[0] if logs else None
    entries = await facts.log_entries(log.id) if log else []
    check_ins = await facts.check_ins([member.id], *_utc_range(day, day, zone))
    rated_by = None
    if log and log.rated_by is not None:
        rater = await uow.members.get(log.rated_by)
        rated_by = rater.name if rater else None
    return DayView(member, member.id == actor.id, day, zone_name, items, log, entries,
                   check_ins, log is not None and can_rate_log(actor, member, tree), rated_by)


class TeamService(_Reader):
    """The manager's view of everyone below them, and rating their days."""

    async def today(self, account_id: int, *, with_sites: bool = False) -> TeamToday:
        """Everyone below the manager today, flagged check-ins first; `with_sites` adds the
        sites of the customers checked in at (one more read however many there are)."""
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            tree = OrgTree.of(await uow.departments.all())
            departments = visible_departments(actor, tree)
            if not departments:
                raise NotAllowed("team_managers_only")
            zone, _ = await self._zone(uow)
            today = self._today(zone)
            people = sorted((m for m in await uow.members.all()
                             if m.active and m.id != actor.id
                             and m.department_id in departments),
                            key=lambda m: m.name.casefold())
            ids = [m.id for m in people]
            facts = uow.calendar
            planned = {m for m, _ in await facts.plan_days(ids, today, today)}
            logged = {log.member_id for log in await facts.logs(ids, today, today)}
            today_check_ins = await facts.check_ins(ids, *_utc_range(today, today, zone))
            check_ins: dict[int, list[CheckInFact]] = defaultdict(list)
            for check_in in today_check_ins:
                check_ins[check_in.member_id].append(check_in)
            monday, sunday = week_of(today)
            week: dict[int, list[PlanItemFact]] = defaultdict(list)
            # Only days that have begun count: tomorrow's plan is not yet undone.
            for item in await facts.plan_items(ids, monday, min(today, sunday)):
                week[item.member_id].append(item)
            rows = [TeamRow(m, m.id in planned, m.id in logged, len(check_ins[m.id]),
                            sum(1 for c in check_ins[m.id] if c.flags), _execution(week[m.id]))
                    for m in people]
            rows.sort(key=lambda r: not r.flagged)  # stable: flagged first, then by name
            sites: list[Customer] = []
            if with_sites:
                found = await uow.sites.many({c.customer_id for c in today_check_ins
                                              if c.customer_id is not None})
                sites = sorted(found.values(), key=lambda c: c.name.casefold())
            return TeamToday(today, rows, _tree_order(tree, departments), today_check_ins,
                             sites)

    async def rate(self, account_id: int, member_id: int, day: date, rating: int,
                   comment: str | None = None) -> Rated:
        """Rate a day's log 1-5 (again: the newer rating counts); the rep is notified."""
        now = self._clock.now()
        async with self._uows() as uow:
            actor, member, log = await self._rateable(uow, account_id, member_id, day)
            comment = check_rating(rating, comment)
            await uow.calendar.rate(log.id, rating, comment, actor.id, now)
            settings = await uow.organization.get() or self._defaults
            await publish(uow, NewNotification(
                key=_rating_key(log.id, now), kind=NotificationKind.SYSTEM, member_id=member.id,
                payload=_rating_payload(day, rating, comment, actor),
                subject_type="work_log", subject_id=log.id), now=now, settings=settings)
            await uow.commit()
            return Rated(member, day, rating, comment)

    async def comment(self, account_id: int, member_id: int, day: date, text: str) -> Rated:
        """Add the comment to the rating just given; the rep's notice is edited to show it."""
        async with self._uows() as uow:
            actor, member, log = await self._rateable(uow, account_id, member_id, day)
            if log.rating is None or log.rated_at is None:
                raise NotFound("no_rating_to_comment")
            comment = check_rating(log.rating, text)
            await uow.calendar.rate(log.id, log.rating, comment, actor.id, log.rated_at)
            payload = _rating_payload(day, log.rating, comment, actor)
            key = _rating_key(log.id, log.rated_at)
            if await uow.notifications.revise(key, payload) is None:
                settings = await uow.organization.get() or self._defaults
                await publish(uow, NewNotification(
                    key=key, kind=NotificationKind.SYSTEM, member_id=member.id, payload=payload,
                    subject_type="work_log", subject_id=log.id),
                    now=self._clock.now(), settings=settings)
            await uow.commit()
            return Rated(member, day, log.rating, comment)

    async def _rateable(self, uow: UnitOfWork, account_id: int, member_id: int,
                        day: date) -> tuple[Member, Member, LogFact]:
        actor = await active_member(uow, account_id)
        tree = OrgTree.of(await uow.departments.all())
        member = await self._subject(uow, actor, member_id, tree)
        if not can_rate_log(actor, member, tree):
            raise NotAllowed("rating_not_allowed")
        logs = await uow.calendar.logs([member.id], day, day)
        if not logs:
            raise NotFound("no_log_to_rate")
        return actor, member, logs[0]


def _tree_order(tree: OrgTree, ids: set[int]) -> list[Department]:
    """The departments of `ids`, each followed by those below it."""
    ordered: list[Department] = []
    stack = [d for d in sorted(tree.departments.values(), key=lambda d: d.key, reverse=True)
             if d.id in ids and d.parent_id not in ids]
    while stack:
        department = stack.pop()
        ordered.append(department)
        stack.extend(reversed([d for d in tree.children(department.id) if d.id in ids]))
    return ordered


def _rating_key(log_id: int, rated_at: datetime) -> str:
    return f"log_rated:{log_id}:{rated_at.astimezone(UTC):%Y%m%dT%H%M%S}"


def _rating_payload(day: date, rating: int, comment: str | None, by: Member) -> dict:
    return {"event": "log_rated", "day": day.isoformat(), "rating": rating,
            "comment": comment, "by": by.name}
