"""Calendar rules: months, their range, ratings, and who may rate whose log."""

from __future__ import annotations

from datetime import date

import pytest

from core.domain.org.model import Department, Member, OrgTree, Role
from core.domain.org.permissions import can_rate_log
from core.domain.schedule.calendar import Month, RatingRefused, check_rating, clamp_month, week_of

TODAY = date(2026, 11, 26)


def test_months_shift_across_years_and_know_their_days():
    assert Month(2026, 11).shift(2) == Month(2027, 1)
    assert Month(2026, 1).shift(-1) == Month(2025, 12)
    assert Month(2028, 2).last == date(2028, 2, 29) and len(Month(2026, 2).days()) == 28


def test_far_months_are_clamped_to_the_calendars_range():
    assert clamp_month(Month(2026, 12), TODAY) == (Month(2026, 12), False)
    assert clamp_month(Month(1900, 1), TODAY) == (Month(2024, 11), True)
    assert clamp_month(Month(9999, 12), TODAY) == (Month(2027, 2), True)


@pytest.mark.parametrize("rating", [0, 6, -3])
def test_a_rating_is_one_to_five(rating):
    with pytest.raises(RatingRefused):
        check_rating(rating, None)


def test_a_comment_is_trimmed_bounded_and_optional():
    assert check_rating(5, "  well done ") == "well done"
    assert check_rating(1, "   ") is None
    with pytest.raises(RatingRefused):
        check_rating(3, "x" * 1001)


def test_the_week_runs_monday_to_sunday():
    assert week_of(TODAY) == (date(2026, 11, 23), date(2026, 11, 29))


def test_managers_rate_their_subtree_but_never_themselves():
    tree = OrgTree.of([Department(1, "sales", "Sales", None, 10),
                       Department(2, "east", "East", 1, 20), Department(3, "west", "West", 1, 30)])
    dana = Member(10, "dana", "Dana", 1, frozenset({Role.MANAGER}))
    erin = Member(20, "erin", "Erin", 2, frozenset({Role.MANAGER}))
    walt = Member(30, "walt", "Walt", 3, frozenset({Role.MANAGER}))
    carol = Member(40, "carol", "Carol", 2)
    assert can_rate_log(erin, carol, tree) and can_rate_log(dana, carol, tree)
    assert can_rate_log(dana, erin, tree)
    assert not can_rate_log(walt, carol, tree)
    assert not can_rate_log(erin, erin, tree) and not can_rate_log(carol, carol, tree)
