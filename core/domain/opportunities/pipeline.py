"""Opportunities: the pipeline's stages, the rules of moving through them, and its numbers.

A stage's outcome makes it terminal: "won" or "lost" closes the opportunity. Every move is
kept as a StageChange (the first one, from nothing, is the creation), so the stage an
opportunity had on any day can be answered from the history alone.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from core.domain.days import Toward, parse_day
from core.domain.errors import DomainError, NotAllowed
from core.domain.expenses.claims import parse_amount
from core.domain.money import CENT, format_amount
from core.domain.org.model import Member, OrgTree, Role
from core.domain.org.permissions import can_see_member, can_see_money_of
from core.domain.text import clean_text

MAX_TITLE = 200
MAX_NOTE = 1000
MAX_REASON = 500
# An expected close date further ahead than this is a typo, not a forecast.
MAX_CLOSE_AHEAD = timedelta(days=10 * 366)
WON, LOST, OPEN = "won", "lost", ""


@dataclass(frozen=True)
class Stage:
    key: str
    name: str
    name_zh: str
    probability: int  # percent, the default of an opportunity at this stage
    outcome: str = OPEN  # "won", "lost" or "" (open)

    @property
    def terminal(self) -> bool:
        return self.outcome != OPEN

    def label(self, language: str) -> str:
        return self.name_zh if language.startswith("zh") and self.name_zh else self.name


@dataclass(frozen=True)
class Pipeline:
    """The stages in their order (from the [pipeline] config)."""

    stages: tuple[Stage, ...]

    def get(self, key: str) -> Stage:
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise DomainError("opp_stage_unknown")

    def has(self, key: str) -> bool:
        return any(stage.key == key for stage in self.stages)

    @property
    def first(self) -> Stage:
        """Where a new opportunity starts unless told otherwise: the first open stage."""
        return self.open_stages[0]

    @property
    def open_stages(self) -> list[Stage]:
        return [s for s in self.stages if not s.terminal]

    @property
    def won(self) -> Stage:
        return next(s for s in self.stages if s.outcome == WON)

    @property
    def lost(self) -> Stage:
        return next(s for s in self.stages if s.outcome == LOST)

    def is_open(self, key: str) -> bool:
        """An unknown stage (removed from the config) counts as open: it can still move."""
        return not self.has(key) or not self.get(key).terminal


@dataclass(frozen=True)
class Opportunity:
    id: int | None
    owner_id: int
    department_id: int
    customer_id: int
    title: str
    amount: Decimal
    currency: str
    stage: str
    probability: int
    expected_close: date
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    lost_reason: str | None = None
    last_activity_at: datetime | None = None
    version: int = 1
    # Read with the opportunity for lists and cards; not stored on it.
    customer_name: str = ""

    @property
    def weighted(self) -> Decimal:
        return weighted_amount(self.amount, self.probability)

    def overdue(self, today: date, pipeline: Pipeline) -> bool:
        return pipeline.is_open(self.stage) and self.expected_close < today

    def move_to(self, stage: str, *, by: Member, owner: Member, tree: OrgTree, at: datetime,
                today: date, pipeline: Pipeline, reason: str | None = None,
                seen: str | None = None) -> StageMove:
        """Move the deal to another stage, or say why not; the deal after the move and the
        line its stage history keeps.

        Those who work the deal move it (`owner` is its owner's member); a won or lost deal
        is reopened only by those who may reopen it; the lost stage needs a reason. `seen`
        is the stage the person looked at: if the deal moved since, nothing changes. The
        probability follows the stage (see probability_after); a reopened deal can no
        longer close in the past.
        """
        if not can_change(by, owner, tree):
            raise NotAllowed("opp_read_only")
        if seen is not None and seen != self.stage:
            raise DomainError("opp_changed")
        target = may_move(self, stage, pipeline, may_reopen_it=may_reopen(by, owner, tree),
                          reason=reason)
        reason = check_reason(reason) if target.outcome == LOST else None
        expected_close = self.expected_close
        if not target.terminal and expected_close < today:
            expected_close = today
        moved = replace(self, stage=target.key,
                        probability=probability_after(self, target, pipeline),
                        closed_at=at if target.terminal else None, lost_reason=reason,
                        expected_close=expected_close, updated_at=at)
        return StageMove(moved, StageChange(self.id, self.stage, target.key, by.id, at, reason))


@dataclass(frozen=True)
class OpportunityScope:
    """Whose opportunities: the member's own, and all in `department_ids` (None: everyone's)."""

    member_id: int
    department_ids: frozenset[int] | None = frozenset()

    @property
    def everyone(self) -> bool:
        return self.department_ids is None


@dataclass(frozen=True)
class StageChange:
    opportunity_id: int
    from_stage: str | None  # None: the opportunity was created in to_stage
    to_stage: str
    changed_by: int
    at: datetime
    reason: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class StageMove:
    """What a stage move changed: the deal after it and the change its history keeps."""

    opportunity: Opportunity
    change: StageChange


@dataclass(frozen=True)
class Note:
    opportunity_id: int
    author_id: int
    text: str
    at: datetime
    id: int | None = None


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an opportunity's card: a plan item, a log entry, a check-in (with its
    photos counted), an expense claim, a stage change or a note; each source gives its own
    kind and detail."""

    at: datetime
    kind: str
    member_id: int | None
    detail: Mapping[str, object] = field(default_factory=dict)
    source_id: int | None = None


