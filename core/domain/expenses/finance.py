"""The finance system's view of claims: approved claims in a stable order, and postings.

A finance system pages through approved claims and marks each posted with its ledger
reference. Paging must never skip a claim, even one whose approval commits while the
client is between pages; see `horizon`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple, TypeAlias

from core.domain.errors import DomainError, NotFound
from core.domain.expenses.claims import ClaimStatus

# A decision is stamped with its time before its transaction commits. Pages only reach up
# to this long ago, so a claim decided earlier than the last one handed out has always
# committed by then (a decision takes milliseconds; this also covers clock skew between
# bot processes). The cost: a claim is listed at most this long after its approval.
SETTLE = timedelta(seconds=60)
LEDGER_REF_MAX = 100  # expense_claims.ledger_ref
# What a ledger reference may not hold: control characters, line breaks and spaces other than
# the plain space, invisible format characters (zero-width, bidirectional overrides) and the
# non-characters U+FFFE/U+FFFF. Written as a regular expression so that the finance API
# publishes the rule itself (ECMA-262 and Rust's regex read it as Python does), and so that it
# stays the same whichever Unicode version Python knows: any other character, a newer emoji
# or a private-use character included, is allowed.
_HIDDEN = (r"\x00-\x1f\x7f-\xa0\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u1680"
           r"\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff"
           r"\ufff9-\ufffb\ufffe\uffff")
# 1-100 such characters, no space at either end.
LEDGER_REF_PATTERN = rf"^[^ {_HIDDEN}](?:[^{_HIDDEN}]{{0,{LEDGER_REF_MAX - 2}}}[^ {_HIDDEN}])?$"
_LEDGER_REF = re.compile(LEDGER_REF_PATTERN)
# A lone surrogate is no character at all (JSON's "\ud800" still decodes to one), so no text
# pattern names it and no database can store it.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    name: str


class LedgerClaim(NamedTuple):
    """An approved claim as finance books it.

    A flat tuple rather than a dataclass: pages of 10,000 are built from database rows
    as they come (`LedgerClaim._make(row)`).
    """

    number: str
    id: int
    member_key: str
    member_name: str
    department: str  # the claimant's department key when it was submitted
    amount: Decimal
    currency: str
    category: str | None
    spent_on: date | None
    unit_kind: str | None  # the accounting unit: department, project or member
    unit_key: str | None
    unit_name: str | None
    opportunity_id: int | None
    description: str
    submitted_at: datetime | None
    decided_at: datetime
    posted_at: datetime | None
    ledger_ref: str | None
    receipt_count: int


# A LedgerClaim as the database holds it, for pages of 10,000 (see FinanceLedger): the same
# fields in the same order, but amount is integer cents and the times are UTC text
# "YYYY-MM-DD HH:MM:SS.ffffff" (the fraction may be missing; aware UTC datetimes where the
# driver decodes them itself, as asyncpg does), spent_on "YYYY-MM-DD":
# turning them into Decimals and datetimes would cost more than the query. `ledger_claim`
# gives the LedgerClaim, `ledger_position` where a page of them ends, `amount_text` and
# `utc_moment` what the API writes.
#
# A plain tuple rather than a NamedTuple: the garbage collector stops tracking a tuple of
# strings and numbers, never a NamedTuple, and a page's 10,000 tracked rows would set off
# a full collection of the process every few pages.
LedgerRow: TypeAlias = tuple[
    str,  # number
    int,  # id
    str,  # member_key
    str,  # member_name
    str,  # department
    int | None,  # amount_cents
    str,  # currency
    str | None,  # category
    str | None,  # spent_on
    str | None,  # unit_kind
    str | None,  # unit_key
    str | None,  # unit_name
    int | None,  # opportunity_id
    str,  # description
    str | datetime | None,  # submitted_at
    str | datetime,  # decided_at
    str | datetime | None,  # posted_at
    str | None,  # ledger_ref
    int,  # receipt_count
]


def ledger_claim(row: LedgerRow) -> LedgerClaim:
    (number, id_, member_key, member_name, department, cents, currency, category, spent_on,
     unit_kind, unit_key, unit_name, opportunity_id, description, submitted_at, decided_at,
     posted_at, ledger_ref, receipt_count) = row
    return LedgerClaim(
        number, id_, member_key, member_name, department,
        None if cents is None else (Decimal(cents) / 100).quantize(Decimal("0.01")),
        currency, category, None if spent_on is None else date.fromisoformat(spent_on),
        unit_kind, unit_key, unit_name, opportunity_id, description, parse_utc(submitted_at),
        parse_utc(decided_at), parse_utc(posted_at), ledger_ref, receipt_count)


def ledger_position(row: LedgerRow) -> Position:
    """Where a page that ends with this row ends."""
    return Position(parse_utc(row[15]), row[1])  # type: ignore[arg-type]


def parse_utc(value: str | datetime | None) -> datetime | None:
    """A LedgerRow time as an aware UTC datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# "00" to "99": twice as fast as formatting with :02d, 10,000 times a page.
