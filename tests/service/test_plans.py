"""Plans and work logs on each backend: rules, ownership, lateness, plan vs log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from core.domain.errors import NotAllowed
from core.domain.inbox.notifications import Notification, NotificationKind
from core.domain.inbox.reminders import WorkCalendar
from core.domain.schedule.execution import Execution, ItemOutcome, PlanRefused
from core.domain.schedule.plans import MAX_ITEMS, NewItem
from core.inbox.reminders import LOG_REMINDER, PLAN_REMINDER, reminder_key
from core.schedule.plans import PlanService, WorkLogService
from storage.tables import CheckInRow, CustomerRow, MemberRow, PlanItemRow, PlanRow, WorkLogRow
from tests.example_org import DEFAULTS, import_example

CAROL, LI = 2001, 2002
TODAY = date(2026, 11, 26)  # Thursday in Shanghai at the fixed clock's 10:00
FRIDAY = date(2026, 11, 27)


@pytest.fixture
async def services(database, clock):
    await import_example(database, clock)
    return (PlanService(database.uow, clock, DEFAULTS, WorkCalendar()),
            WorkLogService(database.uow, clock, DEFAULTS, WorkCalendar()))


async def ids(database, table, key: str) -> int:
    async with database.uow(read_only=True) as uow:
        return await uow.session.scalar(select(table.id).where(table.key == key))


async def check_in(database, member_key: str, customer_key: str | None, at: datetime,
                   flags: str = "") -> None:
    member_id = await ids(database, MemberRow, member_key)
    customer_id = await ids(database, CustomerRow, customer_key) if customer_key else None
    async with database.uow() as uow:
        uow.session.add(CheckInRow(member_id=member_id, at=at, sent_at=at, lat=31.24,
                                   lon=121.49, customer_id=customer_id, flags=flags))
        await uow.commit()


async def test_default_plan_day_is_the_next_working_day(services, clock):
    plans, _ = services
    clock.moment = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday evening in Shanghai
    assert (await plans.open_day(CAROL)).day == date(2026, 11, 30)


async def test_plan_is_saved_with_customer_and_time(services, database):
    plans, _ = services
    harbor = await ids(database, CustomerRow, "harbor-logistics")
    saved = await plans.save(CAROL, FRIDAY, [NewItem("Visit Harbor", harbor, "9:30"),
                                             NewItem("Call Pudong")])
    assert [(i.text, i.customer_name, i.at_time) for i in saved.items] == [
        ("Visit Harbor", "Harbor Logistics", "09:30"), ("Call Pudong", None, None)]
    assert (await plans.customers(CAROL))[0].name == "Harbor Logistics"
    assert [c.name for c in await plans.customers(CAROL, "pud")] == ["Pudong Medical Supplies"]


async def test_plan_item_text_over_1000_characters_is_refused(services, database):
    plans, _ = services
    with pytest.raises(PlanRefused) as refused:
        await plans.save(CAROL, FRIDAY, [NewItem("ok"), NewItem("x" * 1001)])
    assert refused.value.code == "item_too_long"
    assert (await plans.open_day(CAROL, FRIDAY)).items == []  # all or nothing


async def test_plan_more_than_90_days_ahead_is_refused(services):
    plans, _ = services
    with pytest.raises(PlanRefused) as refused:
        await plans.open_day(CAROL, TODAY + timedelta(days=91))
    assert refused.value.code == "plan_too_far"
    await plans.open_day(CAROL, TODAY + timedelta(days=90))


async def test_plan_for_a_past_day_is_refused(services):
    plans, _ = services
    with pytest.raises(PlanRefused) as refused:
        await plans.save(CAROL, TODAY - timedelta(days=1), [NewItem("too late")])
    assert refused.value.code == "plan_in_past"


async def test_bad_time_is_refused(services):
    plans, _ = services
    with pytest.raises(PlanRefused) as refused:
        await plans.save(CAROL, FRIDAY, [NewItem("Visit", None, "25:00")])
    assert refused.value.code == "time_format"


async def test_too_many_items_are_refused(services):
    plans, _ = services
    with pytest.raises(PlanRefused) as refused:
        await plans.save(CAROL, FRIDAY, [NewItem(f"item {n}") for n in range(MAX_ITEMS + 1)])
    assert refused.value.code == "too_many_items"


async def test_only_the_owner_edits_or_deletes_an_item(services):
    plans, _ = services
    item = (await plans.save(CAROL, FRIDAY, [NewItem("Visit")])).items[0]
    with pytest.raises(NotAllowed):
        await plans.edit_item(LI, item.id, "mine now")
    with pytest.raises(NotAllowed):
        await plans.delete_item(LI, item.id)
    assert (await plans.edit_item(CAROL, item.id, "Visit twice")).items[0].text == "Visit twice"
    assert (await plans.delete_item(CAROL, item.id)).items == []


async def test_items_cannot_be_edited_after_their_day(services, clock):
    plans, _ = services
    item = (await plans.save(CAROL, TODAY, [NewItem("Visit")])).items[0]
    clock.advance(days=1)
    with pytest.raises(PlanRefused) as refused:
        await plans.edit_item(CAROL, item.id, "rewrite history")
    assert refused.value.code == "plan_day_over"


async def test_marking_an_item_of_someone_elses_plan_is_refused(services, database):
    plans, logs = services
    item = (await plans.save(LI, TODAY, [NewItem("Li's visit")])).items[0]
    with pytest.raises(NotAllowed):
        await logs.mark(CAROL, item.id, ItemOutcome.DONE)
    with pytest.raises(NotAllowed):
        await logs.note(CAROL, item.id, "hijack")
    assert (await logs.open_day(LI)).items[0].outcome is ItemOutcome.OPEN
    async with database.uow(read_only=True) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(WorkLogRow)) == 0


async def test_a_log_for_tomorrow_is_refused(services):
    _, logs = services
    with pytest.raises(PlanRefused) as refused:
        await logs.open_day(CAROL, FRIDAY)
    assert refused.value.code == "log_in_future"


async def test_a_moved_item_appears_in_the_target_days_plan(services, database):
    plans, logs = services
    harbor = await ids(database, CustomerRow, "harbor-logistics")
    item = (await plans.save(CAROL, TODAY, [NewItem("Visit Harbor", harbor, "10:00")])).items[0]
    day = await logs.mark(CAROL, item.id, ItemOutcome.MOVED, FRIDAY)
    assert day.items[0].outcome is ItemOutcome.MOVED and day.items[0].moved_to == FRIDAY
    moved = (await plans.open_day(CAROL, FRIDAY)).items
    assert [(i.text, i.customer_id, i.at_time, i.outcome) for i in moved] == [
        ("Visit Harbor", harbor, "10:00", ItemOutcome.OPEN)]
    with pytest.raises(PlanRefused):  # moved once: the copy is the one to log
        await logs.mark(CAROL, item.id, ItemOutcome.DONE)


async def test_moving_to_the_same_day_or_earlier_is_refused(services):
    plans, logs = services
    item = (await plans.save(CAROL, TODAY, [NewItem("Visit")])).items[0]
    with pytest.raises(PlanRefused) as refused:
        await logs.mark(CAROL, item.id, ItemOutcome.MOVED, TODAY)
    assert refused.value.code == "move_not_later"


async def test_amending_a_log_the_next_day_is_kept_and_marked_late(services, clock, database):
    plans, logs = services
    first, second = (await plans.save(CAROL, TODAY, [NewItem("A"), NewItem("B")])).items
    day = await logs.mark(CAROL, first.id, ItemOutcome.DONE)
    assert day.logged and not day.late and not day.items[0].logged_late
    clock.advance(days=1)
    day = await logs.mark(CAROL, second.id, ItemOutcome.NOT_DONE)
    day = await logs.add_unplanned(CAROL, TODAY, "Met a new lead at lunch")
    assert day.late
    assert [i.logged_late for i in day.items] == [False, True]
    assert [(e.text, e.late) for e in day.entries] == [("Met a new lead at lunch", True)]
    async with database.uow(read_only=True) as uow:
        assert await uow.session.scalar(select(WorkLogRow.amended_late)) is True


async def test_execution_and_verified_rates_match_hand_counts(services, database):
    plans, logs = services
    harbor = await ids(database, CustomerRow, "harbor-logistics")
    pudong = await ids(database, CustomerRow, "pudong-medical")
    xihu = await ids(database, CustomerRow, "xihu-textiles")
    items = (await plans.save(CAROL, TODAY, [
        NewItem("Visit Harbor", harbor), NewItem("Visit Pudong", pudong),
        NewItem("Visit Xihu", xihu), NewItem("Call the office"), NewItem("Quote")])).items
    # Thursday 10:30 and 11:00 in Shanghai: a good check-in at Harbor, a map-picked one at
    # Pudong; none at Xihu; low accuracy alone does not make a visit unverified.
    await check_in(database, "carol", "harbor-logistics", datetime(2026, 11, 26, 2, 30, tzinfo=UTC),
                   "low_accuracy")
    await check_in(database, "carol", "pudong-medical", datetime(2026, 11, 26, 3, 0, tzinfo=UTC),
                   "map_picked")
    for item, outcome in zip(items, (ItemOutcome.DONE, ItemOutcome.DONE, ItemOutcome.DONE,
                                     ItemOutcome.DONE, ItemOutcome.NOT_DONE), strict=True):
        day = await logs.mark(CAROL, item.id, outcome)
    # planned 5, done 4, verified 1 (Harbor only)
    assert day.execution == Execution(5, 4, 1)
    assert day.execution.rate == Fraction(4, 5)
    assert day.execution.verified_rate == Fraction(1, 5)
    li_item = (await plans.save(LI, TODAY, [NewItem("Li visits Harbor", harbor)])).items[0]
    await logs.mark(LI, li_item.id, ItemOutcome.NOT_DONE)
    carol_id, li_id, sam_id = [await ids(database, MemberRow, key)
                               for key in ("carol", "li", "sam")]
    week = await logs.execution([carol_id, li_id, sam_id], date(2026, 11, 23), date(2026, 11, 29))
    assert week == {carol_id: Execution(5, 4, 1), li_id: Execution(1, 0, 0),
                    sam_id: Execution(0, 0, 0)}


async def test_a_check_in_after_marking_still_verifies(services, database):
    plans, logs = services
    harbor = await ids(database, CustomerRow, "harbor-logistics")
    item = (await plans.save(CAROL, TODAY, [NewItem("Visit Harbor", harbor)])).items[0]
    assert (await logs.mark(CAROL, item.id, ItemOutcome.DONE)).execution == Execution(1, 1, 0)
    await check_in(database, "carol", "harbor-logistics", datetime(2026, 11, 26, 4, tzinfo=UTC))
    assert (await logs.open_day(CAROL)).execution == Execution(1, 1, 1)


async def test_a_check_in_on_another_day_does_not_verify(services, database):
    plans, logs = services
    harbor = await ids(database, CustomerRow, "harbor-logistics")
    item = (await plans.save(CAROL, TODAY, [NewItem("Visit Harbor", harbor)])).items[0]
    # 23:00 UTC on the 26th is already the 27th in Shanghai.
    await check_in(database, "carol", "harbor-logistics", datetime(2026, 11, 26, 17, tzinfo=UTC))
    assert (await logs.mark(CAROL, item.id, ItemOutcome.DONE)).execution == Execution(1, 1, 0)


async def test_saving_an_empty_draft_stores_nothing(services, database):
    plans, _ = services
    await plans.save(CAROL, FRIDAY, [])
    async with database.uow(read_only=True) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(PlanRow)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(PlanItemRow)) == 0


async def waiting_reminder(database, clock, rule: str, member_key: str, day: date) -> str:
    """A reminder held back by quiet hours: due later, not sent yet; its key."""
    key = reminder_key(rule, await ids(database, MemberRow, member_key), day)
    async with database.uow() as uow:
        await uow.notifications.add(Notification(
            id=None, key=key, kind=NotificationKind(rule), payload={"date": day.isoformat()},
            member_id=await ids(database, MemberRow, member_key), group_id=None,
            created_at=clock.now(), due_at=clock.now() + timedelta(hours=2)))
        await uow.commit()
    return key


async def reminder_state(database, key: str) -> str:
    async with database.uow(read_only=True) as uow:
        return str((await uow.notifications.by_key(key)).state)


async def test_a_reminder_still_waiting_is_not_sent_once_the_plan_or_log_is_written(
        services, database, clock):
    plans, logs = services
    plan_reminder = await waiting_reminder(database, clock, PLAN_REMINDER, "carol", FRIDAY)
    log_reminder = await waiting_reminder(database, clock, LOG_REMINDER, "carol", TODAY)
    other = await waiting_reminder(database, clock, LOG_REMINDER, "li", TODAY)
    await plans.save(CAROL, FRIDAY, [NewItem("Visit Harbor")])
    assert await reminder_state(database, plan_reminder) == "skipped"
    await logs.finish(CAROL, TODAY)
    assert await reminder_state(database, log_reminder) == "skipped"
    assert await reminder_state(database, other) == "pending"
