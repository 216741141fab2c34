"""The calendar's reads over plans, plan items, work logs, log entries, check-ins and photos."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.schedule.calendar import (
    CheckInFact,
    LogEntryFact,
    LogFact,
    PhotoFact,
    PlanItemFact,
)
from core.domain.schedule.checkins import TrustFlag, parse_flags
from storage.tables import (
    CheckInRow,
    CustomerRow,
    LogEntryRow,
    PlanItemRow,
    PlanRow,
    VisitPhotoRow,
    WorkLogRow,
)
from storage.value_lists import one_of


def _log(row: WorkLogRow) -> LogFact:
    return LogFact(row.id, row.member_id, row.day, row.note, row.amended_late, row.rating,
                   row.rating_comment, row.rated_by, row.rated_at)


class SqlCalendarFacts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def plan_days(self, member_ids: Collection[int], first: date,
                        last: date) -> set[tuple[int, date]]:
        if not member_ids:
            return set()
        rows = await self.session.execute(
            select(PlanRow.member_id, PlanRow.day).where(
                one_of(PlanRow.member_id, member_ids), PlanRow.day.between(first, last)))
        return {(member_id, day) for member_id, day in rows}

    async def plan_items(self, member_ids: Collection[int], first: date,
                         last: date) -> list[PlanItemFact]:
        if not member_ids:
            return []
        rows = await self.session.execute(
            select(PlanItemRow, PlanRow.member_id, PlanRow.day, CustomerRow.name)
            .join(PlanRow, PlanItemRow.plan_id == PlanRow.id)
            .outerjoin(CustomerRow, PlanItemRow.customer_id == CustomerRow.id)
            .where(one_of(PlanRow.member_id, member_ids), PlanRow.day.between(first, last))
            .order_by(PlanRow.day, PlanItemRow.position, PlanItemRow.id))
        return [PlanItemFact(member_id, day, item.position, item.text, item.outcome,
                             item.at_time, customer, item.moved_to, item.note,
                             item.verified_check_in_id is not None, item.logged_late)
                for item, member_id, day, customer in rows]

    async def logs(self, member_ids: Collection[int], first: date, last: date) -> list[LogFact]:
        if not member_ids:
            return []
        rows = await self.session.scalars(
            select(WorkLogRow).where(one_of(WorkLogRow.member_id, member_ids),
                                     WorkLogRow.day.between(first, last))
            .order_by(WorkLogRow.day))
        return [_log(r) for r in rows]

    async def log_entries(self, log_id: int) -> list[LogEntryFact]:
        rows = await self.session.execute(
            select(LogEntryRow, CustomerRow.name)
            .outerjoin(CustomerRow, LogEntryRow.customer_id == CustomerRow.id)
            .where(LogEntryRow.log_id == log_id).order_by(LogEntryRow.id))
        return [LogEntryFact(entry.text, customer, entry.late) for entry, customer in rows]

    async def check_ins(self, member_ids: Collection[int], start: datetime,
                        end: datetime) -> list[CheckInFact]:
        if not member_ids:
            return []
        photos = (select(func.count(VisitPhotoRow.id))
                  .where(VisitPhotoRow.check_in_id == CheckInRow.id)
                  .correlate(CheckInRow).scalar_subquery())
        # Plain columns, not ORM objects: a manager's day reads thousands of check-ins.
        rows = await self.session.execute(
            select(CheckInRow.id, CheckInRow.member_id, CheckInRow.at, CheckInRow.lat,
                   CheckInRow.lon, CheckInRow.flags, CustomerRow.name, CheckInRow.distance_m,
                   CheckInRow.accuracy_m, CheckInRow.checked_out_at, photos,
                   CheckInRow.customer_id)
            .outerjoin(CustomerRow, CheckInRow.customer_id == CustomerRow.id)
            .where(one_of(CheckInRow.member_id, member_ids), CheckInRow.at >= start,
                   CheckInRow.at < end)
            .order_by(CheckInRow.at, CheckInRow.id))
        flags: dict[str, frozenset[TrustFlag]] = {}  # a few distinct texts among the rows
        found = []
        for (check_in_id, member_id, at, lat, lon, text, customer, distance_m, accuracy_m,
             checked_out_at, count, customer_id) in rows:
            text = text or ""
            if text not in flags:
                flags[text] = parse_flags(text)
            found.append(CheckInFact(check_in_id, member_id, at, lat, lon, flags[text],
                                     customer, distance_m, accuracy_m, checked_out_at,
                                     count or 0, customer_id))
        return found

    async def photos(self, member_id: int, start: datetime, end: datetime) -> list[PhotoFact]:
        at = func.coalesce(CheckInRow.at, VisitPhotoRow.created_at)
        rows = await self.session.execute(
            select(VisitPhotoRow, CheckInRow.at, CustomerRow.name)
            .outerjoin(CheckInRow, VisitPhotoRow.check_in_id == CheckInRow.id)
            .outerjoin(CustomerRow, CheckInRow.customer_id == CustomerRow.id)
            .where(VisitPhotoRow.member_id == member_id,
                   or_(CheckInRow.at.between(start, end),
                       (VisitPhotoRow.check_in_id.is_(None))
                       & VisitPhotoRow.created_at.between(start, end)))
            .order_by(at, VisitPhotoRow.id))
        return [PhotoFact(photo.id, photo.member_id, photo.sha256,
                          check_in_at or photo.created_at, customer, photo.file_id)
                for photo, check_in_at, customer in rows]

    async def rate(self, log_id: int, rating: int, comment: str | None, by: int,
                   at: datetime) -> None:
        await self.session.execute(
            update(WorkLogRow).where(WorkLogRow.id == log_id)
            .values(rating=rating, rating_comment=comment, rated_by=by, rated_at=at))
