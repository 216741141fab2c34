"""Money as Decimal, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


class AmountError(ValueError):
    """Not a usable amount of money."""


def to_amount(value: object) -> Decimal:
    """A non-negative amount with at most two decimals, from text, int or Decimal."""
    if isinstance(value, bool) or value is None:
        raise AmountError("not a number")
    if isinstance(value, float):
        # TOML gives floats for 12.5; their repr is the text the person wrote.
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise AmountError("not a number") from None
    if not amount.is_finite():
        raise AmountError("not a number")
    if amount < 0:
        raise AmountError("must not be negative")
    if amount != amount.quantize(CENT):
        raise AmountError("has more than two decimals")
    return amount.quantize(CENT)


def format_amount(amount: Decimal, currency: str) -> str:
    """1234.5 CNY -> 'CNY 1,234.50' (grouped, two decimals)."""
    return f"{currency} {amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
