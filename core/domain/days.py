"""Days as people type them: '2026-12-03', '12-03', '12/3', '12月3日', 'tomorrow', '昨天'."""

from __future__ import annotations

import enum
import re
from datetime import date, timedelta

from core.domain.errors import DomainError

WORDS = {"today": 0, "今天": 0, "tomorrow": 1, "明天": 1, "后天": 2,
         "yesterday": -1, "昨天": -1, "前天": -2}
_DAY = re.compile(r"(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?")
_YEARS_TO_TRY = 8  # enough to reach the next or last 29 February


class Toward(enum.Enum):
    """Which way a day written without its year points from today."""

    PAST = -1  # what happened: a work log, money spent
    FUTURE = 1  # what is to come: a plan, a close date


def read_day(text: str, today: date, toward: Toward) -> date | None:
    """The date written, or None when it cannot be read.

    A month and day without a year is the nearest such date on the side `toward` points
    to, today included: on 4 December, '12-03' is 3 December for a log and 3 December of
    next year for a plan. Whether that day is allowed is for the caller to say.
    """
    text = text.strip().lower()
    if text in WORDS:
        return today + timedelta(days=WORDS[text])
    match = _DAY.fullmatch(text)
    if match is None:
        return None
    month, day = int(match[2]), int(match[3])
    if match[1]:
        return _date(int(match[1]), month, day)
    if _date(2000, month, day) is None:  # a leap year: no year has that day
        return None
    for step in range(_YEARS_TO_TRY + 1):
        found = _date(today.year + step * toward.value, month, day)
        if found is not None and (found - today).days * toward.value >= 0:
            return found
    return None


def parse_day(text: str, today: date, toward: Toward, *, refusal: str = "day_format") -> date:
    """read_day, refused with DomainError(refusal) when the text is no date: 'day_format'
    for a plan, a log or a close date, 'spent_on_format' for the day money was spent."""
    day = read_day(text, today, toward)
    if day is None:
        raise DomainError(refusal)
    return day


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
