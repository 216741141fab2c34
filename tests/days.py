"""Plans and work logs written straight to the tables, until the schedule module writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from storage.database import Database
from storage.tables import (
    CheckInRow,
    CustomerRow,
    LogEntryRow,
    MemberRow,
    NotificationRow,
    PlanItemRow,
    PlanRow,
    VisitPhotoRow,
    WorkLogRow,
)

WRITTEN_AT = datetime(2026, 11, 20, tzinfo=UTC)


async def _record(database: Database, table, member_key: str, day: date) -> None:
    async with database.uow() as uow:
        member_id = await uow.session.scalar(
            select(MemberRow.id).where(MemberRow.key == member_key))
        uow.session.add(table(member_id=member_id, day=day, created_at=WRITTEN_AT,
                              updated_at=WRITTEN_AT))
        await uow.commit()


async def plan(database: Database, member_key: str, day: date) -> None:
    await _record(database, PlanRow, member_key, day)


async def work_log(database: Database, member_key: str, day: date) -> None:
    await _record(database, WorkLogRow, member_key, day)


async def notification_rows(database: Database) -> list[NotificationRow]:
    """Every notification, oldest first, detached so they can be read after the session."""
    async with database.uow(read_only=True) as uow:
        rows = list(await uow.session.scalars(select(NotificationRow).order_by(NotificationRow.id)))
        uow.session.expunge_all()
        return rows


async def _member_id(uow, key: str) -> int:
    return await uow.session.scalar(select(MemberRow.id).where(MemberRow.key == key))


async def _customer_id(uow, key: str | None) -> int | None:
    if key is None:
        return None
    return await uow.session.scalar(select(CustomerRow.id).where(CustomerRow.key == key))


async def planned_items(database: Database, member_key: str, day: date,
                        items: list[tuple[str, str]], customer: str | None = None) -> int:
    """A plan with items as (text, outcome); outcomes are open, done, not_done or moved."""
    async with database.uow() as uow:
        plan_row = PlanRow(member_id=await _member_id(uow, member_key), day=day,
                           created_at=WRITTEN_AT, updated_at=WRITTEN_AT)
        uow.session.add(plan_row)
        await uow.session.flush()
        customer_id = await _customer_id(uow, customer)
        for position, (text, outcome) in enumerate(items):
            uow.session.add(PlanItemRow(plan_id=plan_row.id, position=position, text=text,
                                        outcome=outcome, customer_id=customer_id,
                                        created_at=WRITTEN_AT))
        await uow.commit()
        return plan_row.id


async def logged_day(database: Database, member_key: str, day: date,
                     entries: tuple[str, ...] = (), note: str | None = None) -> int:
    """A work log with unplanned entries; its id."""
    async with database.uow() as uow:
        row = WorkLogRow(member_id=await _member_id(uow, member_key), day=day, note=note,
                         created_at=WRITTEN_AT, updated_at=WRITTEN_AT)
        uow.session.add(row)
        await uow.session.flush()
        for text in entries:
            uow.session.add(LogEntryRow(log_id=row.id, text=text, created_at=WRITTEN_AT))
        await uow.commit()
        return row.id


async def checked_in(database: Database, member_key: str, at: datetime, *,
                     customer: str | None = None, lat: float = 31.24, lon: float = 121.49,
                     flags: str = "") -> int:
    """A check-in received at `at` (UTC); its id."""
    async with database.uow() as uow:
        row = CheckInRow(member_id=await _member_id(uow, member_key), at=at, sent_at=at,
                         lat=lat, lon=lon, accuracy_m=10.0,
                         customer_id=await _customer_id(uow, customer), flags=flags,
                         distance_m=20.0)
        uow.session.add(row)
        await uow.commit()
        return row.id


async def visit_photo(database: Database, member_key: str, check_in_id: int | None,
                      sha256: str, at: datetime = WRITTEN_AT) -> None:
    async with database.uow() as uow:
        uow.session.add(VisitPhotoRow(member_id=await _member_id(uow, member_key),
                                      check_in_id=check_in_id, sha256=sha256, dhash="0" * 16,
                                      width=1, height=1, size=1, created_at=at))
        await uow.commit()