def merge_timeline(sources: Iterable[Sequence[TimelineEntry]], offset: int,
                   limit: int) -> list[TimelineEntry]:
    """One page of entries, newest first, from sources that each gave at least their newest
    `offset + limit` entries (in this same order: moment, then id, newest first), so the
    page is the same whatever else each source held. An entry given by two sources (a
    check-in linked to the deal and made at its customer) is kept once."""
    unique = {(e.kind, e.source_id): e for source in sources for e in source}
    merged = sorted(unique.values(), key=lambda e: (e.at, e.kind, e.source_id or 0),
                    reverse=True)
    return merged[offset:offset + limit]


def map_link(lat: float, lon: float) -> str:
    return f"https://maps.google.com/?q={lat:.6f},{lon:.6f}"


@dataclass(frozen=True)
class ClaimTotal:
    """The deal's committed claims (approved and pending) of one category."""

    category: str | None
    count: int
    amount: Decimal


@dataclass(frozen=True)
class CardFacts:
    """What a card reads beside the deal, in one query: each timeline source's newest entries
    (to merge with merge_timeline), the names of those who made them, the committed claims
    by category (only when asked: the viewer may see the money) and the photos taken at the
    deal's check-ins."""

    entries: list[TimelineEntry]
    names: dict[int, str]
    claim_totals: list[ClaimTotal]
    photos: int


def may_see_money(actor: Member, owner: Member, tree: OrgTree) -> bool:
    """Claim amounts on a deal's card: the owner, the managers above, admins and finance."""
    return can_see_money_of(actor, owner, tree)


# Checks of what a person types --------------------------------------------------------

_SPACES = re.compile(r"\s+")


def check_title(text: str) -> str:
    """The title trimmed, inner whitespace collapsed; refused empty or over 200 characters."""
    title = _SPACES.sub(" ", clean_text(text)).strip()
    if not title:
        raise DomainError("opp_title_empty")
    if len(title) > MAX_TITLE:
        raise DomainError("opp_title_too_long", limit=MAX_TITLE)
    return title


def normalized_title(title: str) -> str:
    """What two titles must share to name the same deal: case and spacing do not count."""
    return _SPACES.sub(" ", title).strip().casefold()


