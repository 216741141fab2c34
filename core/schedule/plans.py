"""Plans and work logs: what a rep will do on a day, what they did, and plan vs log.

Days are the team's local days; times are stored in UTC. A plan is written in one go: the
conversation keeps a small draft and `PlanService.save` stores it in one unit of work, so
an abandoned or interrupted draft leaves nothing behind. A log is saved press by press.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.domain.errors import NotFound
from core.domain.inbox.reminders import WorkCalendar
from core.domain.opportunities.pipeline import Opportunity
from core.domain.org.model import Customer, Member, OrgSettings, customers_matching
from core.domain.schedule.execution import (
    NOTHING_PLANNED,
    Execution,
    ItemOutcome,
    PlanRefused,
    check_item_text,
    check_plan_day,
    plan_vs_log,
)
from core.domain.schedule.plans import (
    LogEntry,
    NewItem,
    PlanItem,
    Visit,
    check_editable,
    check_item_count,
    check_log_day,
    check_move,
    check_owner,
    item_result,
    parse_time,
)
from core.inbox.reminders import LOG_REMINDER, PLAN_REMINDER, reminder_key
from core.opportunities.pipeline import workable_opportunity
from core.org.members import active_member
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory

CUSTOMER_CHOICES = 6


@dataclass(frozen=True)
class PlanDay:
    """A member's plan for one day, as stored."""

    day: date
    items: list[PlanItem]
    today: date

    @property
    def editable(self) -> bool:
        return self.day >= self.today


@dataclass(frozen=True)
class DayLog:
    """A member's day as the log sees it: plan items with outcomes, unplanned work, proof."""

    day: date
    items: list[PlanItem]
    entries: list[LogEntry]
    visits: list[Visit]
    execution: Execution
    logged: bool
    late: bool  # amended after its day
    today: date

    def verified(self, item: PlanItem) -> bool:
        proven = {(v.member_id, v.day, v.customer_id) for v in self.visits if v.proves_visit}
        return item_result(item, proven).verified


def check_text(text: str) -> str:
    """An item's or a note's text, trimmed; PlanRefused when empty or too long."""
    return check_item_text(text)


def check_time(text: str) -> str:
    return parse_time(text)


class _Schedule:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 calendar: WorkCalendar) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self.calendar = calendar

    async def _zone(self, uow: UnitOfWork) -> ZoneInfo:
        return ZoneInfo((await uow.organization.get() or self._defaults).timezone)

    async def _today(self, uow: UnitOfWork) -> date:
        return self._clock.now().astimezone(await self._zone(uow)).date()

    @staticmethod
    async def _answered(uow: UnitOfWork, rule: str, member_id: int, day: date) -> None:
        """The member's reminder for the day, if it still waits (quiet hours), is no longer
        true: it is not sent."""
        await uow.notifications.withdraw(reminder_key(rule, member_id, day), quietly=True)

    async def _touch_log(self, uow: UnitOfWork, member_id: int, day: date, now: datetime, *,
                         late: bool) -> int:
        """The day's log is written to (created if missing); its reminder is answered."""
        log_id = await uow.work_logs.touch(member_id, day, now, late=late)
        await self._answered(uow, LOG_REMINDER, member_id, day)
        return log_id

    async def _own_item(self, uow: UnitOfWork, member: Member, item_id: int) -> PlanItem:
        item = await uow.plans.item(item_id)
        if item is None:
            raise NotFound("item_not_found")
        check_owner(item, member.id)
        return item


