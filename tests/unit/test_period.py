"""Budget periods: a month, a quarter or a year, with an exclusive end."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.period import Period, PeriodError


def test_a_month_runs_to_the_first_of_the_next():
    november = Period.parse("2026-11")
    assert (november.start, november.end, november.label) == (
        date(2026, 11, 1), date(2026, 12, 1), "2026-11")
    assert november.kind == "month"


def test_december_ends_in_the_next_year():
    assert Period.parse("2026-12").end == date(2027, 1, 1)


def test_a_quarter_is_three_months():
    q4 = Period.parse("2026-Q4")
    assert (q4.start, q4.end, q4.label, q4.kind) == (
        date(2026, 10, 1), date(2027, 1, 1), "2026-Q4", "quarter")
    q1 = Period.parse("2026-Q1")
    assert (q1.start, q1.end) == (date(2026, 1, 1), date(2026, 4, 1))


def test_a_year_is_a_calendar_year():
    year = Period.parse("2026")
    assert (year.start, year.end, year.label, year.kind) == (
        date(2026, 1, 1), date(2027, 1, 1), "2026", "year")


@pytest.mark.parametrize(("written", "label"), [
    ("2026-q4", "2026-Q4"), (" 2026-11 ", "2026-11"), ("2026\n", "2026")])
def test_labels_are_normalised(written, label):
    assert Period.parse(written).label == label


def test_a_period_contains_its_first_day_but_not_its_end():
    november = Period.parse("2026-11")
    assert november.contains(date(2026, 11, 1))
    assert november.contains(date(2026, 11, 30))
    assert not november.contains(date(2026, 12, 1))
    assert not november.contains(date(2026, 10, 31))


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-Q5", "2026-Q0", "26-11", "2026-1",
                                  "2026-11-01", "", "Q4", "2026 Q4", "0000", "9999", "9999-12"])
def test_what_is_not_a_period_is_refused(text):
    with pytest.raises(PeriodError):
        Period.parse(text)


@given(st.integers(1, 9998), st.integers(1, 12))
def test_any_month_holds_exactly_its_days(year, month):
    period = Period.parse(f"{year:04d}-{month:02d}")
    assert period.start == date(year, month, 1)
    last = period.end - timedelta(days=1)
    assert (last.year, last.month) == (year, month)
    assert period.contains(last) and not period.contains(period.end)
    assert Period.parse(period.label) == period


@given(st.integers(1, 9998), st.integers(1, 4))
def test_any_quarter_is_its_three_months(year, quarter):
    period = Period.parse(f"{year:04d}-Q{quarter}")
    first = Period.parse(f"{year:04d}-{3 * quarter - 2:02d}")
    third = Period.parse(f"{year:04d}-{3 * quarter:02d}")
    assert (period.start, period.end) == (first.start, third.end)
    assert Period.parse(period.label) == period


@given(st.integers(1, 9998))
def test_any_year_is_its_four_quarters(year):
    period = Period.parse(f"{year:04d}")
    assert period.start == Period.parse(f"{year:04d}-Q1").start
    assert period.end == Period.parse(f"{year:04d}-Q4").end
    assert Period.parse(period.label) == period
