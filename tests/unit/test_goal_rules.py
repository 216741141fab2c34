"""Goal rules: reading what a manager types, progress both ways, pace, follow-up reasons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.domain.errors import DomainError
from core.domain.expenses.budgets import UnitKind
from core.domain.inbox.reminders import WorkCalendar
from core.domain.opportunities.goals import (
    Goal,
    Metric,
    Progress,
    bar,
    check_target,
    expense_ratio,
    follow_up_reason,
    parse_goal_period,
    parse_metric,
    parse_target,
    parse_unit,
    per_day,
    rank,
    working_days_left,
)
from core.domain.period import Period

TODAY = date(2026, 11, 26)  # a Thursday
NOVEMBER = Period.parse("2026-11")
MAX = Decimal("100000000")


def goal(metric: Metric, target: str, period: Period = NOVEMBER, unit_id: int = 1) -> Goal:
    return Goal(1, UnitKind.MEMBER, unit_id, metric, period, Decimal(target))


def refused(code: str, call, *args) -> None:
    with pytest.raises(DomainError) as caught:
        call(*args)
    assert caught.value.code == code


def test_metrics_units_and_periods_are_read_as_typed():
    assert parse_metric("Visits") is Metric.VISITS
    assert parse_metric("opportunities") is Metric.NEW
    assert parse_unit("department:east") == (UnitKind.DEPARTMENT, "east")
    assert parse_goal_period("2026-q4", TODAY).label == "2026-Q4"
    refused("goal_metric", parse_metric, "calls")
    refused("goal_unit", parse_unit, "project:harbor")
    refused("goal_unit", parse_unit, "carol")
    refused("goal_period", parse_goal_period, "2026-13", TODAY)
    refused("goal_period", parse_goal_period, "next month", TODAY)
    refused("goal_period_over", parse_goal_period, "2026-10", TODAY)


@pytest.mark.parametrize(("metric", "text", "expected"), [
    (Metric.VISITS, "20", Decimal(20)),
    (Metric.WON, "500,000", Decimal("500000")),
    (Metric.RATIO, "12.5%", Decimal("12.5")),
    (Metric.RATIO, "5", Decimal(5)),
])
def test_targets_are_read_by_metric(metric, text, expected):
    assert parse_target(metric, text, "CNY", MAX) == expected


@pytest.mark.parametrize(("metric", "text"), [
    (Metric.VISITS, "0"), (Metric.VISITS, "-3"), (Metric.VISITS, "2.5"),
    (Metric.VISITS, "many"), (Metric.NEW, "1000000"), (Metric.WON, "-1"),
    (Metric.WON, "0"), (Metric.WON, "USD 100"), (Metric.WON, "1000000000"),
    (Metric.RATIO, "0"), (Metric.RATIO, "150%"), (Metric.RATIO, "ten"),
])
def test_bad_targets_are_refused(metric, text):
    refused("goal_target", parse_target, metric, text, "CNY", MAX)


def test_targets_from_the_org_file_meet_the_same_limits():
    assert check_target(Metric.VISITS, Decimal(20)) == Decimal(20)
    refused("goal_target", check_target, Metric.VISITS, Decimal("2.5"))
    refused("goal_target", check_target, Metric.RATIO, Decimal(101))
    refused("goal_target", check_target, Metric.WON, Decimal(0))


def test_progress_of_a_climbing_target():
    half = Progress(goal(Metric.VISITS, "20"), Decimal(11), TODAY)
    assert (half.percent, half.reached, half.remaining) == (55, False, Decimal(9))
    done = Progress(goal(Metric.VISITS, "20"), Decimal(23), TODAY)
    assert (done.percent, done.reached, done.remaining) == (115, True, Decimal(0))
    assert bar(55) == "▓▓▓▓▓░░░░░" and bar(115) == "▓" * 10 and bar(0) == "░" * 10


def test_the_ratio_is_a_ceiling_lower_is_better():
    target = goal(Metric.RATIO, "10")
    assert expense_ratio(Decimal(800), Decimal(10000)) == Decimal("8.0")
    assert expense_ratio(Decimal(800), Decimal(0)) is None
    under = Progress(target, Decimal("8.0"), TODAY, Decimal(800), Decimal(10000))
    over = Progress(target, Decimal("20.0"), TODAY, Decimal(2000), Decimal(10000))
    assert (under.percent, over.percent) == (100, 50)
    # Under the ceiling, but the month may still bring claims: not reached before its end.
    assert not under.reached
    assert Progress(target, Decimal("8.0"), date(2026, 12, 1), Decimal(800),
                    Decimal(10000)).reached
    assert not Progress(target, Decimal("20.0"), date(2026, 12, 1), Decimal(2000),
                        Decimal(10000)).reached
    assert under.headroom() == Decimal("200.00")
    assert over.won_needed() == Decimal("10000.00")
    # Spent with nothing won: as far from the ceiling as can be; neither: nothing to judge.
    assert Progress(target, None, TODAY, Decimal(50), Decimal(0)).percent == 0
    assert not Progress(target, None, date(2026, 12, 1)).reached


def test_pace_counts_working_days_from_today_to_the_periods_end():
    calendar = WorkCalendar(holidays=frozenset({date(2026, 11, 30)}))
    # Thu 26, Fri 27 (Mon 30 is a holiday).
    assert working_days_left(calendar, TODAY, NOVEMBER) == 2
    assert working_days_left(calendar, date(2026, 12, 1), NOVEMBER) == 0
    assert working_days_left(calendar, date(2026, 10, 1), NOVEMBER) == 20
    assert per_day(Decimal(3), 2, whole=True) == Decimal(2)
    assert per_day(Decimal(1), 5, whole=True) == Decimal(1)  # never "about 0 a day"
    assert per_day(Decimal("1000"), 3, whole=False) == Decimal("333.33")
    assert per_day(Decimal(3), 0, whole=True) is None


def test_teams_are_ranked_furthest_along_first():
    low = Progress(goal(Metric.VISITS, "20", unit_id=2), Decimal(5), TODAY)
    high = Progress(goal(Metric.NEW, "4", unit_id=3), Decimal(3), TODAY)
    ceiling = Progress(goal(Metric.RATIO, "10", unit_id=4), Decimal(20), TODAY,
                       Decimal(2000), Decimal(10000))
    assert rank([low, ceiling, high]) == [high, ceiling, low]


@pytest.mark.parametrize(("close", "last", "reason"), [
    (date(2026, 11, 20), TODAY, "overdue"),
    (date(2026, 11, 29), TODAY, "closing"),
    (date(2026, 11, 30), TODAY, None),
    (date(2026, 12, 31), date(2026, 11, 12), "idle"),
    (date(2026, 12, 31), date(2026, 11, 13), None),
])
def test_follow_up_reasons(close, last, reason):
    assert follow_up_reason(close, last, TODAY, close_within_days=3, idle_days=14) == reason
