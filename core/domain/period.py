"""Budget and goal periods: a month (2026-11), a quarter (2026-Q4) or a year (2026)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    """Not a period this product knows."""


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # exclusive
    label: str

    @classmethod
    def parse(cls, text: str) -> Period:
        text = text.strip().upper()
        if match := _MONTH.match(text):
            year, month = _year(match[1]), int(match[2])
            if not 1 <= month <= 12:
                raise PeriodError("month must be 01-12")
            return cls(date(year, month, 1), _add_months(year, month, 1), f"{year:04d}-{month:02d}")
        if match := _QUARTER.match(text):
            year, quarter = _year(match[1]), int(match[2])
            first = 3 * (quarter - 1) + 1
            return cls(date(year, first, 1), _add_months(year, first, 3), f"{year:04d}-Q{quarter}")
        if match := _YEAR.match(text):
            year = _year(match[1])
            return cls(date(year, 1, 1), date(year + 1, 1, 1), f"{year:04d}")
        raise PeriodError("use 2026-11, 2026-Q4 or 2026")

    @property
    def kind(self) -> str:
        return "year" if len(self.label) == 4 else "quarter" if "Q" in self.label else "month"

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def _year(text: str) -> int:
    # The exclusive end must be a date too, so 9999 has no periods.
    year = int(text)
    if not 1 <= year <= 9998:
        raise PeriodError("year must be between 0001 and 9998")
    return year


def _add_months(year: int, month: int, count: int) -> date:
    index = year * 12 + (month - 1) + count
    return date(index // 12, index % 12 + 1, 1)
