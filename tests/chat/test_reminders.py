"""Reminders and the team digest through the real bot: the jobs, the outbox, the stand-in.

The clock is fixed on the team's clock (Asia/Shanghai); 26 November 2026 is a Thursday.
"""

from __future__ import annotations

import asyncio
from datetime import date

from bot.demo import Cast
from bot.stage import Stage
from standin import BotApiStandIn
from tests.chat.conftest import bind_east
from tests.days import notification_rows, plan, work_log
from tests.example_org import shanghai

CAROL_REMINDER = ("📝 Tomorrow (Fri 27 Nov) has no plan yet.\nPlease write down which "
                  "customers you will visit and whom you will call, before you finish today.")
LI_REMINDER = "📝 明天（11月27日 周五）还没有计划。\n请在今天下班前写好要拜访哪些客户、给谁打电话。"


def reminders_in(stage: Stage, chat_id: int) -> list[str]:
    return [m.text for m in stage.standin.bot_messages(chat_id)
            if m.text and m.text.startswith(("📝", "🗒"))]


async def test_the_scheduler_looks_for_due_rules_by_the_bots_clock(stage):
    [job] = stage.application.job_queue.get_jobs_by_name("rules")
    assert job.job.trigger.interval.total_seconds() == 600  # check_seconds in the config


async def test_the_plan_reminder_goes_out_when_the_teams_clock_reaches_six(
        org_database, config, clock):
    """The rule fires at 18:00 on the bot's clock, whatever the machine's clock says."""
    config = config.model_copy(update={"reminders": config.reminders.model_copy(
        update={"check_seconds": 0.05})})
    clock.moment = shanghai(26, 17, 59)
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        async with Stage(config, org_database, clock=clock, standin=standin):
            await asyncio.sleep(0.3)
            assert reminders_in_chat(standin, cast.carol.id) == []
            clock.moment = shanghai(26, 18)
            message = await standin.next_bot_message(cast.carol.id)
            assert message.text == CAROL_REMINDER
            await asyncio.sleep(0.3)  # many more looks: still one reminder
            assert reminders_in_chat(standin, cast.carol.id) == [CAROL_REMINDER]


async def test_a_restart_late_in_the_evening_sends_no_reminders(org_database, config, clock):
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        clock.moment = shanghai(26, 23, 30)
        async with Stage(config, org_database, clock=clock, standin=standin):
            await standin.idle()
        assert [standin.bot_messages(p.id) for p in (cast.carol, cast.li, cast.erin)] == [
            [], [], []]
        assert await notification_rows(org_database) == []


async def test_a_rep_without_a_plan_gets_one_reminder_in_their_language(
        stage, cast, clock, org_database):
    await plan(org_database, "erin", date(2026, 11, 27))  # a manager, not reminded anyway
    clock.moment = shanghai(26, 18)
    await stage.fire("plan_reminder")
    carol = await stage.standin.next_bot_message(cast.carol.id)
    li = await stage.standin.next_bot_message(cast.li.id)
    assert (carol.text, li.text) == (CAROL_REMINDER, LI_REMINDER)
    await stage.fire("plan_reminder")  # a second run, or a second process, adds nothing
    await stage.standin.idle()
    assert reminders_in(stage, cast.carol.id) == [CAROL_REMINDER]
    assert reminders_in(stage, cast.erin.id) == []


async def test_a_rep_with_a_plan_for_tomorrow_hears_nothing(stage, cast, clock, org_database):
    await plan(org_database, "carol", date(2026, 11, 27))
    clock.moment = shanghai(26, 18)
    await stage.fire("plan_reminder")
    await stage.standin.next_bot_message(cast.li.id)
    await stage.standin.idle()
    assert reminders_in(stage, cast.carol.id) == []


async def test_restarting_the_bot_that_evening_sends_no_reminder_twice(
        org_database, config, clock):
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        clock.moment = shanghai(26, 14)
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            clock.moment = shanghai(26, 18)
            await stage.fire("plan_reminder")
            await standin.next_bot_message(cast.carol.id)
        clock.moment = shanghai(26, 18, 30)
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await standin.idle()
        assert reminders_in(stage, cast.carol.id) == [CAROL_REMINDER]


