"""Goals and follow-ups through the real bot: /goals set refused where it must be, progress
as the tables hold it, the team group congratulated once, follow-up reminders with the
button to the card. The clock: Thursday 26 November 2026, 10:00 in Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from storage.tables import CheckInRow, GoalRow, MemberRow
from tests.chat.conftest import EAST_CHAT, bind_east, texts
from tests.days import checked_in
from tests.example_org import SHANGHAI
from tests.goal_facts import move, opportunity

NOT_ALLOWED = ("Only a manager of that department (or one above it) or an admin can set "
               "this goal.")


def shanghai(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


async def goal_count(database) -> int:
    async with database.uow(read_only=True) as uow:
        return await uow.session.scalar(select(func.count()).select_from(GoalRow))


async def verified_visits(database, key: str) -> int:
    """Straight from the table: Carol's November check-ins at a customer, flags clean or
    only of low accuracy."""
    async with database.uow(read_only=True) as uow:
        member = await uow.session.scalar(select(MemberRow.id).where(MemberRow.key == key))
        return await uow.session.scalar(select(func.count()).select_from(CheckInRow).where(
            CheckInRow.member_id == member, CheckInRow.customer_id.is_not(None),
            CheckInRow.flags.in_(["", "low_accuracy"]),
            CheckInRow.at >= shanghai(11, 1, 0), CheckInRow.at < shanghai(12, 1, 0)))


async def test_a_manager_sets_a_goal_and_the_rep_sees_progress_and_pace(stage, cast,
                                                                        org_database):
    for day, flags in [(2, ""), (3, "low_accuracy"), (4, "stale"), (5, "")]:
        await checked_in(org_database, "carol", shanghai(11, day), customer="harbor-logistics",
                         flags=flags)
    entries = await stage.act(cast.erin.send("/goals set member:carol visits 2026-11 7"))
    assert texts(entries) == ["🎯 Goal saved: Carol Lin · Visits · 2026-11: 7\n"
                              "See the progress with /goals."]
    visits = await verified_visits(org_database, "carol")
    assert visits == 3
    [shown] = texts(await stage.act(cast.carol.send("/goals 2026-11")))
    assert shown == ("🎯 My goals\n\nVisits · 2026-11\n▓▓▓▓░░░░░░ 42%  3 / 7\n"
                     "4 more visits, about 1 per working day")
    [team] = texts(await stage.act(cast.erin.send("/goals 2026-11")))
    assert team.splitlines()[2:] == ["No goals for you in this period.", "",
                                     "👥 Team goals, furthest along first", "",
                                     "Carol Lin · Visits · 2026-11",
                                     "▓▓▓▓░░░░░░ 42%  3 / 7",
                                     "4 more visits, about 1 per working day"]


@pytest.mark.parametrize(("command", "reply"), [
    ("/goals set member:carol visits 2026-12 calls",
     "That target does not fit the goal: visits and new opportunities are whole numbers above "
     "zero, won is an amount above zero, and ratio is a percentage above 0 and at most 100."),
    ("/goals set member:carol calls 2026-12 20",
     "That is not a goal I can measure. Use visits, new, won or ratio."),
    ("/goals set member:carol visits 2026-13 20",
     "I could not read that period. Use a month like 2026-12, a quarter like 2026-Q4 or a "
     "year like 2026."),
    ("/goals set member:carol visits 2026-10 20",
     "That period is over: goals are for this period or later ones."),
    ("/goals set carol visits 2026-12 20",
     "Name whose goal it is as member:KEY or department:KEY, for example member:carol."),
])
async def test_bad_goals_are_refused_with_the_reason(stage, cast, org_database, command, reply):
    before = await goal_count(org_database)
    assert texts(await stage.act(cast.erin.send(command))) == [reply]
    assert await goal_count(org_database) == before


async def test_a_rep_and_a_manager_of_another_department_cannot_set_goals(stage, cast, walt,
                                                                         org_database):
    before = await goal_count(org_database)
    assert texts(await stage.act(cast.carol.send("/goals set member:li visits 2026-12 5"))) \
        == [NOT_ALLOWED]
    assert texts(await stage.act(walt.send("/goals set member:carol visits 2026-12 5"))) \
        == [NOT_ALLOWED]
    assert texts(await stage.act(walt.send("/goals set department:east won 2026-Q4 1000"))) \
        == [NOT_ALLOWED]
    assert await goal_count(org_database) == before


async def test_reaching_a_goal_is_congratulated_in_the_team_group_once(stage, cast,
                                                                       org_database):
    await bind_east(stage, cast)
    await checked_in(org_database, "carol", shanghai(11, 20), customer="harbor-logistics")
    await stage.act(cast.erin.send("/goals set member:carol visits 2026-11 1"))
    entries = await stage.act(cast.carol.send("/goals"))
    # The group's congratulation may come meanwhile: Carol's own answer is one message.
    [shown] = texts(e for e in entries if e.chat_id == cast.carol.id)
    assert "▓▓▓▓▓▓▓▓▓▓ 100%  1 / 1\n✅ Reached" in shown
    message = await stage.standin.next_bot_message(EAST_CHAT)
    assert message.text == ("🎉 Carol Lin reached the goal for Visits in 2026-11: 1 of 1. "
                            "Congratulations!")
    await stage.act(cast.carol.send("/goals"))
    await stage.act(cast.erin.send("/goals"))
    await stage.fire("follow_up")
    await stage.standin.idle()
    assert [m.text for m in stage.standin.bot_messages(EAST_CHAT)
            if m.text and m.text.startswith("🎉")] == [message.text]


async def test_follow_ups_for_deals_closing_soon_or_idle_once_a_day(stage, cast, org_database,
                                                                    clock):
    await opportunity(org_database, "carol", shanghai(11, 24), title="Cold-chain fleet",
                             amount="120000", expected_close=date(2026, 11, 28))
    await opportunity(org_database, "li", shanghai(10, 1), title="Looms",
                      expected_close=date(2027, 3, 1))
    won = await opportunity(org_database, "carol", shanghai(10, 1), title="Won already",
                            expected_close=date(2026, 11, 27))
    await move(org_database, won, "won", shanghai(11, 25))
    await stage.fire("follow_up")
    carol = await stage.standin.next_bot_message(cast.carol.id)
    assert carol.text == ("Cold-chain fleet · Harbor Logistics\n⏰ It is expected to close on "
                          "Sat 28 Nov (CNY 120,000.00). Time to follow up.")
    assert carol.buttons == [["Open the opportunity"]]
    li = await stage.standin.next_bot_message(cast.li.id)
    assert li.text == ("Looms · Harbor Logistics\n💤 已有 56 天没有任何进展。"
                       "安排一次拜访、添加备注或推进阶段吧。")  # Li reads Chinese
    await stage.fire("follow_up")  # the same day: nothing new
    await stage.standin.idle()
    said_to_carol = [m.text for m in stage.standin.bot_messages(cast.carol.id)]
    assert said_to_carol.count(carol.text) == 1
    assert not any("Won already" in (text or "") for text in said_to_carol)
    entries = await stage.act(cast.carol.press(carol, "Open the opportunity"))
    assert "💼 Cold-chain fleet" in "\n".join(texts(entries))
