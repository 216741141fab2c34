"""Plans, their items, work logs and the check-ins the schedule reads."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.schedule.checkins import parse_flags
from core.domain.schedule.execution import ItemOutcome
from core.domain.schedule.plans import LogEntry, NewItem, PlanItem, Visit
from storage.tables import (
    CheckInRow,
    CustomerRow,
    LogEntryRow,
    PlanItemRow,
    PlanRow,
    WorkLogRow,
)
from storage.value_lists import one_of


def _item(row: PlanItemRow, plan: PlanRow, customer_name: str | None) -> PlanItem:
    return PlanItem(
        id=row.id, member_id=plan.member_id, day=plan.day, position=row.position,
        text=row.text, customer_id=row.customer_id, customer_name=customer_name,
        at_time=row.at_time, outcome=ItemOutcome(row.outcome), moved_to=row.moved_to,
        note=row.note, verified_check_in_id=row.verified_check_in_id,
        logged_late=row.logged_late, opportunity_id=row.opportunity_id)


class SqlPlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _items_query(self):
        return (select(PlanItemRow, PlanRow, CustomerRow.name)
                .join(PlanRow, PlanItemRow.plan_id == PlanRow.id)
                .outerjoin(CustomerRow, PlanItemRow.customer_id == CustomerRow.id))

    async def items(self, member_id: int, day: date) -> list[PlanItem]:
        """The day's plan items in order (empty when there is no plan)."""
        rows = await self.session.execute(self._items_query().where(
            PlanRow.member_id == member_id, PlanRow.day == day).order_by(
                PlanItemRow.position, PlanItemRow.id))
        return [_item(*row) for row in rows]

    async def items_between(self, member_ids: Collection[int], first: date,
                            last: date) -> list[PlanItem]:
        if not member_ids:
            return []
        rows = await self.session.execute(self._items_query().where(
            one_of(PlanRow.member_id, member_ids), PlanRow.day >= first,
            PlanRow.day <= last))
        return [_item(*row) for row in rows]

    async def item(self, item_id: int) -> PlanItem | None:
        row = (await self.session.execute(
            self._items_query().where(PlanItemRow.id == item_id))).first()
        return _item(*row) if row else None

    async def add_items(self, member_id: int, day: date, items: list[NewItem],
                        now: datetime) -> list[int]:
        """Append items to the day's plan, creating the plan if there is none."""
        plan = await self.session.scalar(select(PlanRow).where(
            PlanRow.member_id == member_id, PlanRow.day == day))
        if plan is None:
            plan = PlanRow(member_id=member_id, day=day, created_at=now, updated_at=now)
            self.session.add(plan)
            await self.session.flush()
        else:
            plan.updated_at = now
        position = await self.session.scalar(
            select(func.coalesce(func.max(PlanItemRow.position), 0)).where(
                PlanItemRow.plan_id == plan.id))
        rows = []
        for offset, new in enumerate(items, start=1):
            rows.append(PlanItemRow(plan_id=plan.id, position=position + offset, text=new.text,
                                    customer_id=new.customer_id, at_time=new.at_time,
                                    opportunity_id=new.opportunity_id,
                                    outcome=ItemOutcome.OPEN.value, logged_late=False,
                                    created_at=now))
        self.session.add_all(rows)
        await self.session.flush()
        return [row.id for row in rows]

    async def update_item(self, item: PlanItem, logged_at: datetime | None = None) -> None:
        row = await self.session.get(PlanItemRow, item.id)
        row.text, row.customer_id, row.at_time = item.text, item.customer_id, item.at_time
        row.outcome, row.moved_to, row.note = item.outcome.value, item.moved_to, item.note
        row.verified_check_in_id, row.logged_late = item.verified_check_in_id, item.logged_late
        if logged_at is not None:
            row.logged_at = logged_at
        await self.session.flush()

    async def delete_item(self, item_id: int) -> None:
        await self.session.execute(delete(PlanItemRow).where(PlanItemRow.id == item_id))

    async def recent_customer_ids(self, member_id: int, limit: int) -> list[int]:
        """Customers the member planned most recently, newest first."""
        rows = await self.session.execute(
            select(PlanItemRow.customer_id, func.max(PlanItemRow.id).label("last"))
            .join(PlanRow, PlanItemRow.plan_id == PlanRow.id)
            .where(PlanRow.member_id == member_id, PlanItemRow.customer_id.is_not(None))
            .group_by(PlanItemRow.customer_id).order_by(func.max(PlanItemRow.id).desc())
            .limit(limit))
        return [row[0] for row in rows]


class SqlWorkLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _row(self, member_id: int, day: date) -> WorkLogRow | None:
        return await self.session.scalar(select(WorkLogRow).where(
            WorkLogRow.member_id == member_id, WorkLogRow.day == day))

    async def exists(self, member_id: int, day: date) -> bool:
        return await self._row(member_id, day) is not None

    async def touch(self, member_id: int, day: date, now: datetime, *, late: bool) -> int:
        """The day's log (created if missing), marked as amended late when `late`."""
        row = await self._row(member_id, day)
        if row is None:
            row = WorkLogRow(member_id=member_id, day=day, created_at=now, updated_at=now,
                             amended_late=late)
            self.session.add(row)
        else:
            row.updated_at = now
            row.amended_late = row.amended_late or late
        await self.session.flush()
        return row.id

    async def amended_late(self, member_id: int, day: date) -> bool:
        row = await self._row(member_id, day)
        return bool(row and row.amended_late)

    async def add_entry(self, log_id: int, text: str, customer_id: int | None, *, late: bool,
                        now: datetime) -> int:
        row = LogEntryRow(log_id=log_id, text=text, customer_id=customer_id, late=late,
                          created_at=now)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def entries(self, member_id: int, day: date) -> list[LogEntry]:
        rows = await self.session.scalars(
            select(LogEntryRow).join(WorkLogRow, LogEntryRow.log_id == WorkLogRow.id)
            .where(WorkLogRow.member_id == member_id, WorkLogRow.day == day)
            .order_by(LogEntryRow.id))
        return [LogEntry(r.id, r.text, r.customer_id, r.late) for r in rows]


class SqlCheckInFacts:
    """Reads the check_ins table (the check-in module writes it)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def visits(self, member_ids: Collection[int], first: date, last: date,
                     zone: ZoneInfo) -> list[Visit]:
        if not member_ids:
            return []
        start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        rows = await self.session.scalars(select(CheckInRow).where(
            one_of(CheckInRow.member_id, member_ids), CheckInRow.at >= start,
            CheckInRow.at < end).order_by(CheckInRow.at))
        return [Visit(r.id, r.member_id, r.at.astimezone(zone).date(), r.customer_id,
                      parse_flags(r.flags)) for r in rows]
