"""My schedule as a calendar: what each day holds, which months may be shown, ratings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.domain.errors import DomainError
from core.domain.schedule.checkins import TrustFlag
from core.domain.text import clean_text

# A calendar reaches back two years and forward as far as plans may be written.
MONTHS_BACK = 24
MONTHS_AHEAD = 3
MIN_RATING, MAX_RATING = 1, 5
MAX_COMMENT = 1000


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return self.shift(1).first - timedelta(days=1)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.last.day)]


def month_range(today: date) -> tuple[Month, Month]:
    """The first and last month a calendar may show, seen from today."""
    current = Month.of(today)
    return current.shift(-MONTHS_BACK), current.shift(MONTHS_AHEAD)


def clamp_month(wanted: Month, today: date) -> tuple[Month, bool]:
    """The month to show and whether `wanted` was out of range (then the nearest end)."""
    first, last = month_range(today)
    if wanted < first:
        return first, True
    if wanted > last:
        return last, True
    return wanted, False


@dataclass(frozen=True)
class DayMarks:
    """What one day of a member's calendar holds."""

    day: date
    planned: bool = False
    logged: bool = False
    check_ins: int = 0
    flagged: bool = False  # a check-in of that day carries a trust flag
    rating: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.planned or self.logged or self.check_ins)


class RatingRefused(DomainError):
    code = "rating_refused"


def check_rating(rating: int, comment: str | None) -> str | None:
    """A day's log is rated 1-5; the comment is optional and bounded."""
    if not MIN_RATING <= rating <= MAX_RATING:
        raise RatingRefused("rating_out_of_range", low=MIN_RATING, high=MAX_RATING)
    if comment is None:
        return None
    comment = clean_text(comment).strip()
    if len(comment) > MAX_COMMENT:
        raise RatingRefused("comment_too_long", limit=MAX_COMMENT)
    return comment or None


def week_of(day: date) -> tuple[date, date]:
    """Monday to Sunday around `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


# What the schedule tables hold, as the calendar reads them.

@dataclass(frozen=True)
class PlanItemFact:
    member_id: int
    day: date
    position: int
    text: str
    outcome: str
    at_time: str | None = None
    customer: str | None = None
    moved_to: date | None = None
    note: str | None = None
    verified: bool = False
    late: bool = False


@dataclass(frozen=True)
class LogFact:
    id: int
    member_id: int
    day: date
    note: str | None = None
    amended_late: bool = False
    rating: int | None = None
    rating_comment: str | None = None
    rated_by: int | None = None
    rated_at: datetime | None = None


@dataclass(frozen=True)
class LogEntryFact:
    text: str
    customer: str | None = None
    late: bool = False


@dataclass(frozen=True)
class CheckInFact:
    id: int
    member_id: int
    at: datetime
    lat: float
    lon: float
    flags: frozenset[TrustFlag] = frozenset()
    customer: str | None = None
    distance_m: float | None = None
    accuracy_m: float | None = None
    checked_out_at: datetime | None = None
    photos: int = 0
    customer_id: int | None = None

    @property
    def map_link(self) -> str:
        return f"https://maps.google.com/?q={self.lat:.6f},{self.lon:.6f}"


@dataclass(frozen=True)
class PhotoFact:
    id: int
    member_id: int
    sha256: str
    taken_at: datetime  # the check-in's time, else when the photo arrived
    customer: str | None = None
    file_id: str | None = None