def check_amount(text: str, currency: str, maximum: Decimal) -> Decimal:
    """The deal's value, read as claims read amounts: negative, zero and absurd refused
    (the limit and the currency are the pipeline's, so they are said in its words)."""
    try:
        return parse_amount(text, currency, maximum)
    except DomainError as error:
        if error.code == "amount_too_large":
            raise DomainError("opp_amount_too_large",
                              maximum=format_amount(maximum, currency)) from None
        if error.code == "amount_currency":
            raise DomainError("opp_amount_currency", currency=currency) from None
        raise


def check_close_date(day: date, today: date, *, is_open: bool = True) -> date:
    """An open opportunity is expected to close today or later (and within ten years)."""
    if is_open and day < today:
        raise DomainError("opp_close_in_past")
    if day - today > MAX_CLOSE_AHEAD:
        raise DomainError("opp_close_too_far")
    return day


def parse_close_date(text: str, today: date, *, is_open: bool = True) -> date:
    """'2026-12-20', '12-20', '12月20日' -> a date checked by check_close_date.

    Without a year, an open deal's date is the next such day, a closed deal's the last one.
    """
    toward = Toward.FUTURE if is_open else Toward.PAST
    return check_close_date(parse_day(text, today, toward), today, is_open=is_open)


def check_text(text: str, *, limit: int, empty: str, too_long: str) -> str:
    text = clean_text(text).strip()
    if not text:
        raise DomainError(empty)
    if len(text) > limit:
        raise DomainError(too_long, limit=limit)
    return text


def check_note(text: str) -> str:
    return check_text(text, limit=MAX_NOTE, empty="opp_note_empty", too_long="opp_note_too_long")


def check_reason(text: str) -> str:
    return check_text(text, limit=MAX_REASON, empty="opp_reason_empty",
                      too_long="opp_reason_too_long")


def check_probability(value: int) -> int:
    if not 0 <= value <= 100:
        raise DomainError("opp_probability_range")
    return value


# Who may see and change an opportunity ------------------------------------------------

def can_see(actor: Member, owner: Member, tree: OrgTree) -> bool:
    """The owner, managers above them and admins; finance sees every deal (for its money)."""
    return can_see_member(actor, owner, tree) or can_see_money_of(actor, owner, tree)


def can_change(actor: Member, owner: Member, tree: OrgTree) -> bool:
    """The owner and managers above them (and admins) work the deal; finance only looks."""
    return can_see_member(actor, owner, tree)


def may_reopen(actor: Member, owner: Member, tree: OrgTree) -> bool:
    """Only an admin or a manager above the owner takes a won or lost deal back."""
    if not actor.active:
        return False
    if actor.has(Role.ADMIN):
        return True
    return actor.id != owner.id and owner.department_id in tree.managed_by(actor)


def may_move(opportunity: Opportunity, to_stage: str, pipeline: Pipeline, *,
             may_reopen_it: bool, reason: str | None = None) -> Stage:
    """The target stage if the move is allowed; otherwise a DomainError saying why.

    Leaving a terminal stage needs may_reopen_it; moving to the lost stage needs a reason.
    """
    target = pipeline.get(to_stage)
    if target.key == opportunity.stage:
        raise DomainError("opp_same_stage")
    if not pipeline.is_open(opportunity.stage) and not may_reopen_it:
        raise NotAllowed("opp_reopen_not_allowed")
    if target.outcome == LOST and not (reason or "").strip():
        raise DomainError("opp_lost_reason")
    return target


def probability_after(opportunity: Opportunity, target: Stage, pipeline: Pipeline) -> int:
    """The target stage's default, unless the owner had set their own at an open stage and
    the deal stays open (a terminal stage is certain: 100% or 0%)."""
    if target.terminal or not pipeline.has(opportunity.stage):
        return target.probability
    current = pipeline.get(opportunity.stage)
    return target.probability if opportunity.probability == current.probability \
        else opportunity.probability


# The history and the numbers ------------------------------------------------------------

