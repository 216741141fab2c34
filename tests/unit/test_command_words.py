"""How the words after a command read: show or set (/budget, /goals), which period
(/stats, /export)."""

from __future__ import annotations

import pytest

from bot.commands import ShowOrSet, picked_period, show_or_set
from core.domain.period import Period

BUDGET_WORDS = (4, 5)  # unit category period amount [policy]
GOAL_WORDS = (4,)  # unit metric period target


@pytest.mark.parametrize("words", [BUDGET_WORDS, GOAL_WORDS])
@pytest.mark.parametrize(("args", "asked"), [
    ([], ShowOrSet()),
    (["2026-Q4"], ShowOrSet(period="2026-Q4")),
    (["anything"], ShowOrSet(period="anything")),  # the service says what a period is
])
def test_a_command_alone_or_with_a_period_shows(words, args, asked):
    assert show_or_set(args, words) == asked


def test_set_with_its_words_sets():
    budget = ["department:east", "travel", "2026-12", "12000"]
    assert show_or_set(["set", *budget], BUDGET_WORDS) == ShowOrSet(settings=tuple(budget))
    assert show_or_set(["SET", *budget, "block"], BUDGET_WORDS) == ShowOrSet(
        settings=(*budget, "block"))
    goal = ["member:carol", "visits", "2026-12", "20"]
    assert show_or_set(["Set", *goal], GOAL_WORDS) == ShowOrSet(settings=tuple(goal))


@pytest.mark.parametrize(("args", "words"), [
    (["2026-11", "2026-12"], BUDGET_WORDS),  # two periods: neither show nor set
    (["set"], BUDGET_WORDS),
    (["set", "a", "b", "c"], BUDGET_WORDS),
    (["set", "a", "b", "c", "d", "e", "f"], BUDGET_WORDS),
    (["set", "a", "b", "c", "d", "e"], GOAL_WORDS),
    (["set", "a", "b", "c"], GOAL_WORDS),
])
def test_other_words_ask_for_the_usage(args, words):
    assert show_or_set(args, words) is None


@pytest.mark.parametrize(("text", "period"), [
    ("2026-11", Period.parse("2026-11")), ("2026-Q4", Period.parse("2026-Q4")),
    ("2026", Period.parse("2026")),
])
def test_a_period_typed_or_on_a_button_is_picked(text, period):
    assert picked_period(text) == period


@pytest.mark.parametrize("text", [None, "", "2026-13", "Q4", "last month", "2026-Q5"])
def test_no_period_or_an_unreadable_one_picks_none(text):
    assert picked_period(text) is None
