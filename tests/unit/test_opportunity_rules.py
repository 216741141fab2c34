"""Opportunity rules: titles, amounts, close dates, moving through the pipeline, the numbers."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap.config import parse_config
from core.config import PipelineConfig
from core.domain.errors import DomainError, NotAllowed
from core.domain.opportunities.pipeline import (
    Opportunity,
    Pipeline,
    Stage,
    StageChange,
    StageSum,
    TimelineEntry,
    check_amount,
    check_close_date,
    check_note,
    check_reason,
    check_title,
    days_per_stage,
    funnel,
    may_move,
    may_reopen,
    merge_timeline,
    normalized_title,
    parse_close_date,
    probability_after,
    stage_on,
    stage_spans,
    weighted_amount,
    weighted_from_cent_percent,
    win_rate,
)
from core.domain.org.model import Department, Member, OrgTree, Role
from tests.example_org import SHANGHAI

PIPELINE = Pipeline(tuple(Stage(s.key, s.name, s.name_zh, s.probability, s.outcome)
                          for s in PipelineConfig().stages))
TODAY = date(2026, 11, 26)
MAX = Decimal("100000000")


def opportunity(stage: str = "proposal", probability: int = 50, **changes) -> Opportunity:
    values = dict(id=7, owner_id=5, department_id=2, customer_id=1, title="Cold-chain fleet",
                  amount=Decimal("120000.00"), currency="CNY", stage=stage,
                  probability=probability, expected_close=date(2026, 12, 20))
    return Opportunity(**{**values, **changes})


def refused(code: str, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


# The [pipeline] config.

def test_the_default_pipeline_has_six_stages_with_their_probabilities():
    assert [(s.key, s.probability, s.outcome) for s in PIPELINE.stages] == [
        ("lead", 10, ""), ("qualified", 25, ""), ("proposal", 50, ""),
        ("negotiation", 75, ""), ("won", 100, "won"), ("lost", 0, "lost")]
    assert PIPELINE.first.key == "lead"
    assert PIPELINE.get("won").terminal and PIPELINE.get("lost").terminal
    assert PIPELINE.get("proposal").label("zh_Hans") == "方案报价"


@pytest.mark.parametrize(("stages", "expected"), [
    ([{"key": "a", "name": "A", "probability": 10}, {"key": "a", "name": "B", "probability": 1}],
     "unique"),
    ([{"key": "a", "name": "A", "probability": 10}], "won"),
    ([{"key": "w", "name": "W", "probability": 100, "outcome": "won"},
      {"key": "l", "name": "L", "probability": 0, "outcome": "lost"}], "open stage"),
    ([{"key": "a", "name": "A", "probability": 101}], "pipeline.stages.0.probability"),
    ([{"key": "A b", "name": "A", "probability": 1}], "pipeline.stages.0.key"),
])
def test_a_bad_pipeline_is_refused_naming_the_key(stages, expected):
    with pytest.raises(Exception, match=expected):
        parse_config({"pipeline": {"stages": stages}}, env={})


# Titles, amounts, dates.

def test_a_title_is_trimmed_and_at_most_200_characters():
    assert check_title("  Cold-chain \n fleet ") == "Cold-chain fleet"
    assert check_title("x" * 200) == "x" * 200
    assert refused("opp_title_too_long", check_title, "x" * 201).params == {"limit": 200}
    refused("opp_title_empty", check_title, "   ")


def test_duplicate_titles_ignore_case_and_spacing():
    assert normalized_title("Cold-Chain  Fleet ") == normalized_title("cold-chain fleet")


@pytest.mark.parametrize(("text", "code"), [
    ("-5000", "amount_not_positive"), ("0", "amount_not_positive"),
    ("100000000.01", "opp_amount_too_large"), ("1e12", "amount_format"),
    ("twelve", "amount_format"), ("12.345", "amount_cents"), ("88 USD", "opp_amount_currency"),
])
def test_a_negative_or_absurd_amount_is_refused(text, code):
    refused(code, check_amount, text, "CNY", MAX)


def test_an_amount_is_read_like_a_claim_amount():
    assert check_amount("¥120,000", "CNY", MAX) == Decimal("120000")
    assert check_amount("88.5", "CNY", MAX) == Decimal("88.50")


def test_an_open_opportunity_cannot_close_in_the_past():
    refused("opp_close_in_past", check_close_date, date(2026, 11, 25), TODAY)
    assert check_close_date(TODAY, TODAY) == TODAY
    # A won deal's date is when it closed: the past is fine.
    assert check_close_date(date(2026, 1, 5), TODAY, is_open=False) == date(2026, 1, 5)
    refused("opp_close_too_far", check_close_date, date(2040, 1, 1), TODAY)


def test_close_dates_are_read_with_or_without_the_year():
    assert parse_close_date("2026-12-20", TODAY) == date(2026, 12, 20)
    assert parse_close_date("1-15", TODAY) == date(2027, 1, 15)
    refused("opp_close_in_past", parse_close_date, "2026-11-01", TODAY)
    refused("day_format", parse_close_date, "soon", TODAY)


def test_a_closed_deals_month_and_day_is_the_last_such_day():
    assert parse_close_date("11-01", TODAY, is_open=False) == date(2026, 11, 1)
    assert parse_close_date("12-20", TODAY, is_open=False) == date(2025, 12, 20)


def test_notes_and_reasons_are_trimmed_and_bounded():
    assert check_note("  called the buyer ") == "called the buyer"
    refused("opp_note_empty", check_note, " ")
    refused("opp_note_too_long", check_note, "x" * 1001)
    refused("opp_reason_empty", check_reason, "")
    refused("opp_reason_too_long", check_reason, "x" * 501)


# Moving through the pipeline.

def test_moving_forward_and_back_between_open_stages_is_allowed():
    assert may_move(opportunity(), "negotiation", PIPELINE, may_reopen_it=False).key == \
        "negotiation"
    assert may_move(opportunity(), "lead", PIPELINE, may_reopen_it=False).key == "lead"


def test_moving_to_the_same_stage_or_an_unknown_one_is_refused():
    refused("opp_same_stage", may_move, opportunity(), "proposal", PIPELINE, may_reopen_it=True)
    refused("opp_stage_unknown", may_move, opportunity(), "dreaming", PIPELINE,
            may_reopen_it=True)


def test_lost_needs_a_reason():
    refused("opp_lost_reason", may_move, opportunity(), "lost", PIPELINE, may_reopen_it=False)
    refused("opp_lost_reason", may_move, opportunity(), "lost", PIPELINE, may_reopen_it=False,
            reason="  ")
    assert may_move(opportunity(), "lost", PIPELINE, may_reopen_it=False,
                    reason="price").key == "lost"


def test_leaving_a_terminal_stage_needs_the_right_to_reopen():
    won = opportunity("won", 100)
    with pytest.raises(NotAllowed) as caught:
        may_move(won, "negotiation", PIPELINE, may_reopen_it=False)
    assert caught.value.code == "opp_reopen_not_allowed"
    assert may_move(won, "negotiation", PIPELINE, may_reopen_it=True).key == "negotiation"
    refused("opp_reopen_not_allowed", may_move, opportunity("lost", 0), "won", PIPELINE,
            may_reopen_it=False)


TREE = OrgTree.of([Department(1, "sales", "Sales", None, 10),
                   Department(2, "east", "East", 1, 11),
                   Department(3, "west", "West", 1, 12)])
DANA = Member(10, "dana", "Dana", 1, frozenset({Role.MANAGER}))
ERIN = Member(11, "erin", "Erin", 2, frozenset({Role.MANAGER}))
WALT = Member(12, "walt", "Walt", 3, frozenset({Role.MANAGER}))
CAROL = Member(5, "carol", "Carol", 2)
ADMIN = Member(20, "root", "Root", 3, frozenset({Role.ADMIN}))
FIONA = Member(30, "fiona", "Fiona", 3, frozenset({Role.FINANCE}))


@pytest.mark.parametrize(("actor", "allowed"), [
    (CAROL, False), (ERIN, True), (DANA, True), (WALT, False), (ADMIN, True), (FIONA, False),
])
def test_only_a_manager_above_the_owner_or_an_admin_may_reopen(actor, allowed):
    assert may_reopen(actor, CAROL, TREE) is allowed


def test_a_manager_may_not_reopen_their_own_deal():
    assert may_reopen(ERIN, ERIN, TREE) is False
    assert may_reopen(DANA, ERIN, TREE) is True


def test_probability_follows_the_stage_unless_the_owner_set_one():
    assert probability_after(opportunity(), PIPELINE.get("negotiation"), PIPELINE) == 75
    assert probability_after(opportunity(probability=60), PIPELINE.get("negotiation"),
                             PIPELINE) == 60
    assert probability_after(opportunity(probability=60), PIPELINE.get("won"), PIPELINE) == 100
    assert probability_after(opportunity("won", 100), PIPELINE.get("proposal"), PIPELINE) == 50


def test_overdue_means_open_and_past_the_expected_close():
    late = opportunity(expected_close=date(2026, 11, 20))
    assert late.overdue(TODAY, PIPELINE)
    assert not opportunity("won", 100, expected_close=date(2026, 11, 20)).overdue(TODAY,
                                                                                  PIPELINE)
    assert not opportunity().overdue(TODAY, PIPELINE)


# History and numbers.

def at(day: int, hour: int = 3) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


HISTORY = [StageChange(7, None, "lead", 5, at(2)), StageChange(7, "lead", "proposal", 5, at(10)),
           StageChange(7, "proposal", "won", 11, at(20, 20))]


def test_the_stage_on_a_day_comes_from_the_history():
    assert stage_on(HISTORY, date(2026, 11, 1)) is None
    assert stage_on(HISTORY, date(2026, 11, 2)) == "lead"
    assert stage_on(HISTORY, date(2026, 11, 9)) == "lead"
    assert stage_on(HISTORY, date(2026, 11, 10)) == "proposal"
    assert stage_on(HISTORY, date(2026, 11, 19)) == "proposal"
    assert stage_on(HISTORY, date(2026, 11, 20)) == "won"
    # 20:00 UTC on the 20th is already the 21st in Shanghai: the 20th ended in proposal.
    assert stage_on(HISTORY, date(2026, 11, 20), SHANGHAI) == "proposal"
    assert stage_on(HISTORY, date(2026, 11, 21), SHANGHAI) == "won"
    assert stage_on(list(reversed(HISTORY)), date(2026, 12, 31)) == "won"


@given(st.lists(st.tuples(st.integers(0, 24 * 60 * 20), st.sampled_from(
    ["lead", "qualified", "proposal", "won"])), max_size=12), st.integers(-2, 22))
def test_each_day_is_in_the_stage_its_last_move_left_it_in(moves, day_number):
    """The spans the kept totals are filed by agree with the moves read one by one: the
    last move made on or before a day (by the team's clock) decides it."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    history = [StageChange(7, None, stage, 5, start + timedelta(minutes=minutes), id=i)
               for i, (minutes, stage) in enumerate(moves)]
    day = date(2026, 11, 1) + timedelta(days=day_number)
    made = sorted(history, key=lambda c: (c.at, c.id))
    last = [c.to_stage for c in made if c.at.astimezone(SHANGHAI).date() <= day]
    assert stage_on(history, day, SHANGHAI) == (last[-1] if last else None)
    spans = stage_spans(history, SHANGHAI)
    assert [first for first, _ in spans] == sorted({first for first, _ in spans})
    assert all(a[1] != b[1] for a, b in itertools.pairwise(spans))


