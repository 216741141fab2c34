"""Which day a rule fires on, which day it is about, and what a restart has missed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.config import CalendarConfig, RemindersConfig
from core.domain.inbox.reminders import ReminderRule, WorkCalendar
from core.inbox.reminders import configured_rules, next_run, previous_working_day, work_calendar
from tests.example_org import SHANGHAI

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = WorkCalendar()
# 2026: Thursday 26 November; National Day week in China with a make-up Saturday.
GOLDEN_WEEK = WorkCalendar(holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
                           working_weekends=frozenset({date(2026, 10, 10)}))


def at(zone: ZoneInfo, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


def plan_rule(last_run_at: datetime | None = None) -> ReminderRule:
    return ReminderRule("plan_reminder", True, "18:00", last_run_at=last_run_at)


def test_weekends_are_days_off_and_make_up_saturdays_are_working_days():
    assert WEEK.is_working_day(date(2026, 11, 27))
    assert not WEEK.is_working_day(date(2026, 11, 28))
    assert not GOLDEN_WEEK.is_working_day(date(2026, 10, 5))
    assert GOLDEN_WEEK.is_working_day(date(2026, 10, 10))


def test_the_next_working_day_skips_weekends_and_holidays():
    assert WEEK.next_working_day(date(2026, 11, 26)) == date(2026, 11, 27)
    assert WEEK.next_working_day(date(2026, 11, 27)) == date(2026, 11, 30)
    assert GOLDEN_WEEK.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert GOLDEN_WEEK.next_working_day(date(2026, 10, 9)) == date(2026, 10, 10)


def test_the_digest_looks_back_on_the_previous_working_day():
    assert previous_working_day(WEEK, date(2026, 11, 26)) == date(2026, 11, 25)
    assert previous_working_day(WEEK, date(2026, 11, 30)) == date(2026, 11, 27)
    assert previous_working_day(GOLDEN_WEEK, date(2026, 10, 8)) == date(2026, 9, 30)
    assert previous_working_day(GOLDEN_WEEK, date(2026, 10, 12)) == date(2026, 10, 10)


def test_a_calendar_without_working_days_is_refused():
    never = WorkCalendar(weekdays=frozenset())
    with pytest.raises(ValueError):
        previous_working_day(never, date(2026, 11, 26))


def test_the_rule_fires_at_its_local_time_in_the_teams_zone():
    assert plan_rule().fire_time(date(2026, 11, 26), SHANGHAI) == datetime(
        2026, 11, 26, 10, 0, tzinfo=UTC)
    # Summer and winter time: the same local time, a different hour in UTC.
    assert plan_rule().fire_time(date(2026, 7, 1), BERLIN).astimezone(UTC).hour == 16
    assert plan_rule().fire_time(date(2026, 12, 1), BERLIN).astimezone(UTC).hour == 17


def test_last_due_is_the_latest_fire_time_on_a_working_day():
    rule = plan_rule()
    assert rule.last_due(at(SHANGHAI, 11, 26, 17), SHANGHAI, WEEK) == at(SHANGHAI, 11, 25, 18)
    assert rule.last_due(at(SHANGHAI, 11, 26, 18), SHANGHAI, WEEK) == at(SHANGHAI, 11, 26, 18)
    assert rule.last_due(at(SHANGHAI, 11, 29, 20), SHANGHAI, WEEK) == at(SHANGHAI, 11, 27, 18)


WINDOW = timedelta(hours=2)


def test_a_rule_not_run_since_its_time_is_due_within_the_window():
    now = at(SHANGHAI, 11, 26, 19, 30)
    assert plan_rule().due(now, SHANGHAI, WEEK, WINDOW) == at(SHANGHAI, 11, 26, 18)
    assert plan_rule(at(SHANGHAI, 11, 25, 18)).due(now, SHANGHAI, WEEK, WINDOW) == at(
        SHANGHAI, 11, 26, 18)
    # On the minute, and at the window's last moment.
    assert plan_rule().due(at(SHANGHAI, 11, 26, 18), SHANGHAI, WEEK, WINDOW) is not None
    assert plan_rule().due(at(SHANGHAI, 11, 26, 20), SHANGHAI, WEEK, WINDOW) is not None


def test_a_rule_that_ran_or_is_not_due_yet_or_was_due_yesterday_is_not_run():
    window = timedelta(hours=30)
    assert plan_rule(at(SHANGHAI, 11, 26, 18, 1)).due(
        at(SHANGHAI, 11, 26, 20), SHANGHAI, WEEK, window) is None
    assert plan_rule(at(SHANGHAI, 11, 25, 18)).due(
        at(SHANGHAI, 11, 26, 17), SHANGHAI, WEEK, WINDOW) is None
    assert plan_rule(at(SHANGHAI, 11, 27, 18)).due(
        at(SHANGHAI, 11, 28, 20), SHANGHAI, WEEK, window) is None


def test_a_restart_late_in_the_evening_does_not_catch_up_the_evening_reminders():
    assert plan_rule().due(at(SHANGHAI, 11, 26, 23, 30), SHANGHAI, WEEK, WINDOW) is None
    assert plan_rule().due(at(SHANGHAI, 11, 26, 20, 1), SHANGHAI, WEEK, WINDOW) is None
    # A longer window, when a team wants it, reaches further back.
    assert plan_rule().due(at(SHANGHAI, 11, 26, 23, 30), SHANGHAI, WEEK,
                           timedelta(hours=6)) == at(SHANGHAI, 11, 26, 18)


def test_today_is_the_teams_day_not_utcs():
    # 01:30 in Shanghai on Friday is still Thursday in UTC: Thursday's 18:00 is long gone.
    now = at(SHANGHAI, 11, 27, 1, 30)
    assert plan_rule().due(now, SHANGHAI, WEEK, WINDOW) is None
    assert plan_rule().last_due(now, SHANGHAI, WEEK) == at(SHANGHAI, 11, 26, 18)


def test_next_run_is_the_next_fire_time_on_a_working_day():
    rule = plan_rule()
    assert next_run(rule, at(SHANGHAI, 11, 26, 10), SHANGHAI, WEEK) == at(SHANGHAI, 11, 26, 18)
    assert next_run(rule, at(SHANGHAI, 11, 26, 18), SHANGHAI, WEEK) == at(SHANGHAI, 11, 27, 18)
    assert next_run(rule, at(SHANGHAI, 11, 27, 19), SHANGHAI, WEEK) == at(SHANGHAI, 11, 30, 18)
    assert next_run(rule, at(SHANGHAI, 9, 30, 19), SHANGHAI, GOLDEN_WEEK) == at(
        SHANGHAI, 10, 8, 18)


def test_a_rule_without_a_time_of_day_has_no_next_run():
    sla = ReminderRule("approval_sla", True, "", {"remind_after_hours": 24})
    assert next_run(sla, at(SHANGHAI, 11, 26, 10), SHANGHAI, WEEK) is None


def test_the_config_becomes_rules_and_a_calendar():
    rules = {r.name: r for r in configured_rules(RemindersConfig())}
    assert [rules[n].at for n in ("plan_reminder", "log_reminder", "morning_digest")] == [
        "18:00", "19:00", "09:00"]
    assert rules["approval_sla"].at == ""
    assert all(r.last_run_at is None for r in rules.values())
    calendar = work_calendar(CalendarConfig(working_days=[1, 2, 3, 4, 5, 6],
                                            holidays=[date(2026, 11, 27)]))
    assert calendar.is_working_day(date(2026, 11, 28))
    assert not calendar.is_working_day(date(2026, 11, 27))
