"""What the schedule knows about days: plans, work logs and check-ins."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import CheckInRow, PlanRow, WorkLogRow
from storage.value_lists import one_of


class SqlScheduleFacts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _members_with(self, table: type[PlanRow] | type[WorkLogRow],
                            member_ids: Collection[int], day: date) -> set[int]:
        if not member_ids:
            return set()
        found = await self.session.scalars(
            select(table.member_id).where(table.day == day,
                                          one_of(table.member_id, member_ids)))
        return set(found)

    async def planned(self, member_ids: Collection[int], day: date) -> set[int]:
        return await self._members_with(PlanRow, member_ids, day)

    async def logged(self, member_ids: Collection[int], day: date) -> set[int]:
        return await self._members_with(WorkLogRow, member_ids, day)

    async def check_ins(self, member_ids: Collection[int], day: date,
                        timezone: str = "UTC") -> dict[int, int] | None:
        if not member_ids:
            return {}
        start, end = day_bounds(day, timezone)
        rows = await self.session.execute(
            select(CheckInRow.member_id, func.count()).where(
                one_of(CheckInRow.member_id, member_ids), CheckInRow.at >= start,
                CheckInRow.at < end).group_by(CheckInRow.member_id))
        return {member_id: count for member_id, count in rows.all()}


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants at which a local day starts and the next one starts."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end
