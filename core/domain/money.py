"""Money as Decimal, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# Storage keeps integer cents in 64 bits; nothing a sales team spends comes near this.
MAX_AMOUNT = Decimal("999999999999.99")


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
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation:  # more digits than the decimal context holds
        raise AmountError("too large") from None
    if amount != cents:
        raise AmountError("has more than two decimals")
    if cents > MAX_AMOUNT:
        raise AmountError("too large")
    return abs(cents)  # "-0" is zero, not "-0.00"


def format_amount(amount: Decimal | str, currency: str = "") -> str:
    """1234.5 CNY -> 'CNY 1,234.50'; without a currency '1,234.50' (grouped, two decimals,
    half a cent up). A str is a Decimal as a snapshot keeps it ('1234.50')."""
    shown = f"{Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
    return f"{currency} {shown}" if currency else shown
