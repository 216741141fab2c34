"""/calendar through the real bot: the month keyboard, its marks, turning months, a day."""

from __future__ import annotations

from datetime import date

from bot.demo import Cast
from bot.stage import Stage
from standin import BotApiStandIn
from tests.chat.conftest import answers, texts
from tests.days import checked_in, logged_day, planned_items
from tests.example_org import shanghai

THU = date(2026, 11, 26)  # the test clock's day in Shanghai
STALE = "That button is no longer valid."


async def carols_week(database) -> None:
    await planned_items(database, "carol", date(2026, 11, 24), [("Visit Harbor", "done")])
    await logged_day(database, "carol", date(2026, 11, 24))
    await planned_items(database, "carol", date(2026, 11, 25), [("Call Pudong", "open")])
    await checked_in(database, "carol", shanghai(26, 9, 30), customer="harbor-logistics")
    await checked_in(database, "carol", shanghai(23, 15), flags="map_picked")


async def test_calendar_shows_the_month_with_weekdays_and_marks(stage, cast, org_database):
    await carols_week(org_database)
    entries = await stage.act(cast.carol.send("/calendar"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    assert texts(entries)[0].startswith("📅 My schedule — Nov 2026")
    assert "Days with a plan: 2 · with a log: 1 · check-ins: 2" in message.text
    rows = message.buttons
    assert rows[0] == ["◀", "Nov 2026", "▶"]
    assert rows[1] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert rows[2] == ["·", "·", "·", "·", "·", "·", "1"]  # 1 Nov 2026 is a Sunday
    assert ["23⚠", "24✓", "25•", "[26📍]", "27", "28", "29"] in rows
    assert all(len(row) == 7 for row in rows[1:])


async def test_calendar_button_and_chinese_weekdays(stage, cast):
    entries = await stage.act(cast.li.send("📅 日历"))
    message = stage.standin.bot_messages(cast.li.id)[-1]
    assert texts(entries)[0].startswith("📅 我的日程 — 2026年11月")
    assert message.buttons[1] == ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]


async def test_months_turn_and_every_press_is_answered(stage, cast):
    await stage.act(cast.carol.send("/calendar"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    entries = await stage.act(cast.carol.press(message, "▶"))
    assert answers(entries) == [None]
    assert stage.standin.bot_messages(cast.carol.id)[-1].buttons[0][1] == "Dec 2026"
    entries = await stage.act(cast.carol.press(message, "Mon"))
    assert answers(entries) == [None]


async def test_calendar_far_out_of_range_clamps_politely(stage, cast, org_database):
    await stage.act(cast.carol.send("/calendar"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    async with org_database.uow(read_only=True) as uow:
        carol = await uow.members.by_key("carol")
    entries = await stage.act(cast.carol.press(message, callback_data=f"cal:m:{carol.id}:999912",
                                               forge=True))
    assert answers(entries) == ["That is as far as the calendar goes."]
    shown = stage.standin.bot_messages(cast.carol.id)[-1]
    assert shown.buttons[0] == ["◀", "Feb 2027", "·"]


async def test_forged_month_thirteen_and_garbage_are_stale_buttons(stage, cast):
    await stage.act(cast.carol.send("/calendar"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    for data in ("cal:m:1:202613", "cal:d:1:20261131", "cal:zzz", "cal:m:x:202611"):
        entries = await stage.act(cast.carol.press(message, callback_data=data, forge=True))
        assert answers(entries) == [STALE], data


async def test_tapping_a_day_shows_plan_log_and_check_ins_with_a_map_link(stage, cast,
                                                                         org_database):
    await planned_items(org_database, "carol", THU, [("Visit Harbor", "done"),
                                                     ("Call Pudong", "not_done")],
                        customer="harbor-logistics")
    await logged_day(org_database, "carol", THU, ("Walk-in at Xihu",))
    await checked_in(org_database, "carol", shanghai(26, 9, 30), customer="harbor-logistics",
                     flags="low_accuracy")
    await stage.act(cast.carol.send("/calendar"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    await stage.act(cast.carol.press(message, "[26⚠]"))
    day = stage.standin.bot_messages(cast.carol.id)[-1]
    assert day.text.splitlines()[0] == "📅 My day — Thu 26 Nov"
    assert "Plan — done 1 of 2 (50%), verified 0%" in day.text
    assert "✅ Visit Harbor — Harbor Logistics" in day.text
    assert "• Walk-in at Xihu" in day.text
    assert "📍 09:30 Harbor Logistics ⚠ low accuracy · map" in day.text
    assert 'href="https://maps.google.com/?q=31.240000,121.490000"' in day.html
    assert day.buttons == [["« Month"]]  # no photos, and nobody rates their own day
    await stage.act(cast.carol.press(day, "« Month"))
    assert stage.standin.bot_messages(cast.carol.id)[-1].text.startswith("📅 My schedule")


async def test_a_rep_cannot_open_a_colleagues_calendar_with_a_forged_button(stage, cast,
                                                                           org_database):
    await planned_items(org_database, "li", THU, [("Li's secret visit", "open")])
    async with org_database.uow(read_only=True) as uow:
        li = await uow.members.by_key("li")
    await stage.act(cast.carol.send("/calendar"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    for data in (f"cal:m:{li.id}:202611", f"cal:d:{li.id}:20261126", f"cal:p:{li.id}:20261126"):
        entries = await stage.act(cast.carol.press(message, callback_data=data, forge=True))
        assert answers(entries) == [
            "That person is not in your team, so I cannot show their schedule."]
    assert "secret" not in "\n".join(texts(stage.standin.transcript()))


async def test_calendar_in_a_group_points_to_the_private_chat(stage, cast):
    group = stage.standin.group(-100777, "East team", members=[cast.carol, cast.erin])
    entries = await stage.act(cast.carol.send("/calendar", chat=group))
    assert texts(entries) == ["Please use /calendar in a private chat with me."]


async def test_the_calendar_shows_the_right_marks_after_a_restart(org_database, config, clock):
    await carols_week(org_database)
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await stage.act(cast.carol.send("/calendar"))
            before = standin.bot_messages(cast.carol.id)[-1].buttons
        await logged_day(org_database, "carol", date(2026, 11, 25))  # written while down
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await stage.act(cast.carol.send("/calendar"))
            after = standin.bot_messages(cast.carol.id)[-1].buttons
    assert ["23⚠", "24✓", "25•", "[26📍]", "27", "28", "29"] in before
    assert ["23⚠", "24✓", "25✓", "[26📍]", "27", "28", "29"] in after