async def test_a_bot_that_was_down_at_six_sends_the_reminder_once_when_it_starts(
        org_database, config, clock):
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        clock.moment = shanghai(26, 15)  # the afternoon: nothing is due yet
        async with Stage(config, org_database, clock=clock, standin=standin):
            await standin.idle()
        assert reminders_in_chat(standin, cast.carol.id) == []
        clock.moment = shanghai(26, 18, 20)  # started again after six: caught up
        async with Stage(config, org_database, clock=clock, standin=standin):
            await standin.next_bot_message(cast.carol.id)
        clock.moment = shanghai(26, 18, 40)  # and once more: nothing new
        async with Stage(config, org_database, clock=clock, standin=standin):
            await standin.idle()
        assert reminders_in_chat(standin, cast.carol.id) == [CAROL_REMINDER]


def reminders_in_chat(standin: BotApiStandIn, chat_id: int) -> list[str]:
    return [m.text for m in standin.bot_messages(chat_id) if m.text and m.text.startswith("📝")]


async def test_the_team_group_is_told_who_has_no_plan_by_name(stage, cast, clock):
    group = await bind_east(stage, cast)
    clock.moment = shanghai(26, 18)
    await stage.fire("plan_reminder")
    message = await stage.standin.next_bot_message(group.id)
    assert message.text == "📝 No plan yet for tomorrow (Fri 27 Nov): Carol Lin, 李伟."
    assert '<a href="tg://user?id=2001">Carol Lin</a>' in message.html
    assert '<a href="tg://user?id=2002">李伟</a>' in message.html


async def test_the_group_sees_one_digest_and_digest_edits_it_in_place(
        stage, cast, clock, org_database):
    group = await bind_east(stage, cast)
    await plan(org_database, "carol", date(2026, 11, 25))
    clock.moment = shanghai(26, 9)
    await stage.fire("morning_digest")
    digest = await stage.standin.next_bot_message(group.id)
    assert digest.text == ("📊 Team digest: East region\n"
                           "Wed 25 Nov — plan / log / check-ins\n"
                           "✅ ❌ 0  Carol Lin\n"
                           "❌ ❌ 0  李伟\n\n"
                           "Planned 1/2 · Logged 0/2 · as of 09:00")
    # Carol writes yesterday's log late; her manager asks for the digest again.
    await work_log(org_database, "carol", date(2026, 11, 25))
    clock.moment = shanghai(26, 10, 30)
    mark = stage.standin.mark()
    entries = await stage.act(cast.erin.send("/digest", group))
    edit = await stage.standin.wait_for(
        lambda e: e.kind == "edit" and e.chat_id == group.id, since=mark)
    assert edit.message_id == digest.message_id
    assert edit.text.splitlines()[2:] == ["✅ ✅ 0  Carol Lin", "❌ ❌ 0  李伟", "",
                                          "Planned 1/2 · Logged 1/2 · as of 10:30"]
    answer = next(e for e in entries if e.by_bot and e.kind == "message")
    assert answer.text == "I have updated today's digest."
    assert answer.raw["reply_to_message"]["message_id"] == digest.message_id
    await stage.standin.idle()
    digests = [m for m in stage.standin.bot_messages(group.id) if m.text.startswith("📊")]
    assert [m.message_id for m in digests] == [digest.message_id]
    await stage.sent()
    rows = [r for r in await notification_rows(org_database) if r.kind == "digest"]
    assert [(r.version, r.sent_version) for r in rows] == [(2, 2)]


async def test_digest_before_the_morning_run_posts_it_and_the_run_adds_none(
        stage, cast, clock):
    group = await bind_east(stage, cast)
    clock.moment = shanghai(26, 8, 30)
    await stage.act(cast.carol.send("/digest", group))
    first = await stage.standin.next_bot_message(group.id)
    assert first.text.startswith("📊 Team digest: East region\nWed 25 Nov — plan / log")
    clock.moment = shanghai(26, 9)
    await stage.fire("morning_digest")
    await stage.standin.idle()
    assert [m.text.startswith("📊") for m in stage.standin.bot_messages(group.id)] == [True]


async def test_digest_in_a_group_that_is_not_bound_says_how_to_bind_it(stage, cast):
    group = stage.standin.group(-100_778, "Lunch club", [cast.carol])
    entries = await stage.act(cast.carol.send("/digest", group))
    assert [e.text for e in entries if e.by_bot] == [
        "This group is not the team chat of any department yet. A manager can send "
        "/bindgroup here; the team digest then arrives every working morning, and /digest "
        "shows it any time."]


async def test_digest_in_a_private_chat_points_to_the_group(stage, cast):
    entries = await stage.act(cast.li.send("/digest"))
    assert [e.text for e in entries if e.by_bot] == ["团队日报发在团队群里：请在群里发送 /digest。"]
