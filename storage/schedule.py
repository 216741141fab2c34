"""What the schedule knows about days: plans and work logs (their contents come later)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import PlanRow, WorkLogRow


class SqlScheduleFacts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _members_with(self, table: type[PlanRow] | type[WorkLogRow],
                            member_ids: Collection[int], day: date) -> set[int]:
        if not member_ids:
            return set()
        found = await self.session.scalars(
            select(table.member_id).where(table.day == day,
                                          table.member_id.in_(list(member_ids))))
        return set(found)

    async def planned(self, member_ids: Collection[int], day: date) -> set[int]:
        return await self._members_with(PlanRow, member_ids, day)

    async def logged(self, member_ids: Collection[int], day: date) -> set[int]:
        return await self._members_with(WorkLogRow, member_ids, day)

    async def check_ins(self, member_ids: Collection[int], day: date) -> dict[int, int] | None:
        # Check-ins arrive with the schedule module; until then they are not tracked.
        return None