class PlanService(_Schedule):
    """Writing a day's plan, and editing or deleting its items until the day is over."""

    async def open_day(self, account_id: int, day: date | None = None) -> PlanDay:
        """The plan for `day` (default: the next working day), refused for past or far days."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            today = await self._today(uow)
            day = day or self.calendar.next_working_day(today)
            check_plan_day(day, today)
            return PlanDay(day, await uow.plans.items(member.id, day), today)

    async def customers(self, account_id: int, search: str | None = None) -> list[Customer]:
        """Customers to link: those the rep planned lately first, or those matching `search`."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            everyone = customers_matching(await uow.customers.all())
            if search is not None:
                return customers_matching(everyone, search)[:CUSTOMER_CHOICES]
            by_id = {c.id: c for c in everyone}
            recent = [by_id[i] for i in await uow.plans.recent_customer_ids(
                member.id, CUSTOMER_CHOICES) if i in by_id]
            rest = [c for c in everyone if c not in recent]
            return (recent + rest)[:CUSTOMER_CHOICES]

    async def customer(self, customer_id: int) -> Customer | None:
        async with self._uows(read_only=True) as uow:
            return next((c for c in await uow.customers.all() if c.id == customer_id), None)

    async def opportunities(self, account_id: int) -> list[Opportunity]:
        """The rep's open opportunities, closing soonest first, offered next to customers."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            return (await uow.opportunities.open_for(member.id))[:CUSTOMER_CHOICES]

    async def opportunity(self, account_id: int, opportunity_id: int) -> Opportunity:
        """An open deal the speaker works, to plan an item for (NotFound for any other)."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            return await workable_opportunity(uow, member, opportunity_id)

    async def save(self, account_id: int, day: date, items: list[NewItem]) -> PlanDay:
        """Add the drafted items to the day's plan, all or nothing."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            today = await self._today(uow)
            check_plan_day(day, today)
            existing = await uow.plans.items(member.id, day)
            check_item_count(len(existing) + len(items) - 1)
            customers = {c.id for c in await uow.customers.all()}
            clean = []
            for item in items:
                if item.opportunity_id is not None:
                    # Checked again at saving: the deal may have closed or changed hands.
                    linked = await workable_opportunity(uow, member, item.opportunity_id)
                    item = replace(item, customer_id=linked.customer_id)
                if item.customer_id is not None and item.customer_id not in customers:
                    raise NotFound("customer_not_found")
                clean.append(replace(item, text=check_item_text(item.text),
                                     at_time=parse_time(item.at_time) if item.at_time else None))
            if clean:
                await uow.plans.add_items(member.id, day, clean, self._clock.now())
                await self._answered(uow, PLAN_REMINDER, member.id, day)
            await uow.commit()
            return PlanDay(day, await uow.plans.items(member.id, day), today)

    async def edit_item(self, account_id: int, item_id: int, text: str) -> PlanDay:
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            today = await self._today(uow)
            item = await self._own_item(uow, member, item_id)
            check_editable(item, member.id, today)
            await uow.plans.update_item(replace(item, text=check_item_text(text)))
            await uow.commit()
            return PlanDay(item.day, await uow.plans.items(member.id, item.day), today)

    async def delete_item(self, account_id: int, item_id: int) -> PlanDay:
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            today = await self._today(uow)
            item = await self._own_item(uow, member, item_id)
            check_editable(item, member.id, today)
            await uow.plans.delete_item(item.id)
            await uow.commit()
            return PlanDay(item.day, await uow.plans.items(member.id, item.day), today)


class WorkLogService(_Schedule):
    """The day's log: outcomes of plan items, notes, unplanned work, and plan vs log."""

    async def _day_log(self, uow: UnitOfWork, member: Member, day: date,
                       today: date) -> DayLog:
        items = await uow.plans.items(member.id, day)
        visits = await uow.visits.visits([member.id], day, day, await self._zone(uow))
        proven = {(v.member_id, v.day, v.customer_id) for v in visits if v.proves_visit}
        return DayLog(
            day=day, items=items, entries=await uow.work_logs.entries(member.id, day),
            visits=visits, execution=plan_vs_log(item_result(i, proven) for i in items),
            logged=await uow.work_logs.exists(member.id, day),
            late=await uow.work_logs.amended_late(member.id, day), today=today)

    async def open_day(self, account_id: int, day: date | None = None) -> DayLog:
        """The log for `day` (default: today); days still to come are refused."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            today = await self._today(uow)
            day = day or today
            check_log_day(day, today)
            return await self._day_log(uow, member, day, today)

    async def item_day(self, account_id: int, item_id: int) -> DayLog:
        """The log of the day of one of the speaker's own items."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            item = await self._own_item(uow, member, item_id)
            return await self._day_log(uow, member, item.day, await self._today(uow))

    async def mark(self, account_id: int, item_id: int, outcome: ItemOutcome,
                   moved_to: date | None = None) -> DayLog:
        """Done, not done, or moved to a later day (where it is added to that day's plan)."""
        now = self._clock.now()
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            today = await self._today(uow)
            item = await self._own_item(uow, member, item_id)
            check_log_day(item.day, today)
            if item.outcome is ItemOutcome.MOVED:
                raise PlanRefused("item_moved", day=item.moved_to)
            if outcome is ItemOutcome.OPEN:
                raise PlanRefused("outcome_unknown")
            late = today > item.day
            verified_by = None
            if outcome is ItemOutcome.MOVED:
                if moved_to is None:
                    raise PlanRefused("move_not_later")
                check_move(item, moved_to, today)
                await uow.plans.add_items(member.id, moved_to, [NewItem(
                    item.text, item.customer_id, item.at_time, item.opportunity_id)], now)
            else:
                moved_to = None
            if outcome is ItemOutcome.DONE and item.customer_id is not None:
                visits = await uow.visits.visits([member.id], item.day, item.day,
                                                 await self._zone(uow))
                verified_by = next((v.id for v in visits if v.proves_visit
                                    and v.customer_id == item.customer_id), None)
            await uow.plans.update_item(replace(
                item, outcome=outcome, moved_to=moved_to, verified_check_in_id=verified_by,
                logged_late=item.logged_late or late), logged_at=now)
            await self._touch_log(uow, member.id, item.day, now, late=late)
            await uow.commit()
            return await self._day_log(uow, member, item.day, today)

    async def note(self, account_id: int, item_id: int, text: str) -> DayLog:
        """A note on a plan item's outcome."""
        now = self._clock.now()
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            today = await self._today(uow)
            item = await self._own_item(uow, member, item_id)
            check_log_day(item.day, today)
            late = today > item.day
            await uow.plans.update_item(replace(item, note=check_item_text(text),
                                                logged_late=item.logged_late or late),
                                        logged_at=now)
            await self._touch_log(uow, member.id, item.day, now, late=late)
            await uow.commit()
            return await self._day_log(uow, member, item.day, today)

    async def add_unplanned(self, account_id: int, day: date, text: str) -> DayLog:
        """Work done that was not in the plan."""
        now = self._clock.now()
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            today = await self._today(uow)
            check_log_day(day, today)
            late = today > day
            log_id = await self._touch_log(uow, member.id, day, now, late=late)
            await uow.work_logs.add_entry(log_id, check_item_text(text), None, late=late,
                                          now=now)
            await uow.commit()
            return await self._day_log(uow, member, day, today)

    async def finish(self, account_id: int, day: date) -> DayLog:
        """The rep is done logging the day: the log is kept even with nothing marked or added.

        A day of check-ins only, or with nothing planned, is still a day logged: the manager's
        view and the log reminder go by the log, not by what is in it.
        """
        now = self._clock.now()
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            today = await self._today(uow)
            check_log_day(day, today)
            if not await uow.work_logs.exists(member.id, day):
                await self._touch_log(uow, member.id, day, now, late=today > day)
                await uow.commit()
            return await self._day_log(uow, member, day, today)

    async def execution(self, member_ids: Collection[int], first_day: date,
                        last_day: date) -> dict[int, Execution]:
        """Plan vs log per member over local days `first_day`..`last_day` (inclusive).

        Every member asked about is in the answer; one without plans has planned == 0.
        """
        async with self._uows(read_only=True) as uow:
            return await self._execution(uow, member_ids, first_day, last_day)

    async def _execution(self, uow: UnitOfWork, member_ids: Collection[int], first_day: date,
                         last_day: date) -> dict[int, Execution]:
        items = await uow.plans.items_between(member_ids, first_day, last_day)
        visits = await uow.visits.visits(member_ids, first_day, last_day, await self._zone(uow))
        proven = {(v.member_id, v.day, v.customer_id) for v in visits if v.proves_visit}
        result = {member_id: NOTHING_PLANNED for member_id in member_ids}
        for item in items:
            result[item.member_id] = result[item.member_id] + plan_vs_log(
                [item_result(item, proven)])
        return result

    async def my_week(self, account_id: int, day: date) -> Execution:
        """The speaker's plan vs log over the week of `day`, up to today (plans ahead wait)."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            first, last = week_of(day)
            last = min(last, await self._today(uow))
            return (await self._execution(uow, [member.id], first, last))[member.id]

    async def today(self) -> date:
        async with self._uows(read_only=True) as uow:
            return await self._today(uow)


def week_of(day: date) -> tuple[date, date]:
    """Monday..Sunday around `day`."""
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)

