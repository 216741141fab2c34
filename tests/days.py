"""Plans and work logs written straight to the tables, until the schedule module writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from storage.database import Database
from storage.tables import MemberRow, NotificationRow, PlanRow, WorkLogRow

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