def test_weighted_amounts_are_exact_to_the_cent():
    assert weighted_amount(Decimal("120000.00"), 75) == Decimal("90000.00")
    assert weighted_amount(Decimal("0.03"), 50) == Decimal("0.02")
    assert weighted_from_cent_percent(12_000_000 * 75) == Decimal("90000.00")


def test_win_rate_is_won_over_decided():
    assert win_rate(0, 0) is None
    assert win_rate(1, 2) == Decimal("33.3")
    assert win_rate(3, 0) == Decimal("100.0")


def test_days_per_stage_averages_the_stays_that_ended():
    other = [StageChange(8, None, "lead", 5, at(1)), StageChange(8, "lead", "qualified", 5, at(5))]
    days = days_per_stage(HISTORY + other)
    assert days == {"lead": Decimal("6.0"), "proposal": Decimal("10.7")}


def test_the_funnel_lists_every_stage_in_order():
    lines = funnel([StageSum("proposal", 2, Decimal("10"), Decimal("5")),
                    StageSum("retired", 1, Decimal("1"), Decimal("1"))], PIPELINE)
    assert [(s.stage, s.count) for s in lines] == [
        ("lead", 0), ("qualified", 0), ("proposal", 2), ("negotiation", 0), ("won", 0),
        ("lost", 0), ("retired", 1)]


