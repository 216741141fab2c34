"""The pure rules of expense statistics: periods offered, ranking, the rest line, budgets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.domain.expenses.budgets import Budget, UnitKind
from core.domain.expenses.claims import ClaimStatus
from core.domain.expenses.stats import (
    BudgetLine,
    ClaimScope,
    Line,
    StatusFilter,
    cut,
    head,
    overlaps,
    period_choices,
    ranked,
    total,
)
from core.domain.period import Period


def test_the_periods_offered_follow_the_teams_calendar():
    choices = period_choices(date(2026, 11, 26))
    assert {k: p.label for k, p in choices.items()} == {
        "this_month": "2026-11", "last_month": "2026-10", "this_quarter": "2026-Q4",
        "this_year": "2026"}


def test_in_january_last_month_is_last_years_december():
    choices = period_choices(date(2027, 1, 3))
    assert (choices["last_month"].label, choices["this_quarter"].label) == ("2026-12",
                                                                            "2027-Q1")


def test_the_default_filter_is_what_budgets_count():
    assert StatusFilter.COMMITTED.statuses == {ClaimStatus.APPROVED, ClaimStatus.PENDING}
    assert StatusFilter("r").statuses == {ClaimStatus.REJECTED}
    with pytest.raises(ValueError):
        StatusFilter("d")  # drafts are nobody's statistics


def test_largest_first_then_by_name_whatever_order_the_database_gave():
    lines = [Line("b", Decimal("5.00"), 1), Line("a", Decimal("5.00"), 2),
             Line("c", Decimal("9.99"), 1)]
    assert [line.label for line in ranked(lines)] == ["c", "a", "b"]
    assert [line.label for line in ranked(list(reversed(lines)))] == ["c", "a", "b"]


def test_the_rest_is_summed_into_one_line_to_the_cent():
    lines = [Line(str(i), Decimal("0.01") * i, 1) for i in range(10, 0, -1)]
    shown, rest = head(lines, 4)
    assert [line.label for line in shown] == ["10", "9", "8"]
    assert rest == Line("7", Decimal("0.28"), 7)  # 7 lines, 0.07 + ... + 0.01
    assert total([*shown, rest]).amount == total(lines).amount == Decimal("0.55")
    assert head(lines, 10) == (lines, None)


def test_a_breakdown_cut_to_its_largest_lines_shows_what_the_whole_one_shows():
    lines = [Line(str(i), Decimal("0.01") * i, 1) for i in range(10, 0, -1)]
    for top in range(1, 12):
        kept, left_out = cut(lines, top)
        assert total([*kept, *([left_out] if left_out else [])]) == total(lines)
        for limit in range(2, top + 1):
            assert head(kept, limit, left_out) == head(lines, limit), (top, limit)
    assert cut(lines, None) == (lines, None)
    # Lines already summed by the database come on top of those cut here.
    kept, left_out = cut(lines[:5], 3, Line("5", Decimal("0.15"), 5))
    assert left_out == Line("7", Decimal("0.28"), 7)
    assert head(kept, 3, left_out) == head(lines, 3)


def test_a_budget_shows_what_is_left_and_how_much_is_used():
    budget = Budget(1, UnitKind.DEPARTMENT, 2, None, Period.parse("2026-Q4"), Decimal("1000"))
    line = BudgetLine(budget, "East", Decimal("1334.56"))
    assert (line.remaining, line.percent) == (Decimal("-334.56"), 133)
    unlimited = Budget(2, UnitKind.DEPARTMENT, 2, None, budget.period, Decimal("0"))
    assert BudgetLine(unlimited, "East", Decimal("1")).percent is None


@pytest.mark.parametrize(("budget_period", "shown", "expected"), [
    ("2026-11", "2026-11", True), ("2026-Q4", "2026-11", True), ("2026", "2026-11", True),
    ("2026-12", "2026-11", False), ("2026-11", "2026", True), ("2025", "2026-Q1", False),
])
def test_budgets_that_overlap_the_period_shown(budget_period, shown, expected):
    budget = Budget(1, UnitKind.DEPARTMENT, 2, None, Period.parse(budget_period), Decimal(1))
    assert overlaps(budget, Period.parse(shown)) is expected


def test_a_scope_of_no_department_matches_nothing():
    period = Period.parse("2026-11")
    assert ClaimScope(period, StatusFilter.COMMITTED.statuses, frozenset()).empty
    assert not ClaimScope(period, StatusFilter.COMMITTED.statuses).empty
