"""Amounts as people type them, quick entry, categories, dates, numbers, the next question."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.days import Toward, parse_day
from core.domain.errors import DomainError
from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.claims import (
    Claim,
    check_spent_on,
    claim_number,
    guess_category,
    parse_amount,
    parse_claim_number,
    parse_claim_reference,
    split_quick_entry,
)
from core.domain.expenses.drafts import DraftStep, describe, next_step, read_entry

MAX = Decimal("100000")
TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(("text", "amount"), [
    ("120", "120.00"), ("120.50", "120.50"), ("1,234.5", "1234.50"), ("¥88", "88.00"),
    ("88元", "88.00"), ("88 CNY", "88.00"), ("０.５", "0.50"), ("12,5", "12.50")])
def test_amount_formats_are_read(text, amount):
    assert parse_amount(text, "CNY", MAX) == Decimal(amount)


@pytest.mark.parametrize(("text", "code"), [
    ("0", "amount_not_positive"), ("-5", "amount_not_positive"),
    ("100000.01", "amount_too_large"), ("lots", "amount_format"), ("", "amount_format"),
    ("1e5", "amount_format"), ("$20", "amount_currency"), ("20 USD", "amount_currency"),
    ("12.345", "amount_cents"), ("NaN", "amount_format"), ("1.2.3", "amount_format")])
def test_bad_amounts_are_refused(text, code):
    with pytest.raises(DomainError) as refused:
        parse_amount(text, "CNY", MAX)
    assert refused.value.code == code


@given(st.decimals(min_value=Decimal("0.01"), max_value=MAX, places=2))
def test_any_amount_written_with_grouping_reads_back(amount):
    assert parse_amount(f"{amount:,.2f}", "CNY", MAX) == amount
    assert parse_amount(f"¥{amount}", "CNY", MAX) == amount


@given(st.text(max_size=30))
def test_any_text_is_an_amount_or_a_refusal(text):
    try:
        amount = parse_amount(text, "CNY", MAX)
    except DomainError as error:
        assert error.code.startswith("amount_")
    else:
        assert Decimal("0") < amount <= MAX


def test_quick_entry_splits_amount_and_description():
    assert split_quick_entry("120.50 taxi to Harbor Logistics") == (
        "120.50", "taxi to Harbor Logistics")
    assert read_entry("120.50 taxi to Harbor", "CNY", MAX) == (Decimal("120.50"),
                                                               "taxi to Harbor")
    assert read_entry("88 CNY team lunch", "CNY", MAX) == (Decimal("88"), "team lunch")
    assert read_entry("¥ 88 lunch", "CNY", MAX) == (Decimal("88"), "lunch")
    assert read_entry("120 bus to office", "CNY", MAX) == (Decimal("120"), "bus to office")
    with pytest.raises(DomainError):
        read_entry("taxi 120", "CNY", MAX)


@pytest.mark.parametrize("text", ["CNY 88", "cny 88", "RMB 88", "88 cny", "CNY 88 lunch"])
def test_a_currency_written_before_the_amount_belongs_to_it(text):
    assert read_entry(text, "CNY", MAX)[0] == Decimal("88")


def test_another_currency_before_the_amount_is_refused_as_such():
    with pytest.raises(DomainError) as caught:
        read_entry("USD 88", "CNY", MAX)
    assert caught.value.code == "amount_currency"


def test_category_is_guessed_from_the_first_keyword_mentioned():
    keywords = {"travel": ["taxi", "打车"], "meals": ["lunch", "餐"]}
    assert guess_category("Taxi to Harbor", keywords) == "travel"
    assert guess_category("午餐", keywords) == "meals"
    assert guess_category("taxi after lunch", keywords) == "travel"
    assert guess_category("lunch, then a taxi", keywords) == "meals"
    assert guess_category("two taxis", keywords) == "travel"
    assert guess_category("printer paper", keywords) is None


def test_keywords_are_words_and_the_longer_phrase_wins():
    keywords = {"lodging": ["inn", "hotel"], "meals": ["dinner"],
                "entertainment": ["client dinner"]}
    assert guess_category("dinner at the airport", keywords) == "meals"
    assert guess_category("client dinner with Harbor Logistics", keywords) == "entertainment"
    assert guess_category("Lakeside Inn, two nights", keywords) == "lodging"


def test_spent_on_window():
    assert check_spent_on(TODAY, TODAY, 90) == TODAY
    with pytest.raises(DomainError, match="date_in_future"):
        check_spent_on(date(2026, 11, 27), TODAY, 90)
    with pytest.raises(DomainError, match="date_too_old"):
        check_spent_on(date(2026, 8, 27), TODAY, 90)


def parse_spent_on(text: str, today: date) -> date:
    return parse_day(text, today, Toward.PAST, refusal="spent_on_format")


def test_typed_dates_are_in_the_past():
    assert parse_spent_on("yesterday", TODAY) == date(2026, 11, 25)
    assert parse_spent_on("11-20", TODAY) == date(2026, 11, 20)
    assert parse_spent_on("11/20", TODAY) == date(2026, 11, 20)
    assert parse_spent_on("11月20日", TODAY) == date(2026, 11, 20)
    assert parse_spent_on("昨天", TODAY) == date(2026, 11, 25)
    assert parse_spent_on("12-01", TODAY) == date(2025, 12, 1)  # last December
    assert parse_spent_on("2026-12-01", TODAY) == date(2026, 12, 1)  # refused later
    for text in ("someday", "13-40"):
        with pytest.raises(DomainError, match="spent_on_format"):
            parse_spent_on(text, TODAY)


@given(st.integers(min_value=2000, max_value=9999), st.integers(min_value=1, max_value=10**9))
def test_claim_numbers_read_back(year, claim_id):
    assert parse_claim_number(claim_number(year, claim_id)) == claim_id


def test_claim_number_forms():
    assert claim_number(2026, 123) == "EXP-2026-000123"
    assert parse_claim_number("EXP-2026-000123") == 123
    assert parse_claim_number("exp-2026-000123") == 123
    assert parse_claim_number("123") == 123
    assert parse_claim_number("#123") == 123
    assert parse_claim_number("EXP-twenty") is None


def test_a_claim_number_names_its_year():
    claim = draft(id=123, number="EXP-2026-000123")
    assert parse_claim_reference("EXP-2026-000123").names(claim)
    assert parse_claim_reference("123").names(claim)
    assert not parse_claim_reference("EXP-9999-000123").names(claim)
    assert not parse_claim_reference("2025-123").names(claim)
    assert not parse_claim_reference("EXP-2026-000124").names(claim)


def draft(**fields) -> Claim:
    values = dict(id=1, member_id=1, amount=None, currency="CNY", category=None, spent_on=None,
                  unit_kind=None, unit_id=None)
    return Claim(**(values | fields))


def test_guided_flow_asks_every_empty_step_in_order():
    claim = draft(amount=Decimal("50"))
    assert next_step(claim, DraftStep.AMOUNT, receipt_above=Decimal(200),
                     guided=True) is DraftStep.DESCRIPTION
    assert next_step(claim, DraftStep.DESCRIPTION, receipt_above=Decimal(200),
                     guided=True) is DraftStep.CATEGORY
    full = draft(amount=Decimal("50"), category="meals", spent_on=TODAY,
                 unit_kind=UnitKind.DEPARTMENT, unit_id=1)
    assert next_step(full, DraftStep.UNIT, receipt_above=Decimal(200),
                     guided=True) is DraftStep.RECEIPT
    assert next_step(full, DraftStep.UNIT, receipt_above=Decimal(200), guided=True,
                     opportunities=True) is DraftStep.OPPORTUNITY
    assert next_step(full, DraftStep.OPPORTUNITY, receipt_above=Decimal(200),
                     guided=True) is DraftStep.RECEIPT
    assert next_step(full, DraftStep.RECEIPT, receipt_above=Decimal(200),
                     guided=True) is DraftStep.SUMMARY


def test_the_words_of_a_description_choose_the_category_unless_one_is_chosen():
    keywords = {"travel": ["taxi"], "lodging": ["hotel"]}
    described = describe(draft(amount=Decimal("350")), "hotel near Harbor", keywords)
    assert (described.description, described.category) == ("hotel near Harbor", "lodging")
    chosen = describe(draft(category="travel"), "hotel near Harbor", keywords)
    assert chosen.category == "travel"
    assert describe(draft(), "samples", keywords).category is None


def test_quick_entry_asks_only_what_is_missing():
    full = draft(amount=Decimal("350"), category="lodging", spent_on=TODAY,
                 unit_kind=UnitKind.DEPARTMENT, unit_id=1, description="hotel")
    assert next_step(full, DraftStep.AMOUNT, receipt_above=Decimal(200),
                     guided=False) is DraftStep.RECEIPT
    small = draft(amount=Decimal("35"), category=None, spent_on=TODAY,
                  unit_kind=UnitKind.DEPARTMENT, unit_id=1)
    assert next_step(small, DraftStep.AMOUNT, receipt_above=Decimal(200),
                     guided=False) is DraftStep.CATEGORY
    done = draft(amount=Decimal("35"), category="meals", spent_on=TODAY,
                 unit_kind=UnitKind.DEPARTMENT, unit_id=1)
    assert next_step(done, None, receipt_above=Decimal(200), guided=False) is DraftStep.SUMMARY
