"""Goals and follow-ups: targets with their progress, and the daily pass over the pipeline.

A goal belongs to a member or a department for a month, quarter or year. Its progress is
read, each time, from what the other modules stored (check-ins, opportunities and their
stage history, approved claims), so there is no counter to drift from the truth.

Reaching a goal is noticed where progress is computed: whenever someone opens /goals, and
once a day in the follow-up rule's run (core.reminders). Either way the congratulation's key
(goal, period, group) lets it be posted only once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.config import PipelineConfig
from core.domain.errors import DomainError, NotAllowed
from core.domain.expenses.budgets import UnitKind
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.domain.inbox.reminders import WorkCalendar
from core.domain.opportunities.goals import (
    Goal,
    Metric,
    Progress,
    current_periods,
    expense_ratio,
    follow_up_key,
    follow_up_reason,
    parse_goal_period,
    parse_metric,
    parse_target,
    parse_unit,
    rank,
    reached_key,
    working_days_left,
)
from core.domain.org.model import Member, OrgSettings, OrgTree, Role
from core.domain.period import Period, PeriodError
from core.inbox.notifications import publish, publish_many
from core.opportunities.pipeline import pipeline_of
from core.org.members import active_member
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory

# A won-amount target may sum many deals: this many times the largest believable deal.
WON_TARGET_FACTOR = 1000
# The daily pass also looks back this far, so a goal reached on its period's last day (or a
# ceiling kept until its end) is still congratulated.
LOOK_BACK = timedelta(days=7)


@dataclass(frozen=True)
class GoalLine:
    """A goal as /goals shows it: whose, how far, and the working days left to get there."""

    progress: Progress
    unit_name: str
    days_left: int


@dataclass(frozen=True)
class GoalsView:
    mine: list[GoalLine]
    team: list[GoalLine]  # a manager's people and departments, furthest along first
    is_manager: bool
    today: date
    currency: str
    congratulated: int  # congratulations this view posted


@dataclass(frozen=True)
class SetGoal:
    goal: Goal
    unit_name: str
    created: bool
    currency: str


@dataclass(frozen=True)
class _Org:
    """Who is who, loaded once per unit of work."""

    tree: OrgTree
    members: dict[int, Member]
    settings: OrgSettings

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def unit_name(self, goal: Goal) -> str:
        if goal.unit_kind == UnitKind.MEMBER:
            member = self.members.get(goal.unit_id)
            return member.name if member else "?"
        department = self.tree.departments.get(goal.unit_id)
        return department.name if department else "?"

    def department_of(self, goal: Goal) -> int | None:
        if goal.unit_kind == UnitKind.MEMBER:
            member = self.members.get(goal.unit_id)
            # A retired member's goals leave the team's list and its congratulations.
            return member.department_id if member and member.active else None
        return goal.unit_id if goal.unit_id in self.tree.departments else None


def may_set_goal(actor: Member, department_id: int, tree: OrgTree) -> bool:
    """Managers of the unit's department (or one above it) and admins."""
    if not actor.active:
        return False
    return actor.has(Role.ADMIN) or department_id in tree.managed_by(actor)


