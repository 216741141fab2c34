"""The follow-up rule on each backend: deals closing soon, overdue or idle remind their owner
once a day; closed deals, fresh deals, paused members and days off do not."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from core.config import PipelineConfig, RemindersConfig
from core.domain.inbox.reminders import WorkCalendar
from core.inbox.reminders import ReminderService
from core.opportunities.goals import GoalService
from core.org.membership import OrgService
from storage.tables import MemberRow, NotificationRow
from tests.example_org import DEFAULTS, SHANGHAI, import_example
from tests.goal_facts import move, opportunity

CAROL, LI = 2001, 2002


def shanghai(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
async def org(database, clock):
    await import_example(database, clock)
    return OrgService(database.uow, clock, DEFAULTS)


@pytest.fixture
def rules(database, clock, org) -> ReminderService:
    goals = GoalService(database.uow, clock, DEFAULTS, PipelineConfig(), WorkCalendar())
    return ReminderService(database.uow, clock, DEFAULTS, RemindersConfig(), WorkCalendar(),
                           follow_up=goals.run_daily)


async def follow_ups(database) -> list[tuple[str, str, str, datetime]]:
    """(owner key, deal title, reason, due) of each follow-up, oldest first."""
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.execute(
            select(MemberRow.key, NotificationRow.payload, NotificationRow.due_at,
                   NotificationRow.key)
            .join(MemberRow, MemberRow.id == NotificationRow.member_id)
            .where(NotificationRow.kind == "follow_up").order_by(NotificationRow.id))
        return [(member, payload["title"], payload["reason"], due, key)
                for member, payload, due, key in rows]


async def seed(database) -> dict[str, int]:
    """On Thursday 26 November: which deals need their owner."""
    recent = shanghai(11, 24)
    deals = {
        "soon": await opportunity(database, "carol", recent, title="Closing soon",
                                  expected_close=date(2026, 11, 28)),
        "overdue": await opportunity(database, "carol", shanghai(10, 1), title="Overdue",
                                     expected_close=date(2026, 11, 25), last_activity_at=recent),
        "idle": await opportunity(database, "li", shanghai(10, 20), title="Idle",
                                  expected_close=date(2027, 2, 1),
                                  last_activity_at=shanghai(11, 12)),
        "fresh": await opportunity(database, "li", shanghai(11, 13), title="Fresh",
                                   expected_close=date(2027, 2, 1)),
        "won": await opportunity(database, "carol", shanghai(10, 1), title="Won",
                                 expected_close=date(2026, 11, 27)),
        "lost": await opportunity(database, "li", shanghai(9, 1), title="Lost",
                                  expected_close=date(2026, 12, 31)),
    }
    await move(database, deals["won"], "won", shanghai(11, 20))
    await move(database, deals["lost"], "lost", shanghai(9, 2))
    return deals


async def test_due_soon_overdue_and_idle_deals_remind_their_owner(rules, database):
    deals = await seed(database)
    assert await rules.run("follow_up", shanghai(11, 26)) == 3
    found = await follow_ups(database)
    assert sorted((owner, title, reason) for owner, title, reason, _, _ in found) == [
        ("carol", "Closing soon", "closing"), ("carol", "Overdue", "overdue"),
        ("li", "Idle", "idle")]
    assert {key for *_, key in found} == {f"follow_up:{deals[d]}:2026-11-26"
                                           for d in ("soon", "overdue", "idle")}


async def test_one_reminder_per_deal_and_day(rules, database):
    await seed(database)
    assert await rules.run("follow_up", shanghai(11, 26)) == 3
    assert await rules.run("follow_up", shanghai(11, 26, 15)) == 0
    # Friday: still due; Thursday's "fresh" deal is not idle yet (its 14th day is Friday).
    assert await rules.run("follow_up", shanghai(11, 27)) == 4
    assert len(await follow_ups(database)) == 7


async def test_quiet_hours_and_paused_reminders_are_respected(rules, database, org):
    await seed(database)
    await org.set_quiet_hours(CAROL, "08:00-11:00")
    await org.pause_reminders(LI, True)
    await rules.run("follow_up", shanghai(11, 26))
    found = await follow_ups(database)
    assert {owner for owner, *_ in found} == {"carol"}
    assert {due for _, _, _, due, _ in found} == {shanghai(11, 26, 11)}


async def test_nothing_on_a_day_off(rules, database):
    await seed(database)
    assert await rules.run("follow_up", shanghai(11, 28)) == 0  # Saturday
    assert await follow_ups(database) == []
