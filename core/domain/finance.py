"""The finance system's view of claims: approved claims in a stable order, and postings.

A finance system pages through approved claims and marks each posted with its ledger
reference. Paging must never skip a claim, even one whose approval commits while the
client is between pages; see `horizon`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from core.domain.errors import DomainError, NotFound
from core.domain.expenses import ClaimStatus

# A decision is stamped with its time before its transaction commits. Pages only reach up
# to this long ago, so a claim decided earlier than the last one handed out has always
# committed by then (a decision takes milliseconds; this also covers clock skew between
# bot processes). The cost: a claim is listed at most this long after its approval.
SETTLE = timedelta(seconds=60)
LEDGER_REF_MAX = 100  # expense_claims.ledger_ref


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


class LedgerRow(NamedTuple):
    """A LedgerClaim as the database holds it, for pages of 10,000 (see FinanceLedger).

    Same fields in the same order, but amount is integer cents and the times are UTC text
    "YYYY-MM-DD HH:MM:SS.ffffff" (the fraction may be missing), spent_on "YYYY-MM-DD":
    turning them into Decimals and datetimes would cost more than the query. `claim()`
    gives the LedgerClaim; `amount_text` and `iso_utc` give what the API writes.
    """

    number: str
    id: int
    member_key: str
    member_name: str
    department: str
    amount_cents: int | None
    currency: str
    category: str | None
    spent_on: str | None
    unit_kind: str | None
    unit_key: str | None
    unit_name: str | None
    opportunity_id: int | None
    description: str
    submitted_at: str | None
    decided_at: str
    posted_at: str | None
    ledger_ref: str | None
    receipt_count: int

    def claim(self) -> LedgerClaim:
        return LedgerClaim(
            self.number, self.id, self.member_key, self.member_name, self.department,
            None if self.amount_cents is None else (Decimal(self.amount_cents) / 100)
            .quantize(Decimal("0.01")),
            self.currency, self.category,
            None if self.spent_on is None else date.fromisoformat(self.spent_on),
            self.unit_kind, self.unit_key, self.unit_name, self.opportunity_id,
            self.description, parse_utc(self.submitted_at), parse_utc(self.decided_at),
            parse_utc(self.posted_at), self.ledger_ref, self.receipt_count)


def parse_utc(text: str | None) -> datetime | None:
    """A LedgerRow time as an aware UTC datetime."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def amount_text(cents: int | None) -> str | None:
    """Integer cents as the exact decimal text: 5 -> "0.05", 123450 -> "1234.50"."""
    if cents is None:
        return None
    if cents < 0:
        return f"-{-cents // 100}.{-cents % 100:02d}"
    return f"{cents // 100}.{cents % 100:02d}"


def iso_utc(text: str | None) -> str | None:
    """A LedgerRow time in ISO 8601 with Z, as pydantic writes a UTC datetime: the fraction
    only when there are microseconds ("2026-03-02T09:30:00Z", "...:00.120000Z")."""
    if text is None:
        return None
    if len(text) == 26 and text[19] == ".":
        fraction = text[19:]
        return (f"{text[:10]}T{text[11:19]}Z" if fraction == ".000000"
                else f"{text[:10]}T{text[11:19]}{fraction}Z")
    if len(text) == 19:
        return f"{text[:10]}T{text[11:]}Z"
    # Any other spelling: the slow, general way.
    moment = parse_utc(text)
    assert moment is not None
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return f"{moment.replace(microsecond=0, tzinfo=None).isoformat()}{fraction}Z"


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
    """A ledger reference as the finance system gave it: 1-100 printable characters."""
    if not (0 < len(text) <= LEDGER_REF_MAX) or text != text.strip() or not text.isprintable():
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