class GoalService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 pipeline: PipelineConfig, calendar: WorkCalendar) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self._won_stage = pipeline_of(pipeline).won.key
        self._max_won = pipeline.max_amount * WON_TARGET_FACTOR
        self.calendar = calendar

    async def _org(self, uow: UnitOfWork) -> _Org:
        members = {m.id: m for m in await uow.members.all()}
        return _Org(OrgTree.of(await uow.departments.all()), members,
                    await uow.organization.get() or self._defaults)

    # Setting a target ----------------------------------------------------------------------

    async def set(self, account_id: int, unit: str, metric: str, period: str,
                  target: str) -> SetGoal:
        """`/goals set member:carol visits 2026-12 20`: create or change the target."""
        now = self._clock.now()
        async with self._uows() as uow:
            actor = await active_member(uow, account_id)
            org = await self._org(uow)
            kind, key = parse_unit(unit)
            read_metric = parse_metric(metric)
            read_period = parse_goal_period(period, now.astimezone(org.zone).date())
            value = parse_target(read_metric, target, org.settings.currency, self._max_won)
            unit_id, department_id = self._unit(org, kind, key)
            if not may_set_goal(actor, department_id, org.tree):
                raise NotAllowed("goal_not_allowed")
            before = await uow.goals.find(kind, unit_id, read_metric, read_period.label)
            if before is None:
                goal = await uow.goals.add(Goal(None, kind, unit_id, read_metric, read_period,
                                                value, actor.id, now))
            else:
                goal = replace(before, target=value, set_by=actor.id, set_at=now)
                await uow.goals.update(goal)
            await uow.commit()
            return SetGoal(goal, org.unit_name(goal), before is None, org.settings.currency)

    @staticmethod
    def _unit(org: _Org, kind: UnitKind, key: str) -> tuple[int, int]:
        """(unit id, the department whose managers may set its goals)."""
        if kind == UnitKind.MEMBER:
            member = next((m for m in org.members.values() if m.key == key and m.active), None)
            if member is None:
                raise DomainError("goal_unit_unknown")
            return member.id, member.department_id
        department = next((d for d in org.tree.departments.values() if d.key == key), None)
        if department is None:
            raise DomainError("goal_unit_unknown")
        return department.id, department.id

    # Progress ------------------------------------------------------------------------------

    async def view(self, account_id: int, period: str | None = None) -> GoalsView:
        """My goals and, for managers, their team's, in the current periods (or the one
        named); congratulates, once, whatever is found reached."""
        now = self._clock.now()
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            org = await self._org(uow)
            today = now.astimezone(org.zone).date()
            periods = [_period(period)] if period else current_periods(today)
            goals = await uow.goals.in_periods([p.label for p in periods])
            managed = set(org.tree.departments) if member.has(Role.ADMIN) else \
                org.tree.managed_by(member)
            mine = [g for g in goals if g.unit_kind == UnitKind.MEMBER and g.unit_id == member.id]
            team = [g for g in goals if g not in mine and org.department_of(g) in managed]
            mine_lines = [await self._line(uow, org, g, today) for g in mine]
            team_lines = [await self._line(uow, org, g, today) for g in team]
        reached = [line.progress for line in [*mine_lines, *team_lines]
                   if line.progress.reached]
        congratulated = await self._congratulate(reached, now) if reached else 0
        by_progress = {id(line.progress): line for line in team_lines}
        return GoalsView(
            mine=sorted(mine_lines, key=lambda line: (line.progress.goal.period.label,
                                                      line.progress.goal.metric.value)),
            team=[by_progress[id(p)] for p in rank([line.progress for line in team_lines])],
            is_manager=bool(managed), today=today, currency=org.settings.currency,
            congratulated=congratulated)

    async def _line(self, uow: UnitOfWork, org: _Org, goal: Goal, today: date) -> GoalLine:
        progress = await self.measure(uow, org, goal, today)
        return GoalLine(progress, org.unit_name(goal),
                        working_days_left(self.calendar, today, goal.period))

    async def measure(self, uow: UnitOfWork, org: _Org, goal: Goal, today: date) -> Progress:
        """The goal's value from the stored facts of its period (up to now)."""
        start, end = _bounds(goal.period, org.zone)
        member_id, departments = None, None
        if goal.unit_kind == UnitKind.MEMBER:
            member_id = goal.unit_id
        elif goal.unit_id in org.tree.departments:
            departments = org.tree.subtree_ids(goal.unit_id)
        else:
            departments = set()
        if goal.metric == Metric.VISITS:
            people = [member_id] if member_id is not None else [
                m.id for m in org.members.values() if m.department_id in departments]
            value = Decimal(await uow.goals.verified_visits(people, start, end))
            return Progress(goal, value, today)
        if goal.metric == Metric.NEW:
            value = Decimal(await uow.goals.opportunities_created(member_id, departments,
                                                                  start, end))
            return Progress(goal, value, today)
        won = await uow.goals.won_amount(member_id, departments, self._won_stage, start, end)
        if goal.metric == Metric.WON:
            return Progress(goal, won, today, won=won)
        expenses = await uow.goals.approved_expenses(member_id, departments, goal.period.start,
                                                     goal.period.end)
        return Progress(goal, expense_ratio(expenses, won), today, expenses=expenses, won=won)

    # Congratulations -----------------------------------------------------------------------

    async def _congratulate(self, reached: list[Progress], now: datetime) -> int:
        async with self._uows() as uow:
            org = await self._org(uow)
            created = await self._publish_reached(uow, org, reached, now)
            await uow.commit()
            return created

    async def _publish_reached(self, uow: UnitOfWork, org: _Org, reached: list[Progress],
                               now: datetime) -> int:
        groups = {g.department_id: g for g in await uow.groups.active()}
        created = 0
        for progress in reached:
            goal = progress.goal
            department_id = org.department_of(goal)
            group = _team_group(org.tree, groups, department_id)
            if group is None:
                continue
            notification = await publish(uow, NewNotification(
                key=reached_key(goal, group.id), kind=NotificationKind.GOAL_REACHED,
                group_id=group.id, subject_type="goal", subject_id=goal.id,
                payload={"unit": org.unit_name(goal), "unit_kind": str(goal.unit_kind),
                         "metric": str(goal.metric), "period": goal.period.label,
                         "target": str(goal.target), "currency": org.settings.currency,
                         "value": None if progress.value is None else str(progress.value)}),
                now=now, settings=org.settings)
            created += notification is not None
        return created

    # The daily pass ------------------------------------------------------------------------

    async def run_daily(self, now: datetime, *, close_within_days: int, idle_days: int,
                        late: bool = False) -> int:
        """The follow-up rule: reminders for deals closing soon or idle, and congratulations
        for goals reached. Returns how many notifications are new."""
        async with self._uows() as uow:
            org = await self._org(uow)
            today = now.astimezone(org.zone).date()
            created = await self._follow_ups(uow, org, today, now, close_within_days, idle_days,
                                             late)
            labels = {p.label for day in (today, today - LOOK_BACK)
                      for p in current_periods(day)}
            reached = []
            for goal in await uow.goals.in_periods(labels):
                if goal.period.end + LOOK_BACK <= today:
                    continue
                progress = await self.measure(uow, org, goal, today)
                if progress.reached:
                    reached.append(progress)
            created += await self._publish_reached(uow, org, reached, now)
            await uow.commit()
            return created

    async def _follow_ups(self, uow: UnitOfWork, org: _Org, today: date, now: datetime,
                          close_within_days: int, idle_days: int, late: bool) -> int:
        idle_before = _local_midnight(today - timedelta(days=idle_days - 1), org.zone)
        deals = await uow.goals.due_for_follow_up(
            today + timedelta(days=close_within_days), idle_before)
        news = []
        for deal in deals:
            last = (deal.last_activity_at or deal.created_at or now).astimezone(org.zone).date()
            reason = follow_up_reason(deal.expected_close, last, today,
                                      close_within_days=close_within_days, idle_days=idle_days)
            if reason is None:
                continue
            news.append(NewNotification(
                key=follow_up_key(deal.id, today), kind=NotificationKind.FOLLOW_UP,
                member_id=deal.owner_id, subject_type="opportunity", subject_id=deal.id,
                payload={"opportunity_id": deal.id, "title": deal.title,
                         "customer": deal.customer_name, "reason": reason,
                         "expected_close": deal.expected_close.isoformat(),
                         "idle_days": (today - last).days, "amount": str(deal.amount),
                         "currency": deal.currency}))
        return await publish_many(uow, news, now=now, settings=org.settings, late=late)


def _team_group(tree: OrgTree, groups: dict, department_id: int | None):
    """The group bound to the department, or else to the nearest department above it."""
    if department_id is None or department_id not in tree.departments:
        return None
    for department in [tree.departments[department_id], *tree.ancestors(department_id)]:
        if department.id in groups:
            return groups[department.id]
    return None


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except PeriodError:
        raise DomainError("goal_period") from None


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _bounds(period: Period, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The period's first and first-after moments, in the team's zone."""
    return _local_midnight(period.start, zone), _local_midnight(period.end, zone)
