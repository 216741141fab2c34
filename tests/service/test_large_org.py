"""An organisation of 50,000 members starts, imports and is read as a whole on each backend
(asyncpg refuses a statement with more than 32,767 bound parameters)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from bot.org_file import parse_org_file
from core.config import PipelineConfig
from core.domain.inbox.reminders import WorkCalendar
from core.opportunities.goals import GoalService
from core.org.membership import OrgService
from storage.tables import DepartmentRow, MemberRoleRow, MemberRow
from tests.example_org import DEFAULTS
from tests.example_org import example as example_file

EXTRA = 50_000


def example():
    return parse_org_file(example_file())


@pytest.fixture
async def large_org(database, clock) -> OrgService:
    """The example org and 50,000 more reps in its east department, inserted in bulk."""
    org = OrgService(database.uow, clock, DEFAULTS)
    await org.import_org(example())
    async with database.uow() as uow:
        east = await uow.session.scalar(select(DepartmentRow.id).where(DepartmentRow.key == "east"))
        first = await uow.session.scalar(select(MemberRow.id).order_by(MemberRow.id.desc()))
        ids = range(first + 1, first + 1 + EXTRA)
        await uow.session.execute(insert(MemberRow), [
            {"id": i, "key": f"rep-{i}", "name": f"Rep {i}", "department_id": east,
             "account_id": 9_000_000 + i, "active": True, "reminders_paused": False}
            for i in ids])
        await uow.session.execute(insert(MemberRoleRow),
                                  [{"member_id": i, "role": "rep"} for i in ids])
        await uow.commit()
    return org


async def test_fifty_thousand_members_are_read_in_one_go(large_org, database):
    async with database.uow(read_only=True) as uow:
        everyone = await uow.members.all()
        again = await uow.members.many([m.id for m in everyone])
        ids = [m.id for m in everyone]
        sunday = date(2026, 11, 29)
        assert await uow.schedule.planned(ids, sunday) == set()
        assert await uow.schedule.check_ins(ids, sunday) == {}
        assert await uow.calendar.plan_days(ids, sunday, sunday) == set()
        assert await uow.goals.verified_visits(
            ids, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)) == 0
    assert len(everyone) == EXTRA + 8
    assert len(again) == EXTRA + 8
    assert all(m.roles for m in everyone)


async def test_large_org_imports_again(large_org):
    report = await large_org.import_org(example())
    assert not report.changed
    assert report.unchanged["members"] == 8


async def test_start_up_catch_up_runs_for_a_large_org(large_org, database, clock):
    goals = GoalService(database.uow, clock, DEFAULTS, PipelineConfig(), WorkCalendar())
    now = datetime(2026, 11, 26, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert await goals.run_daily(now, close_within_days=3, idle_days=14) == 0