def stage_spans(changes: Sequence[StageChange], zone: tzinfo = UTC) -> list[tuple[date, str]]:
    """The history as (first day, stage) for each local day (in `zone`) that ended in
    another stage than the day before, oldest first: a day is in the stage of the last span
    starting on or before it (the last move of a day counts)."""
    spans: list[tuple[date, str]] = []
    for change in sorted(changes, key=lambda c: (c.at, c.id or 0)):
        day = change.at.astimezone(zone).date()
        if spans and spans[-1][0] == day:
            spans.pop()
        if not spans or spans[-1][1] != change.to_stage:
            spans.append((day, change.to_stage))
    return spans


def stage_on(changes: Sequence[StageChange], day: date, zone: tzinfo = UTC) -> str | None:
    """The stage at the end of `day` (local to `zone`); None before the opportunity existed."""
    stage = None
    for first, stage_then in stage_spans(changes, zone):
        if first > day:
            break
        stage = stage_then
    return stage


def weighted_amount(amount: Decimal, probability: int) -> Decimal:
    return (amount * probability / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def weighted_from_cent_percent(total: int) -> Decimal:
    """A database's sum of cents × percent back to money (exact until the last rounding)."""
    return (Decimal(total) / 10_000).quantize(CENT, rounding=ROUND_HALF_UP)


def win_rate(won: int, lost: int) -> Decimal | None:
    """Won over decided, as a percentage with one decimal; None when nothing was decided."""
    if won + lost == 0:
        return None
    return (Decimal(100 * won) / (won + lost)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def days_per_stage(changes: Iterable[StageChange], left_from: datetime | None = None,
                   left_before: datetime | None = None) -> dict[str, Decimal]:
    """Average days an opportunity stayed in each stage it has left (stays still going and
    terminal stages are not counted), from the stage history of many opportunities; only
    stays that ended in [left_from, left_before) when those are given."""
    by_opportunity: dict[int, list[StageChange]] = defaultdict(list)
    for change in changes:
        by_opportunity[change.opportunity_id].append(change)
    stays: dict[str, list[timedelta]] = defaultdict(list)
    for history in by_opportunity.values():
        history.sort(key=lambda c: (c.at, c.id or 0))
        for entered, left in pairwise(history):
            if (left_from is None or left.at >= left_from) and (
                    left_before is None or left.at < left_before):
                stays[entered.to_stage].append(left.at - entered.at)
    return {stage: (Decimal(sum(s.total_seconds() for s in spans)) / len(spans) / 86_400)
            .quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            for stage, spans in stays.items()}


@dataclass(frozen=True)
class StageStays:
    """Stays in one stage that ended (the deal moved on), as a database sums them."""

    stage: str
    count: int
    seconds: float


def average_days(stays: Iterable[StageStays]) -> dict[str, Decimal]:
    """Average days per stage, rounded as days_per_stage rounds them (to whole seconds
    first: a database's sum of time differences may carry float noise)."""
    return {s.stage: (Decimal(round(s.seconds)) / s.count / 86_400)
            .quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            for s in stays if s.count}


@dataclass(frozen=True)
class StageSum:
    """The opportunities at one stage: how many, worth how much."""

    stage: str
    count: int
    amount: Decimal
    weighted: Decimal

    def __add__(self, other: StageSum) -> StageSum:
        return StageSum(self.stage, self.count + other.count, self.amount + other.amount,
                        self.weighted + other.weighted)


def funnel(sums: Sequence[StageSum], pipeline: Pipeline) -> list[StageSum]:
    """One line per configured stage in pipeline order (zeros where none), then stages no
    longer configured."""
    by_stage = {s.stage: s for s in sums}
    zero = Decimal("0.00")
    lines = [by_stage.pop(stage.key) if stage.key in by_stage
             else StageSum(stage.key, 0, zero, zero) for stage in pipeline.stages]
    return lines + sorted(by_stage.values(), key=lambda s: s.stage)
