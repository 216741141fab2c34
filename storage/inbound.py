"""The journal of inbound updates: written before the messenger is told they arrived."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import InboundUpdateRow
from storage.value_lists import one_of

# Rows per INSERT: four parameters each, well below SQLite's and asyncpg's limits.
ROWS_PER_INSERT = 125


class SqlInboundUpdates:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, updates: Sequence[tuple[int, dict]], at: datetime) -> set[int]:
        """Keep updates not seen before; returns the ids that are new."""
        insert = pg_insert if self.session.bind.dialect.name == "postgresql" else sqlite_insert
        new: set[int] = set()
        for start in range(0, len(updates), ROWS_PER_INSERT):
            chunk = updates[start:start + ROWS_PER_INSERT]
            statement = (insert(InboundUpdateRow)
                         .values([{"update_id": i, "payload": p, "received_at": at}
                                  for i, p in chunk])
                         .on_conflict_do_nothing(index_elements=["update_id"])
                         .returning(InboundUpdateRow.update_id))
            new.update(await self.session.scalars(statement))
        return new

    async def handled(self, update_ids: Sequence[int], at: datetime) -> None:
        await self.session.execute(
            update(InboundUpdateRow).where(one_of(InboundUpdateRow.update_id, update_ids))
            .values(handled_at=at))

    async def forget_handled(self, *, below: int | None = None,
                             handled_before: datetime | None = None) -> None:
        """Handled updates the messenger will not send again need no keeping: those below
        the acknowledged offset, and any handled long ago."""
        handled = InboundUpdateRow.handled_at
        if below is not None:
            await self.session.execute(delete(InboundUpdateRow).where(
                InboundUpdateRow.update_id < below, handled.is_not(None)))
        if handled_before is not None:
            await self.session.execute(delete(InboundUpdateRow).where(
                handled.is_not(None), handled < handled_before))

    async def pending(self) -> list[tuple[int, dict]]:
        rows = await self.session.execute(
            select(InboundUpdateRow.update_id, InboundUpdateRow.payload)
            .where(InboundUpdateRow.handled_at.is_(None)).order_by(InboundUpdateRow.update_id))
        return [(i, p) for i, p in rows]
