"""Pure plan rules: reading days and times, who may change an item, when it is verified."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.days import Toward, parse_day, read_day
from core.domain.errors import DomainError, NotAllowed
from core.domain.schedule.checkins import parse_flags
from core.domain.schedule.execution import ItemOutcome, PlanRefused, plan_vs_log
from core.domain.schedule.plans import (
    PlanItem,
    Visit,
    check_editable,
    check_log_day,
    item_result,
    parse_time,
)

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(("text", "day"), [
    ("2026-12-03", date(2026, 12, 3)), ("12-03", date(2026, 12, 3)), ("12/3", date(2026, 12, 3)),
    ("12月3日", date(2026, 12, 3)), ("tomorrow", date(2026, 11, 27)), ("明天", date(2026, 11, 27)),
    ("1-5", date(2027, 1, 5)), ("today", TODAY)])
def test_days_people_type_are_read(text, day):
    assert parse_day(text, TODAY, Toward.FUTURE) == day


@pytest.mark.parametrize("text", ["someday", "2026-02-30", "13-01", ""])
def test_unreadable_days_are_refused(text):
    with pytest.raises(DomainError) as refused:
        parse_day(text, TODAY, Toward.FUTURE)
    assert refused.value.code == "day_format"


DEC_4 = date(2026, 12, 4)


@pytest.mark.parametrize(("text", "toward", "day"), [
    ("12-03", Toward.PAST, date(2026, 12, 3)), ("12-03", Toward.FUTURE, date(2027, 12, 3)),
    ("12-04", Toward.PAST, DEC_4), ("12-04", Toward.FUTURE, DEC_4),
    ("12-05", Toward.PAST, date(2025, 12, 5)), ("12-05", Toward.FUTURE, date(2026, 12, 5)),
    ("1-5", Toward.PAST, date(2026, 1, 5)), ("1-5", Toward.FUTURE, date(2027, 1, 5)),
    ("2-29", Toward.PAST, date(2024, 2, 29)), ("2-29", Toward.FUTURE, date(2028, 2, 29)),
    ("yesterday", Toward.FUTURE, date(2026, 12, 3)), ("昨天", Toward.PAST, date(2026, 12, 3)),
    ("2026-12-03", Toward.FUTURE, date(2026, 12, 3))])
def test_a_month_and_day_is_the_nearest_past_day_for_a_log_and_future_day_for_a_plan(
        text, toward, day):
    assert read_day(text, DEC_4, toward) == day


@pytest.mark.parametrize("text", ["2-30", "13-01", "0-1", "2025-02-29"])
def test_days_no_calendar_has_are_not_read(text):
    assert read_day(text, DEC_4, Toward.PAST) is None
    assert read_day(text, DEC_4, Toward.FUTURE) is None


@pytest.mark.parametrize(("text", "clock"), [("9:30", "09:30"), ("09.30", "09:30"),
                                             ("14：05", "14:05"), ("23:59", "23:59")])
def test_times_are_read(text, clock):
    assert parse_time(text) == clock


@pytest.mark.parametrize("text", ["24:00", "9", "9:7", "noon"])
def test_bad_times_are_refused(text):
    with pytest.raises(PlanRefused):
        parse_time(text)


def item(**changes) -> PlanItem:
    values = {"id": 1, "member_id": 7, "day": TODAY, "position": 1, "text": "Visit",
              "customer_id": 3}
    return PlanItem(**(values | changes))


def test_someone_else_cannot_edit_an_item():
    with pytest.raises(NotAllowed):
        check_editable(item(), 8, TODAY)


def test_a_logged_item_is_not_edited():
    with pytest.raises(PlanRefused):
        check_editable(item(outcome=ItemOutcome.DONE), 7, TODAY)


def test_a_map_picked_check_in_does_not_verify():
    visits = [Visit(1, 7, TODAY, 3, parse_flags("map_picked")),
              Visit(2, 7, TODAY, 3, parse_flags("low_accuracy"))]
    proven = {(v.member_id, v.day, v.customer_id) for v in visits if v.proves_visit}
    assert not visits[0].proves_visit
    assert item_result(item(outcome=ItemOutcome.DONE), proven).verified
    assert not item_result(item(outcome=ItemOutcome.NOT_DONE), proven).verified
    assert not item_result(item(outcome=ItemOutcome.DONE, customer_id=4), proven).verified


outcomes = st.sampled_from(list(ItemOutcome))


@given(st.lists(st.tuples(outcomes, st.booleans(), st.booleans()), max_size=40))
def test_execution_counts_what_a_person_would_count(rows):
    """Each row: outcome, has a customer, that customer was visited with a trusted check-in."""
    items, visits = [], set()
    for number, (outcome, linked, visited) in enumerate(rows):
        items.append(item(id=number, outcome=outcome, customer_id=number if linked else None))
        if linked and visited:
            visits.add((7, TODAY, number))
    execution = plan_vs_log(item_result(i, visits) for i in items)
    assert execution.planned == len(rows)
    assert execution.done == sum(o is ItemOutcome.DONE for o, _, _ in rows)
    assert execution.verified == sum(o is ItemOutcome.DONE and linked and visited
                                     for o, linked, visited in rows)


@pytest.mark.parametrize("day, refusal", [
    (date(2026, 11, 27), "log_in_future"), (date(9999, 12, 31), "log_in_future"),
    (date(2024, 10, 31), "day_out_of_range"), (date(1, 1, 1), "day_out_of_range")])
def test_a_log_is_for_a_day_that_has_come_and_the_calendar_shows(day, refusal):
    with pytest.raises(PlanRefused) as refused:
        check_log_day(day, date(2026, 11, 26))
    assert refused.value.code == refusal


@pytest.mark.parametrize("day", [date(2026, 11, 26), date(2024, 11, 1)])
def test_today_and_the_calendars_first_month_may_be_logged(day):
    check_log_day(day, date(2026, 11, 26))
