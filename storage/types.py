"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.types import TypeDecorator

from core.domain.money import CENT


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; SQLite keeps no zone, so store UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Decimal amounts kept as integer cents, so sums are exact on every backend."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect) -> int | None:
        if value is None:
            return None
        cents = (Decimal(value) / CENT).to_integral_value()
        if cents * CENT != Decimal(value):
            raise ValueError(f"amount {value} has more than two decimals")
        return int(cents)

    def process_result_value(self, value: int | None, dialect) -> Decimal | None:
        return None if value is None else (Decimal(value) * CENT).quantize(CENT)
