"""Money: Decimal amounts with at most two decimals, never negative, never float."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.money import MAX_AMOUNT, AmountError, format_amount, to_amount


@pytest.mark.parametrize(("value", "amount"), [
    (12.5, "12.50"),          # what tomllib gives for `amount = 12.5`
    (0.1, "0.10"),
    (19.99, "19.99"),
    (1500, "1500.00"),
    ("1500.00", "1500.00"),
    (" 88.8 ", "88.80"),
    (Decimal("7.25"), "7.25"),
    ("0", "0.00"),
])
def test_an_amount_is_read_to_the_cent(value, amount):
    result = to_amount(value)
    assert isinstance(result, Decimal)
    assert str(result) == amount


@pytest.mark.parametrize(("value", "problem"), [
    (-1, "must not be negative"),
    ("-0.01", "must not be negative"),
    (-12.5, "must not be negative"),
    ("12.345", "has more than two decimals"),
    (Decimal("1.005"), "has more than two decimals"),
    (0.1 + 0.2, "has more than two decimals"),
    ("NaN", "not a number"),
    (math.nan, "not a number"),
    ("inf", "not a number"),
    (math.inf, "not a number"),
    ("-Infinity", "not a number"),
    (True, "not a number"),
    (False, "not a number"),
    (None, "not a number"),
    ("", "not a number"),
    ("twelve", "not a number"),
    ("12,50", "not a number"),
])
def test_what_is_not_an_amount_is_refused(value, problem):
    with pytest.raises(AmountError, match=f"^{problem}$"):
        to_amount(value)


def test_an_amount_too_long_for_decimal_arithmetic_is_refused():
    with pytest.raises(AmountError):
        to_amount("1e40")


def test_negative_zero_is_plain_zero():
    assert format_amount(to_amount("-0"), "CNY") == "CNY 0.00"


@given(st.decimals(min_value=0, max_value=MAX_AMOUNT, places=2))
def test_any_amount_with_at_most_two_decimals_round_trips(amount):
    assert to_amount(str(amount)) == amount
    assert to_amount(amount) == amount


@given(st.integers(0, 10**13))
def test_a_float_of_whole_cents_keeps_its_value(cents):
    assert to_amount(cents / 100) == Decimal(cents) / 100


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("-0.01"), places=2))
def test_any_negative_amount_is_refused(amount):
    with pytest.raises(AmountError, match="negative"):
        to_amount(str(amount))


@given(st.integers(0, 10**9), st.integers(1, 9))
def test_a_fraction_of_a_cent_is_refused(cents, tenth):
    with pytest.raises(AmountError, match="two decimals"):
        to_amount(f"{cents / 100:.2f}{tenth}")


@pytest.mark.parametrize(("amount", "shown"), [
    (Decimal("1234.5"), "CNY 1,234.50"),
    (Decimal("0"), "CNY 0.00"),
    (Decimal("999.99"), "CNY 999.99"),
    (Decimal("1234567.89"), "CNY 1,234,567.89"),
    (Decimal("0.005"), "CNY 0.01"),
    (Decimal("2.675"), "CNY 2.68"),
])
def test_amounts_are_shown_grouped_with_two_decimals(amount, shown):
    assert format_amount(amount, "CNY") == shown
    # Without a currency (a table whose header names it) and from a snapshot's text alike.
    assert format_amount(amount) == shown.removeprefix("CNY ")
    assert format_amount(str(amount), "CNY") == shown


@pytest.mark.parametrize(("amount", "shown"), [
    (Decimal("8200"), "8,200.00"), (Decimal("0.125"), "0.13"), (Decimal("0.135"), "0.14"),
    ("120.5", "120.50"), ("0", "0.00")])
def test_half_a_cent_is_always_rounded_up(amount, shown):
    assert format_amount(amount) == shown


def test_amount_beyond_what_storage_holds_is_too_large():
    with pytest.raises(AmountError, match="too large"):
        to_amount(MAX_AMOUNT + Decimal("0.01"))
