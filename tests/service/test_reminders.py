"""The scheduled rules against a real database (SQLite and PostgreSQL): who gets what, once."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time

import pytest

from core.config import CalendarConfig, RemindersConfig, RuleConfig
from core.domain.errors import NotFound
from core.domain.inbox.notifications import DeliveryState, QuietHours
from core.inbox.notifications import GroupService
from core.inbox.reminders import ReminderService, UnknownRule, work_calendar
from storage.database import Database
from tests.days import notification_rows, plan, work_log
from tests.example_org import DEFAULTS, shanghai

EAST_CHAT = -100_200


def reminders(database: Database, clock, *, calendar: CalendarConfig | None = None,
              config: RemindersConfig | None = None) -> ReminderService:
    return ReminderService(database.uow, clock, DEFAULTS, config or RemindersConfig(),
                           work_calendar(calendar or CalendarConfig()))


async def keys(database: Database) -> list[str]:
    return [row.key for row in await notification_rows(database)]


async def bind_east(database: Database, clock) -> int:
    binding = await GroupService(database.uow, clock, DEFAULTS).bind(
        1002, EAST_CHAT, "East team", bot_is_member=True)
    return binding.group.id


async def change_member(database: Database, key: str, **changes) -> None:
    async with database.uow() as uow:
        member = await uow.members.by_key(key)
        await uow.members.update(replace(member, **changes))
        await uow.commit()


# Plan reminders


async def test_rep_without_a_plan_for_tomorrow_gets_exactly_one_reminder(org, ids, clock):
    service = reminders(org, clock)
    evening = shanghai(26, 18)
    assert await service.run("plan_reminder", evening) == 4
    assert await service.run("plan_reminder", evening) == 0
    rows = await notification_rows(org)
    carol = next(r for r in rows if r.member_id == ids["carol"])
    assert carol.key == f"plan_reminder:{ids['carol']}:2026-11-27"
    assert carol.kind == "plan_reminder"
    assert carol.payload == {"date": "2026-11-27", "today": "2026-11-26"}
    assert carol.due_at == evening
    assert sorted(r.member_id for r in rows) == sorted(
        ids[k] for k in ("carol", "li", "sam", "mei"))


async def test_a_restart_that_evening_sends_nothing_twice(org, clock):
    first = reminders(org, clock)
    await first.sync_rules()
    await first.run("morning_digest", shanghai(26, 9))
    assert await first.run("plan_reminder", shanghai(26, 18)) == 4
    url = org.engine.url.render_as_string(hide_password=False)
    restarted = Database.connect(url)
    try:
        service = reminders(restarted, clock)
        await service.sync_rules()
        assert await service.run_due(shanghai(26, 18, 40)) == {}
        assert await service.run("plan_reminder", shanghai(26, 18, 45)) == 0
    finally:
        await restarted.dispose()
    assert len(await keys(org)) == 4


async def test_a_rep_with_a_plan_for_tomorrow_is_not_reminded(org, ids, clock):
    await plan(org, "carol", date(2026, 11, 27))
    await plan(org, "li", date(2026, 11, 26))  # today's plan does not count for tomorrow
    await reminders(org, clock).run("plan_reminder", shanghai(26, 18))
    reminded = {r.member_id for r in await notification_rows(org)}
    assert ids["carol"] not in reminded
    assert ids["li"] in reminded


async def test_on_friday_the_reminder_is_about_monday(org, ids, clock):
    await reminders(org, clock).run("plan_reminder", shanghai(27, 18))
    assert f"plan_reminder:{ids['carol']}:2026-11-30" in await keys(org)


async def test_weekends_and_holidays_send_no_reminders(org, clock):
    holidays = CalendarConfig(holidays=[date(2026, 11, 26)])
    assert await reminders(org, clock).run("plan_reminder", shanghai(28, 18)) == 0
    assert await reminders(org, clock, calendar=holidays).run("plan_reminder",
                                                              shanghai(26, 18)) == 0
    assert await keys(org) == []


async def test_the_day_before_a_holiday_reminds_about_the_day_after_it(org, ids, clock):
    holidays = CalendarConfig(holidays=[date(2026, 11, 27)],
                              working_weekends=[date(2026, 11, 28)])
    await reminders(org, clock, calendar=holidays).run("plan_reminder", shanghai(26, 18))
    assert f"plan_reminder:{ids['carol']}:2026-11-28" in await keys(org)


async def test_paused_and_inactive_members_get_no_reminder(org, ids, clock):
    await change_member(org, "carol", reminders_paused=True)
    await change_member(org, "sam", active=False)
    await reminders(org, clock).run("plan_reminder", shanghai(26, 18))
    reminded = {r.member_id for r in await notification_rows(org)}
    assert reminded == {ids["li"], ids["mei"]}


async def test_quiet_hours_hold_the_reminder_until_they_end(org, ids, clock):
    await change_member(org, "carol", quiet_hours=QuietHours(time(17, 30), time(8, 0)))
    await reminders(org, clock).run("plan_reminder", shanghai(26, 18))
    rows = {r.member_id: r for r in await notification_rows(org)}
    assert rows[ids["carol"]].due_at == shanghai(27, 8)
    assert rows[ids["li"]].due_at == shanghai(26, 18)


async def test_a_rep_the_bot_cannot_reach_finds_the_reminder_in_the_inbox(org, ids, clock):
    await reminders(org, clock).run("plan_reminder", shanghai(26, 18))
    rows = {r.member_id: r for r in await notification_rows(org)}
    assert rows[ids["mei"]].state == DeliveryState.SKIPPED  # listed without a Telegram id
    assert rows[ids["carol"]].state == DeliveryState.PENDING


# Log reminders


async def test_rep_without_a_log_today_gets_one_log_reminder(org, ids, clock):
    await work_log(org, "carol", date(2026, 11, 26))
    service = reminders(org, clock)
    assert await service.run("log_reminder", shanghai(26, 19)) == 3
    assert await service.run("log_reminder", shanghai(26, 19, 5)) == 0
    rows = await notification_rows(org)
    assert ids["carol"] not in {r.member_id for r in rows}
    li = next(r for r in rows if r.member_id == ids["li"])
    assert li.key == f"log_reminder:{ids['li']}:2026-11-26"
    assert li.payload == {"date": "2026-11-26"}


# Team groups


async def test_the_team_group_gets_one_copy_naming_who_has_no_plan(org, ids, clock):
    group_id = await bind_east(org, clock)
    await plan(org, "carol", date(2026, 11, 27))
    await change_member(org, "li", account_id=None)
    service = reminders(org, clock)
    await service.run("plan_reminder", shanghai(26, 18))
    await service.run("plan_reminder", shanghai(26, 18, 1))
    copies = [r for r in await notification_rows(org) if r.group_id is not None]
    assert [c.key for c in copies] == [f"plan_reminder:group:{group_id}:2026-11-27"]
    assert copies[0].payload == {"date": "2026-11-27", "today": "2026-11-26",
                                 "department": "East region",
                                 "people": [{"name": "李伟", "account_id": None}]}


async def test_the_group_does_not_name_someone_who_paused_reminders(org, clock):
    await bind_east(org, clock)
    await change_member(org, "li", reminders_paused=True)
    await reminders(org, clock).run("log_reminder", shanghai(26, 19))
    copy = next(r for r in await notification_rows(org) if r.group_id is not None)
    assert [p["name"] for p in copy.payload["people"]] == ["Carol Lin"]


async def test_no_group_copy_when_everyone_in_the_group_has_planned(org, clock):
    await bind_east(org, clock)
    for key in ("carol", "li"):
        await plan(org, key, date(2026, 11, 27))
    await reminders(org, clock).run("plan_reminder", shanghai(26, 18))
    assert all(r.group_id is None for r in await notification_rows(org))


# The morning digest


async def test_morning_digest_shows_each_rep_of_the_department_for_the_last_working_day(
        org, ids, clock):
    group_id = await bind_east(org, clock)
    await plan(org, "carol", date(2026, 11, 25))
    await work_log(org, "li", date(2026, 11, 25))
    await plan(org, "li", date(2026, 11, 26))  # today: not what the digest looks back on
    service = reminders(org, clock)
    assert await service.run("morning_digest", shanghai(26, 9)) == 1
    assert await service.run("morning_digest", shanghai(26, 9, 30)) == 0
    [digest] = await notification_rows(org)
    assert digest.key == f"digest:{group_id}:2026-11-26"
    assert digest.group_id == group_id and digest.kind == "digest"
    assert digest.payload == {
        "date": "2026-11-26", "day": "2026-11-25", "department": "East region",
        "columns": ["plan", "log", "check_ins"],
        "rows": [
            {"member_id": ids["carol"], "name": "Carol Lin", "plan": True, "log": False,
             "check_ins": 0},
            {"member_id": ids["li"], "name": "李伟", "plan": False, "log": True,
             "check_ins": 0},
        ],
        "as_of": shanghai(26, 9).isoformat()}


async def test_monday_digest_looks_back_on_friday(org, clock):
    await bind_east(org, clock)
    await reminders(org, clock).run("morning_digest", shanghai(30, 9))
    [digest] = await notification_rows(org)
    assert digest.payload["day"] == "2026-11-27"


async def test_no_digest_without_a_bound_group_or_on_a_weekend(org, clock):
    assert await reminders(org, clock).run("morning_digest", shanghai(26, 9)) == 0
    await bind_east(org, clock)
    assert await reminders(org, clock).run("morning_digest", shanghai(28, 9)) == 0
    assert await keys(org) == []


async def test_refreshing_the_digest_revises_todays_instead_of_adding_one(org, clock):
    group_id = await bind_east(org, clock)
    service = reminders(org, clock)
    clock.moment = shanghai(26, 9)
    await service.run("morning_digest")
    await work_log(org, "carol", date(2026, 11, 25))
    clock.moment = shanghai(26, 10, 30)
    refresh = await service.refresh_digest(EAST_CHAT)
    assert not refresh.created and refresh.changed
    rows = await notification_rows(org)
    assert [r.key for r in rows] == [f"digest:{group_id}:2026-11-26"]
    assert rows[0].version == 2
    assert rows[0].payload["rows"][0]["log"] is True
    assert rows[0].payload["as_of"] == shanghai(26, 10, 30).isoformat()


async def test_refreshing_before_the_morning_run_posts_the_digest(org, clock):
    await bind_east(org, clock)
    clock.moment = shanghai(26, 8)
    refresh = await reminders(org, clock).refresh_digest(EAST_CHAT)
    assert refresh.created
    assert await reminders(org, clock).run("morning_digest", shanghai(26, 9)) == 0
    assert len(await keys(org)) == 1


async def test_refreshing_in_a_group_that_is_not_bound_is_refused(org, clock):
    with pytest.raises(NotFound):
        await reminders(org, clock).refresh_digest(-100_999)


# The rules themselves


async def test_sync_writes_the_configured_rules_and_keeps_their_last_run(org, clock):
    service = reminders(org, clock)
    rules = {r.name: r for r in await service.sync_rules()}
    assert set(rules) == {"plan_reminder", "log_reminder", "morning_digest", "approval_sla",
                          "follow_up", "backup"}
    assert (rules["backup"].enabled, rules["backup"].at) == (False, "02:00")
    assert rules["backup"].params == {"folder": "backups", "keep": 7}
    assert (rules["plan_reminder"].enabled, rules["plan_reminder"].at) == (True, "18:00")
    assert rules["follow_up"].params == {"close_within_days": 3, "idle_days": 14}
    assert rules["approval_sla"].params == {"remind_after_hours": 24,
                                            "escalate_after_hours": 48}
    await service.run("plan_reminder", shanghai(26, 18))
    later = reminders(org, clock, config=RemindersConfig(
        plan_reminder=RuleConfig(enabled=False, at="17:30")))
    rule = {r.name: r for r in await later.sync_rules()}["plan_reminder"]
    assert (rule.enabled, rule.at, rule.last_run_at) == (False, "17:30", shanghai(26, 18))


async def test_unknown_rules_do_not_run(org, clock):
    service = reminders(org, clock)
    with pytest.raises(UnknownRule):
        await service.run("weekly_report")


async def test_a_rule_missed_while_down_is_caught_up_once_within_the_window(org, clock):
    await bind_east(org, clock)
    service = reminders(org, clock)
    await service.sync_rules()
    # Down since the morning: the plan reminder is still worth sending, the 09:00 digest not.
    assert await service.run_due(shanghai(26, 18, 30)) == {"plan_reminder": 5}
    assert await service.run_due(shanghai(26, 18, 35)) == {}
    assert len(await keys(org)) == 5  # four reps and the east group's copy
    # The next day, a start before any rule is due catches up on nothing from yesterday.
    assert await service.run_due(shanghai(27, 8)) == {}


async def test_a_restart_at_half_past_eleven_reminds_nobody(org, clock):
    await bind_east(org, clock)
    service = reminders(org, clock)
    await service.sync_rules()
    assert await service.run_due(shanghai(26, 23, 30)) == {}
    assert await keys(org) == []


async def test_the_catch_up_window_is_configurable(org, clock):
    service = reminders(org, clock, config=RemindersConfig(catch_up_minutes=6 * 60))
    await service.sync_rules()
    assert await service.run_due(shanghai(26, 23, 30)) == {"plan_reminder": 4,
                                                          "log_reminder": 4}


async def test_a_late_run_leaves_out_those_in_their_quiet_hours(org, ids, clock):
    await change_member(org, "carol", quiet_hours=QuietHours(time(18, 15), time(7, 0)))
    await change_member(org, "li", quiet_hours=QuietHours(time(21, 0), time(7, 0)))
    service = reminders(org, clock)
    await service.sync_rules()
    assert await service.run_due(shanghai(26, 18, 30)) == {"plan_reminder": 3}
    reminded = {r.member_id for r in await notification_rows(org)}
    assert ids["carol"] not in reminded and ids["li"] in reminded


async def test_an_on_time_run_holds_a_reminder_until_quiet_hours_end(org, ids, clock):
    await change_member(org, "carol", quiet_hours=QuietHours(time(17, 0), time(7, 0)))
    service = reminders(org, clock)
    await service.sync_rules()
    assert await service.run_due(shanghai(26, 18)) == {"plan_reminder": 4}
    carol = next(r for r in await notification_rows(org) if r.member_id == ids["carol"])
    assert carol.due_at == shanghai(27, 7)


async def test_catch_up_skips_disabled_rules_and_days_off(org, clock):
    service = reminders(org, clock, config=RemindersConfig(
        morning_digest=RuleConfig(enabled=False, at="09:00")))
    await service.sync_rules()
    assert await service.run_due(shanghai(28, 20)) == {}
    assert await service.run_due(shanghai(26, 10)) == {}
