"""Goals: a target per member or department and period, and how far along it is.

Three metrics are reached by climbing (visits, new opportunities, won amount); the
expense-to-won ratio is a ceiling: lower is better, and it is only "met" once the period is
over, since any day may still bring a claim. Progress is a percentage either way, so a team
can be ranked on one scale.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from core.domain.errors import DomainError
from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.claims import parse_amount
from core.domain.inbox.reminders import WorkCalendar
from core.domain.period import Period, PeriodError

MAX_COUNT = 100_000  # visits or new opportunities in one period: more is a typo
MAX_RATIO = Decimal("100")  # percent: spending more than is won is no target
BAR_WIDTH = 10
_UNIT = re.compile(r"^(member|department):([A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")
_PERCENT = re.compile(r"^(\d{1,3}(?:\.\d{1,2})?)\s*%?$")
_COUNT = re.compile(r"^\d{1,9}$")


class Metric(enum.StrEnum):
    VISITS = "visits"  # verified check-ins
    NEW = "new"  # opportunities created in the period
    WON = "won"  # amount of the opportunities won in the period
    RATIO = "ratio"  # approved expenses ÷ won amount, in percent (a ceiling)

    @property
    def ceiling(self) -> bool:
        return self is Metric.RATIO

    @property
    def money(self) -> bool:
        return self is Metric.WON


_ALIASES = {"visit": Metric.VISITS, "opps": Metric.NEW, "opportunities": Metric.NEW,
            "expense_ratio": Metric.RATIO, "expenses": Metric.RATIO}


def parse_metric(text: str) -> Metric:
    word = text.strip().lower()
    try:
        return _ALIASES.get(word) or Metric(word)
    except ValueError:
        raise DomainError("goal_metric") from None


def parse_unit(text: str) -> tuple[UnitKind, str]:
    """'member:carol' or 'department:east' -> (kind, key)."""
    match = _UNIT.match(text.strip())
    if match is None:
        raise DomainError("goal_unit")
    return UnitKind(match[1]), match[2]


def parse_goal_period(text: str, today: date) -> Period:
    """A month, quarter or year that has not ended yet."""
    try:
        period = Period.parse(text)
    except PeriodError:
        raise DomainError("goal_period") from None
    if period.end <= today:
        raise DomainError("goal_period_over")
    return period


def parse_target(metric: Metric, text: str, currency: str, maximum: Decimal) -> Decimal:
    """A count for visits and new opportunities, money for won, a percent for the ratio."""
    text = text.strip()
    if metric.money:
        try:
            return parse_amount(text, currency, maximum)
        except DomainError:
            raise DomainError("goal_target") from None
    if metric.ceiling:
        match = _PERCENT.match(text)
        if match is None or not Decimal(0) < Decimal(match[1]) <= MAX_RATIO:
            raise DomainError("goal_target")
        return Decimal(match[1])
    if not _COUNT.match(text) or not 0 < int(text) <= MAX_COUNT:
        raise DomainError("goal_target")
    return Decimal(int(text))


def check_target(metric: Metric, target: Decimal) -> Decimal:
    """The same limits for a target read from the org file."""
    if target <= 0:
        raise DomainError("goal_target")
    if metric.ceiling and target > MAX_RATIO:
        raise DomainError("goal_target")
    if metric in (Metric.VISITS, Metric.NEW) and (target != target.to_integral_value()
                                                  or target > MAX_COUNT):
        raise DomainError("goal_target")
    return target


@dataclass(frozen=True)
class Goal:
    id: int | None
    unit_kind: UnitKind
    unit_id: int
    metric: Metric
    period: Period
    target: Decimal
    set_by: int | None = None
    set_at: datetime | None = None


def expense_ratio(expenses: Decimal, won: Decimal) -> Decimal | None:
    """Approved expenses as a percentage of the won amount; None when nothing is won."""
    if won <= 0:
        return None
    return (expenses * 100 / won).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Progress:
    """A goal and its value today. For the ratio, `value` is the percentage (None while
    nothing is won) and `expenses`/`won` are what it is made of."""

    goal: Goal
    value: Decimal | None
    today: date
    expenses: Decimal = Decimal("0.00")
    won: Decimal = Decimal("0.00")

    @property
    def percent(self) -> int:
        """How far along, 0-100 for a ceiling, 0 and up for the others (may pass 100)."""
        target = self.goal.target
        if self.goal.metric.ceiling:
            if self.value is None:
                return 100 if self.expenses == 0 else 0
            if self.value <= target:
                return 100
            return int((target * 100 / self.value).to_integral_value(rounding=ROUND_FLOOR))
        value = self.value or Decimal(0)
        return int((value * 100 / target).to_integral_value(rounding=ROUND_FLOOR))

    @property
    def over(self) -> bool:
        return self.today >= self.goal.period.end

    @property
    def reached(self) -> bool:
        """Worth a congratulation: a climbing target at 100%, or a ceiling kept until the
        period's end with something won."""
        if self.goal.metric.ceiling:
            return self.over and self.value is not None and self.value <= self.goal.target
        return self.percent >= 100

    @property
    def remaining(self) -> Decimal:
        """What is still missing (climbing targets), never negative."""
        return max(self.goal.target - (self.value or Decimal(0)), Decimal(0))

    def headroom(self) -> Decimal:
        """Ceiling: how much more may be spent at today's won amount (negative: over)."""
        return (self.goal.target * self.won / 100 - self.expenses).quantize(
            Decimal("0.01"), rounding=ROUND_FLOOR)

    def won_needed(self) -> Decimal:
        """Ceiling: how much more must be won for today's expenses to fit under it."""
        needed = self.expenses * 100 / self.goal.target - self.won
        return max(needed, Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def bar(percent: int, width: int = BAR_WIDTH) -> str:
    """▓▓▓▓░░░░░░ for 40%; full at 100% and beyond."""
    filled = min(width, max(0, percent) * width // 100)
    return "▓" * filled + "░" * (width - filled)


def working_days_left(calendar: WorkCalendar, today: date, period: Period) -> int:
    """Working days from today (included) to the period's end (excluded)."""
    day, count = max(today, period.start), 0
    while day < period.end:
        count += calendar.is_working_day(day)
        day += timedelta(days=1)
    return count


def per_day(remaining: Decimal, days: int, *, whole: bool) -> Decimal | None:
    """What each remaining working day must bring; None when no working day is left."""
    if days <= 0:
        return None
    share = remaining / days
    if whole:
        return share.to_integral_value(rounding=ROUND_HALF_UP) or Decimal(1)
    return share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def rank(progress: list[Progress]) -> list[Progress]:
    """Furthest along first; ties by metric and period, so the order is stable."""
    return sorted(progress, key=lambda p: (-p.percent, p.goal.metric.value, p.goal.period.label,
                                           p.goal.unit_kind.value, p.goal.unit_id))


def current_periods(today: date) -> list[Period]:
    """The month, quarter and year containing today."""
    quarter = (today.month - 1) // 3 + 1
    return [Period.parse(f"{today:%Y-%m}"), Period.parse(f"{today.year}-Q{quarter}"),
            Period.parse(str(today.year))]


def reached_key(goal: Goal, group_id: int) -> str:
    """One congratulation per goal and period in each team group."""
    return f"goal_reached:{goal.id}:{goal.period.label}:{group_id}"


def follow_up_key(opportunity_id: int, day: date) -> str:
    """At most one follow-up reminder per opportunity and day."""
    return f"follow_up:{opportunity_id}:{day.isoformat()}"


def follow_up_reason(expected_close: date, last_activity: date, today: date, *,
                     close_within_days: int, idle_days: int) -> str | None:
    """Why an open opportunity needs its owner today: "overdue", "closing", "idle" or None."""
    if expected_close < today:
        return "overdue"
    if expected_close <= today + timedelta(days=close_within_days):
        return "closing"
    if last_activity <= today - timedelta(days=idle_days):
        return "idle"
    return None
