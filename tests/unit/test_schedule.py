"""Plan vs log and plan-date rules: pure."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.schedule.execution import (
    MAX_ITEM_TEXT,
    NOTHING_PLANNED,
    ItemOutcome,
    ItemResult,
    PlanRefused,
    check_item_text,
    check_plan_day,
    percent,
    plan_vs_log,
)

TODAY = date(2026, 11, 26)


def test_execution_rate_is_done_over_planned():
    day = plan_vs_log([ItemResult(ItemOutcome.DONE, verified=True), ItemResult(ItemOutcome.DONE),
                       ItemResult(ItemOutcome.NOT_DONE), ItemResult(ItemOutcome.MOVED)])
    assert (day.planned, day.done, day.verified) == (4, 2, 1)
    assert day.rate == Fraction(1, 2) and day.verified_rate == Fraction(1, 4)
    assert percent(day.rate) == "50%" and percent(day.verified_rate) == "25%"


def test_a_day_with_nothing_planned_has_no_rate():
    assert plan_vs_log([]) == NOTHING_PLANNED
    assert percent(NOTHING_PLANNED.rate) == "—"


def test_days_add_up_by_items_not_by_averaging_rates():
    week = plan_vs_log([ItemResult(ItemOutcome.DONE)]) + plan_vs_log(
        [ItemResult(ItemOutcome.NOT_DONE)] * 3)
    assert week.rate == Fraction(1, 4)


@given(st.lists(st.sampled_from(list(ItemOutcome)), max_size=30), st.booleans())
def test_rates_stay_between_zero_and_one(outcomes, verified):
    day = plan_vs_log(ItemResult(o, verified=verified) for o in outcomes)
    if outcomes:
        assert 0 <= day.verified_rate <= day.rate <= 1


def test_plans_for_past_days_are_refused():
    with pytest.raises(PlanRefused) as refused:
        check_plan_day(TODAY - timedelta(days=1), TODAY)
    assert refused.value.code == "plan_in_past"
    check_plan_day(TODAY, TODAY)


def test_plans_more_than_90_days_ahead_are_refused():
    check_plan_day(TODAY + timedelta(days=90), TODAY)
    with pytest.raises(PlanRefused) as refused:
        check_plan_day(TODAY + timedelta(days=91), TODAY)
    assert refused.value.code == "plan_too_far"


def test_item_text_over_1000_characters_is_refused():
    assert check_item_text("  visit Harbor Logistics ") == "visit Harbor Logistics"
    check_item_text("x" * MAX_ITEM_TEXT)
    with pytest.raises(PlanRefused) as refused:
        check_item_text("x" * (MAX_ITEM_TEXT + 1))
    assert refused.value.code == "item_too_long"
    with pytest.raises(PlanRefused):
        check_item_text("   ")