def test_the_timeline_merges_sources_newest_first_in_pages():
    stages = [TimelineEntry(at(d), "stage", 5, source_id=d) for d in (2, 10, 20)]
    notes = [TimelineEntry(at(d), "note", 5, source_id=d) for d in (3, 15)]
    page = merge_timeline([stages, notes], 0, 3)
    assert [(e.kind, e.at.day) for e in page] == [("stage", 20), ("note", 15), ("stage", 10)]
    assert [(e.kind, e.at.day) for e in merge_timeline([stages, notes], 3, 3)] == [
        ("note", 3), ("stage", 2)]
    assert timedelta(0) == page[0].at - at(20)


def test_days_per_stage_can_keep_only_stays_that_ended_in_a_period():
    assert days_per_stage(HISTORY, at(15), at(30)) == {"proposal": Decimal("10.7")}


# Moving a deal: Opportunity.move_to decides, the service stores what it returns.

MOVED_AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def move(deal: Opportunity, stage: str, by: Member = CAROL, **kwargs):
    return deal.move_to(stage, by=by, owner=CAROL, tree=TREE, at=MOVED_AT, today=TODAY,
                        pipeline=PIPELINE, **kwargs)


def test_a_move_returns_the_deal_after_it_and_the_change_to_keep():
    moved = move(opportunity(), "negotiation")
    assert (moved.opportunity.stage, moved.opportunity.probability,
            moved.opportunity.updated_at, moved.opportunity.closed_at) == (
        "negotiation", 75, MOVED_AT, None)
    assert moved.change == StageChange(7, "proposal", "negotiation", CAROL.id, MOVED_AT, None)
    assert opportunity().stage == "proposal"  # the deal read stays as it was


