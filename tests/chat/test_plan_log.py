"""/plan and /log through the real bot: a few taps, bad input refused, nothing half-saved."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from bot.demo import Cast
from bot.stage import Stage
from standin import BotApiStandIn
from storage.tables import CheckInRow, CustomerRow, MemberRow, PlanItemRow, PlanRow, WorkLogRow
from tests.chat.conftest import alerts, count, last, said, texts
from tests.days import checked_in

TODAY = date(2026, 11, 26)  # Thursday, 10:00 in Shanghai at the fixed clock
FRIDAY = date(2026, 11, 27)


async def plan_items(database, member_key: str, day: date) -> list[tuple]:
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.execute(
            select(PlanItemRow.text, PlanItemRow.at_time, PlanItemRow.outcome,
                   PlanItemRow.logged_late)
            .join(PlanRow, PlanItemRow.plan_id == PlanRow.id)
            .join(MemberRow, PlanRow.member_id == MemberRow.id)
            .where(MemberRow.key == member_key, PlanRow.day == day)
            .order_by(PlanItemRow.position))
        return [tuple(row) for row in rows]


async def write_plan(stage, user, items: list[tuple[str, str, str]], start: str = "🗓 Plan"):
    """Type each item, tap its customer and time; return the entries of the last step."""
    await stage.act(user.send(start))
    for text, customer, at in items:
        await stage.act(user.send(text))
        await stage.act(user.press(last(stage, user), customer))
        entries = await stage.act(user.press(last(stage, user), at))
    return entries


async def test_tomorrows_plan_of_three_items_in_a_handful_of_taps(stage, cast, org_database):
    entries = await stage.act(cast.carol.send("🗓 Plan"))
    assert "Plan for Fri 27 Nov" in said(entries)
    entries = await write_plan(stage, cast.carol, [
        ("Demo the new line", "Harbor Logistics", "09:00"),
        ("Price talk", "Pudong Medical Supplies", "14:00"),
        ("Call the office", "⏭ No customer", "⏭ No set time")], start="/plan")
    review = said(entries)
    assert "New, not saved yet:" in review
    assert "2. 14:00 Price talk · 🏢 Pudong Medical Supplies" in review
    assert await count(org_database, PlanItemRow) == 0  # nothing saved before "Save"
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Save plan"))
    assert "Plan for Fri 27 Nov saved" in said(entries)
    assert await plan_items(org_database, "carol", FRIDAY) == [
        ("Demo the new line", "09:00", "open", False), ("Price talk", "14:00", "open", False),
        ("Call the office", None, "open", False)]


async def test_plan_item_text_over_1000_characters_is_refused(stage, cast, org_database):
    await stage.act(cast.carol.send("/plan"))
    entries = await stage.act(cast.carol.send("x" * 1001))
    assert texts(entries) == [
        "That is too long: at most 1,000 characters fit. Please shorten it."]
    entries = await stage.act(cast.carol.send("Visit Harbor"))
    assert "Which customer is it for?" in said(entries)


async def test_plan_date_more_than_90_days_ahead_is_refused(stage, cast, org_database):
    entries = await stage.act(cast.carol.send("/plan 2027-03-01"))
    assert texts(entries) == ["Plans can be written at most 90 days ahead."]
    assert await count(org_database, PlanRow) == 0


async def test_plan_for_a_past_date_is_refused(stage, cast, org_database):
    entries = await stage.act(cast.carol.send("/plan 2026-11-25"))
    assert texts(entries) == ["That day is over: plans are for today or later."]


async def test_unreadable_plan_date_is_refused(stage, cast):
    entries = await stage.act(cast.carol.send("/plan someday"))
    assert texts(entries) == [
        "I could not read that date. Please send it like 2026-12-03 or 12-03."]


async def test_cancel_leaves_nothing_half_saved(stage, cast, org_database):
    await stage.act(cast.carol.send("/plan"))
    await stage.act(cast.carol.send("Visit Harbor"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "Harbor Logistics"))
    entries = await stage.act(cast.carol.send("/cancel"))
    assert texts(entries) == ["Plan cancelled: nothing new was saved."]
    assert await count(org_database, PlanRow) == 0
    assert await count(org_database, PlanItemRow) == 0
    # Typed text after /cancel is no plan item.
    entries = await stage.act(cast.carol.send("Visit Pudong"))
    assert "Which customer" not in said(entries)


async def test_customer_found_by_a_few_letters_and_typed_time(stage, cast, org_database):
    await stage.act(cast.carol.send("/plan"))
    await stage.act(cast.carol.send("Sample run"))
    entries = await stage.act(cast.carol.send("xihu"))
    assert "Customers matching “xihu”:" in said(entries)
    await stage.act(cast.carol.press(last(stage, cast.carol), "Xihu Textiles"))
    entries = await stage.act(cast.carol.send("25:00"))
    assert texts(entries) == ["I could not read that time. Please send it like 9:30 or 14:00."]
    entries = await stage.act(cast.carol.send("8:15"))
    assert "1. 08:15 Sample run · 🏢 Xihu Textiles" in said(entries)


async def test_a_press_on_a_closed_draft_changes_nothing(stage, cast, org_database):
    await stage.act(cast.carol.send("/plan"))
    await stage.act(cast.carol.send("Visit"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "⏭ No customer"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "⏭ No set time"))
    review = last(stage, cast.carol)
    await stage.act(cast.carol.send("/cancel"))
    entries = await stage.act(cast.carol.press(review, callback_data="plan:s", forge=True))
    assert alerts(entries) == ["This plan draft is closed. Send /plan to start again."]
    assert await count(org_database, PlanItemRow) == 0


async def test_a_stored_item_is_deleted_and_the_other_rep_cannot(stage, cast, org_database):
    await write_plan(stage, cast.carol, [("Visit", "⏭ No customer", "⏭ No set time")])
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Save plan"))
    async with org_database.uow(read_only=True) as uow:
        item_id = await uow.session.scalar(select(PlanItemRow.id))
    await stage.act(cast.sam.send("/plan"))
    entries = await stage.act(cast.sam.press(last(stage, cast.sam),
                                             callback_data=f"plan:r:{item_id}", forge=True))
    assert alerts(entries) == ["That is not your plan, so you cannot change it."]
    assert await count(org_database, PlanItemRow) == 1
    await stage.act(cast.carol.send("/plan"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "🗑 1"))
    assert await count(org_database, PlanItemRow) == 0


async def today_plan(stage, user, items):
    await stage.act(user.send("/plan today"))
    for text in items:
        await stage.act(user.send(text))
        await stage.act(user.press(last(stage, user), "⏭ No customer"))
        await stage.act(user.press(last(stage, user), "⏭ No set time"))
    await stage.act(user.press(last(stage, user), "✅ Save plan"))


async def test_log_marks_items_notes_and_unplanned_work(stage, cast, org_database):
    await today_plan(stage, cast.carol, ["Visit Harbor", "Call Pudong"])
    entries = await stage.act(cast.carol.send("📝 Log"))
    assert "Work log for Thu 26 Nov" in said(entries)
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ 1"))
    entries = await stage.act(cast.carol.send("Signed the trial order"))
    assert "💬 Signed the trial order" in said(entries)
    await stage.act(cast.carol.press(last(stage, cast.carol), "❌ 2"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "➕ Unplanned work"))
    entries = await stage.act(cast.carol.send("Met a new lead at lunch"))
    assert "• Met a new lead at lunch" in said(entries)
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "✔️ Finish"))
    summary = said(entries)
    assert "Work log for Thu 26 Nov saved" in summary
    assert "Done 1/2 (50%) · verified by check-in 0/2 (0%)" in summary
    assert await plan_items(org_database, "carol", TODAY) == [
        ("Visit Harbor", None, "done", False), ("Call Pudong", None, "not_done", False)]


async def test_a_log_of_check_ins_only_is_saved_and_the_manager_sees_it(stage, cast,
                                                                           org_database):
    await checked_in(org_database, "carol", datetime(2026, 11, 26, 1, 30, tzinfo=UTC),
                     customer="harbor-logistics")
    entries = await stage.act(cast.carol.send("/log"))
    assert "No plan for this day." in said(entries)
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "✔️ Finish"))
    assert "Work log for Thu 26 Nov saved" in said(entries)
    assert "Check-ins this day: 1" in said(entries)
    assert await count(org_database, WorkLogRow) == 1
    entries = await stage.act(cast.erin.send("/team"))
    assert "❌ 1 ✅ · —  Carol Lin" in texts(entries)[0]


async def test_finishing_a_log_twice_keeps_one_log(stage, cast, org_database):
    await stage.act(cast.carol.send("/log"))
    finish = last(stage, cast.carol)
    await stage.act(cast.carol.press(finish, "✔️ Finish"))
    await stage.act(cast.carol.press(finish, callback_data="log:f:20261126", forge=True))
    assert await count(org_database, WorkLogRow) == 1


async def test_a_moved_item_appears_in_the_target_days_plan(stage, cast, org_database):
    await today_plan(stage, cast.carol, ["Visit Harbor"])
    await stage.act(cast.carol.send("/log"))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "➡️ 1"))
    assert "Move “Visit Harbor” to which day?" in said(entries)
    await stage.act(cast.carol.press(last(stage, cast.carol), "Fri 27 Nov"))
    assert await plan_items(org_database, "carol", FRIDAY) == [
        ("Visit Harbor", None, "open", False)]
    entries = await stage.act(cast.carol.send("/plan"))
    assert "1. Visit Harbor" in said(entries)


async def test_a_log_for_another_persons_day_via_a_forged_button(stage, cast, org_database):
    await today_plan(stage, cast.sam, ["Sam's visit"])
    async with org_database.uow(read_only=True) as uow:
        item_id = await uow.session.scalar(select(PlanItemRow.id))
    await stage.act(cast.carol.send("/log"))
    for data in (f"log:o:{item_id}:d", f"log:m:{item_id}:20261127", f"log:mv:{item_id}"):
        entries = await stage.act(cast.carol.press(last(stage, cast.carol), callback_data=data,
                                                   forge=True))
        assert alerts(entries) == ["That is not your plan, so you cannot change it."]
    assert await plan_items(org_database, "sam", TODAY) == [("Sam's visit", None, "open", False)]
    assert await count(org_database, WorkLogRow) == 0


async def test_a_log_for_tomorrow_is_refused(stage, cast):
    entries = await stage.act(cast.carol.send("/log tomorrow"))
    assert texts(entries) == ["That day has not come yet: a log is for today or earlier."]


async def test_a_log_for_a_month_and_day_opens_that_past_day(stage, cast, clock):
    clock.advance(days=8)  # Friday 4 December
    entries = await stage.act(cast.carol.send("/log 12-03"))
    assert "Work log for Thu 3 Dec" in said(entries)
    entries = await stage.act(cast.carol.send("/plan 12-03"))
    assert texts(entries) == ["Plans can be written at most 90 days ahead."]


async def test_amending_a_log_the_next_day_is_marked_late(stage, cast, org_database, clock):
    await today_plan(stage, cast.carol, ["Visit Harbor"])
    clock.advance(days=1)
    entries = await stage.act(cast.carol.send("/log 2026-11-26"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ 1"))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "✔️ Finish"))
    assert "Amended after the day was over." in said(entries)
    assert await plan_items(org_database, "carol", TODAY) == [
        ("Visit Harbor", None, "done", True)]


async def test_a_check_in_at_the_planned_customer_verifies_the_visit(stage, cast, org_database):
    await write_plan(stage, cast.carol, [("Demo", "Harbor Logistics", "⏭ No set time")],
                     start="/plan today")
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Save plan"))
    async with org_database.uow() as uow:
        member = await uow.session.scalar(select(MemberRow.id).where(MemberRow.key == "carol"))
        harbor = await uow.session.scalar(
            select(CustomerRow.id).where(CustomerRow.key == "harbor-logistics"))
        at = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
        uow.session.add(CheckInRow(member_id=member, at=at, sent_at=at, lat=31.24, lon=121.49,
                                   customer_id=harbor, flags=""))
        await uow.commit()
    await stage.act(cast.carol.send("/log"))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "✅ 1"))
    text = said(entries)
    assert "📍 verified" in text and "verified by check-in 1/1 (100%)" in text


async def test_chinese_rep_sees_the_plan_in_chinese(stage, cast):
    entries = await stage.act(cast.li.send("🗓 计划"))
    assert "的计划" in said(entries)


async def test_the_reminder_buttons_start_the_plan_and_the_log(stage, cast):
    await stage.act(cast.carol.send("/start"))
    reminder = last(stage, cast.carol)
    entries = await stage.act(cast.carol.press(reminder, callback_data="plan:new:2026-11-30",
                                               forge=True))
    assert "Plan for Mon 30 Nov" in said(entries)
    entries = await stage.act(cast.carol.press(reminder, callback_data="log:open:2026-11-26",
                                               forge=True))
    assert "Work log for Thu 26 Nov" in said(entries)


async def test_an_old_plan_reminder_button_is_refused(stage, cast):
    await stage.act(cast.carol.send("/start"))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol),
                                               callback_data="plan:new:2026-11-20", forge=True))
    assert alerts(entries) == ["That day is over: plans are for today or later."]


async def test_typed_text_goes_to_the_flow_started_last(stage, cast, org_database):
    await today_plan(stage, cast.carol, ["Visit Harbor"])
    await stage.act(cast.carol.send("/plan"))  # a new draft for Friday, then the log
    await stage.act(cast.carol.send("📝 Log"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "➕ Unplanned work"))
    entries = await stage.act(cast.carol.send("Met a new lead"))
    assert "• Met a new lead" in said(entries)
    assert "Which customer" not in said(entries)
    entries = await stage.act(cast.carol.send("🗓 Plan"))
    entries = await stage.act(cast.carol.send("Visit Pudong"))
    assert "Which customer is it for?" in said(entries)


async def test_plan_and_log_are_private(stage, cast):
    team = stage.standin.group(-1001000000101, "East region team", [cast.erin, cast.carol])
    entries = await stage.act(cast.carol.send("/plan", chat=team))
    assert "Please use /plan in a private chat with me." in said(entries)


async def test_a_stored_item_is_edited_by_its_owner(stage, cast, org_database):
    await write_plan(stage, cast.carol, [("Visit", "⏭ No customer", "⏭ No set time")])
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Save plan"))
    await stage.act(cast.carol.send("/plan"))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "✏️ 1"))
    assert "Send the new text for this item." in said(entries)
    entries = await stage.act(cast.carol.send("Visit Harbor with samples"))
    assert "1. Visit Harbor with samples" in said(entries)
    assert await plan_items(org_database, "carol", FRIDAY) == [
        ("Visit Harbor with samples", None, "open", False)]


async def test_a_new_item_is_dropped_from_the_draft_before_saving(stage, cast, org_database):
    await write_plan(stage, cast.carol, [("Keep", "⏭ No customer", "⏭ No set time"),
                                         ("Drop", "⏭ No customer", "⏭ No set time")])
    await stage.act(cast.carol.press(last(stage, cast.carol), "🗑 2 (new)"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Save plan"))
    assert await plan_items(org_database, "carol", FRIDAY) == [("Keep", None, "open", False)]


async def test_a_restart_mid_conversation_goes_on_where_it_stood(org_database, config, clock):
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        carol = cast.carol
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await today_plan(stage, carol, ["Visit Harbor"])
            await stage.act(carol.send("/log"))
            log_screen = last(stage, carol)
            await write_plan(stage, carol, [("Draft item", "⏭ No customer", "⏭ No set time")])
            draft_review = last(stage, carol)
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            # The draft and where the conversation stood were kept in the database.
            entries = await stage.act(carol.press(draft_review, "✅ Save plan"))
            assert "✅ Plan for Fri 27 Nov saved\n1. Draft item" in said(entries)
            entries = await stage.act(carol.press(log_screen, "✅ 1"))  # log buttons still work
            assert "1. ✅ Visit Harbor" in said(entries)
            entries = await stage.act(carol.send("Signed"))  # the note after the restart
            assert "💬 Signed" in said(entries)
    assert await plan_items(org_database, "carol", FRIDAY) == [
        ("Draft item", None, "open", False)]
    assert await plan_items(org_database, "carol", TODAY) == [
        ("Visit Harbor", None, "done", False)]