_CENTS = [f"{cents:02d}" for cents in range(100)]


def amount_text(cents: int | None) -> str | None:
    """Integer cents as the exact decimal text: 5 -> "0.05", 123450 -> "1234.50"."""
    if cents is None:
        return None
    if cents < 0:
        return f"-{-cents // 100}.{_CENTS[-cents % 100]}"
    return f"{cents // 100}.{_CENTS[cents % 100]}"


def utc_moment(value: str | datetime | None) -> datetime | None:
    """A LedgerRow time for a writer that takes naive datetimes as UTC (the API's pages):
    naive as the database gives it, or moved to UTC if it names an offset.

    `parse_utc` without a second datetime for each of a page's 30,000 times.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is None or value.tzinfo is UTC else value.astimezone(UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class LedgerReceipt:
    sha256: str
    size: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One audit event: what happened to the claim, who did it (None: the system), when."""

    action: str
    actor: Person | None
    at: datetime


@dataclass(frozen=True, slots=True)
class LedgerClaimRecord:
    claim: LedgerClaim
    receipts: list[LedgerReceipt]
    history: list[HistoryLine]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: claims sort by (decided_at, id)."""

    decided_at: datetime
    claim_id: int


@dataclass(frozen=True, slots=True)
class LedgerPage:
    claims: list[LedgerClaim]
    position: Position | None  # after the last claim handed out so far; None: none yet
    has_more: bool


@dataclass(frozen=True, slots=True)
class LedgerRowPage:
    """LedgerPage with the claims as LedgerRows."""

    rows: list[LedgerRow]
    position: Position | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class Posting:
    number: str
    ledger_ref: str
    posted_at: datetime


def horizon(now: datetime) -> datetime:
    """The latest decision time a page may include (see SETTLE)."""
    return now - SETTLE


def check_ledger_ref(text: str) -> str:
    """A ledger reference as the finance system gave it: 1-100 visible characters or spaces,
    trimmed (see LEDGER_REF_PATTERN)."""
    if not _LEDGER_REF.fullmatch(text) or _SURROGATE.search(text):
        raise DomainError("bad_ledger_ref")
    return text


@dataclass(frozen=True, slots=True)
class PostingState:
    """What decides a posting request: the claim's status and any posting it already has."""

    claim_id: int
    number: str
    status: str
    posted_at: datetime | None
    ledger_ref: str | None


def existing_posting(state: PostingState | None, ledger_ref: str) -> Posting | None:
    """The posting that already answers this request, or None when the claim is to be posted.

    Posting is idempotent: the same reference again is the same posting; a different one
    on a posted claim, or any on a claim that is not approved, is refused.
    """
    if state is None:
        raise NotFound("claim_not_found")
    if state.status != ClaimStatus.APPROVED:
        raise DomainError("claim_not_approved")
    if state.posted_at is None or state.ledger_ref is None:
        return None
    if state.ledger_ref != ledger_ref:
        raise DomainError("claim_posted_elsewhere", ledger_ref=state.ledger_ref)
    return Posting(state.number, state.ledger_ref, state.posted_at)