def test_winning_closes_the_deal_with_certainty():
    moved = move(opportunity(probability=60), "won")
    assert (moved.opportunity.probability, moved.opportunity.closed_at,
            moved.opportunity.lost_reason) == (100, MOVED_AT, None)


def test_losing_keeps_the_reason_cleaned_and_it_is_needed():
    moved = move(opportunity(), "lost", reason="  chose a rival ")
    assert (moved.opportunity.stage, moved.opportunity.probability,
            moved.opportunity.lost_reason) == ("lost", 0, "chose a rival")
    assert moved.change.reason == "chose a rival"
    refused("opp_lost_reason", move, opportunity(), "lost")
    refused("opp_reason_too_long", move, opportunity(), "lost", reason="x" * 501)
    # A reason given for an open stage is not kept.
    assert move(opportunity(), "lead", reason="why not").change.reason is None


def test_a_move_refuses_the_same_stage_an_unknown_one_and_a_stale_card():
    refused("opp_same_stage", move, opportunity(), "proposal")
    refused("opp_stage_unknown", move, opportunity(), "dreaming")
    refused("opp_changed", move, opportunity(), "negotiation", seen="lead")
    assert move(opportunity(), "negotiation", seen="proposal").opportunity.stage == \
        "negotiation"


@pytest.mark.parametrize("actor", [WALT, FIONA, Member(6, "li", "Li", 2)])
def test_only_those_who_work_the_deal_move_it(actor):
    with pytest.raises(NotAllowed) as caught:
        move(opportunity(), "negotiation", by=actor)
    assert caught.value.code == "opp_read_only"


def test_the_owner_may_not_reopen_a_closed_deal_but_their_manager_may():
    won = opportunity("won", 100, expected_close=date(2026, 11, 1), closed_at=MOVED_AT)
    with pytest.raises(NotAllowed) as caught:
        move(won, "negotiation")
    assert caught.value.code == "opp_reopen_not_allowed"
    reopened = move(won, "negotiation", by=ERIN)
    assert (reopened.opportunity.stage, reopened.opportunity.closed_at,
            reopened.opportunity.probability) == ("negotiation", None, 75)
    # It can no longer close in the past.
    assert reopened.opportunity.expected_close == TODAY
    assert reopened.change.changed_by == ERIN.id


@given(st.sampled_from([s.key for s in PIPELINE.stages]),
       st.sampled_from([s.key for s in PIPELINE.stages]))
def test_a_move_by_an_admin_lands_on_its_stage_or_says_why_not(start, target):
    deal = opportunity(start, PIPELINE.get(start).probability)
    try:
        moved = move(deal, target, by=ADMIN, reason="price")
    except DomainError as error:
        assert error.code == "opp_same_stage" and start == target
        return
    after = moved.opportunity
    assert (after.stage, moved.change.from_stage, moved.change.to_stage) == (
        target, start, target)
    assert (after.closed_at is not None) == PIPELINE.get(target).terminal
    assert after.version == deal.version  # the store raises it with its conditional write
