"""Expense claims: amounts as people type them, states, claim numbers, duplicate receipts.

Pure rules; the claims service (core/expenses/claims.py) loads what they need and stores what
they decide.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from core.domain.errors import DomainError
from core.domain.expenses.budgets import UnitKind
from core.domain.money import CENT
from core.domain.schedule.photos import same_photo
from core.domain.text import clean_text


class ClaimStatus(enum.StrEnum):
    DRAFT = "draft"  # being written; only its author sees it
    PENDING = "pending"  # submitted, waiting for the current step's approver
    APPROVED = "approved"  # every step approved; finance may post it
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # taken back by its author while pending


# Claims that count against a budget.
COMMITTED = frozenset({ClaimStatus.PENDING, ClaimStatus.APPROVED})


class StepKind(enum.StrEnum):
    MANAGER = "manager"  # one named approver
    FINANCE = "finance"  # any member with the finance role


class StepState(enum.StrEnum):
    WAITING = "waiting"  # not reached yet
    CURRENT = "current"  # the approver is asked now
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # the claim was withdrawn or rejected before this step


class ClaimAction(enum.StrEnum):
    """What the audit log records."""

    CREATED = "created"
    EDITED = "edited"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ESCALATED = "escalated"
    HANDED_OVER = "handed_over"  # its approver left the company
    REMINDED = "reminded"
    POSTED = "posted"


@dataclass(frozen=True)
class Receipt:
    id: int | None
    claim_id: int
    sha256: str
    file_id: str | None
    as_document: bool
    width: int
    height: int
    size: int
    created_at: datetime
    dhash: int | None = None  # the picture's difference hash (None: kept before it was)


@dataclass(frozen=True)
class Claim:
    id: int | None
    member_id: int
    amount: Decimal | None
    currency: str
    category: str | None
    spent_on: date | None
    unit_kind: UnitKind | None
    unit_id: int | None
    description: str = ""
    opportunity_id: int | None = None
    report_id: int | None = None
    status: ClaimStatus = ClaimStatus.DRAFT
    number: str | None = None  # given on submit: EXP-2026-000123
    version: int = 1  # raised by every change; decisions are conditional on it
    created_at: datetime | None = None
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    posted_at: datetime | None = None
    ledger_ref: str | None = None
    receipt_count: int = 0

    def missing(self) -> list[str]:
        """The fields still needed before it can be submitted, in the order they are asked."""
        wanted = [("amount", self.amount), ("category", self.category),
                  ("date", self.spent_on), ("unit", self.unit_kind)]
        return [name for name, value in wanted if value is None]


@dataclass(frozen=True)
class ApprovalStep:
    id: int | None
    claim_id: int
    position: int
    kind: StepKind
    approver_id: int | None  # None for the finance pool
    state: StepState = StepState.WAITING
    decided_by: int | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    reached_at: datetime | None = None  # when it became current: the SLA counts from here
    reminded_at: datetime | None = None
    escalated: bool = False  # added because of a budget overrun or an SLA escalation


@dataclass(frozen=True)
class ClaimEvent:
    """One line of a claim's audit log."""

    id: int | None
    claim_id: int
    action: ClaimAction
    actor_id: int | None  # None: the system (SLA escalation)
    at: datetime
    chat_id: int | None = None
    detail: dict = field(default_factory=dict)


# Amounts -------------------------------------------------------------------------------

_CURRENCY_SIGNS = {"¥": "CNY", "￥": "CNY", "元": "CNY", "块": "CNY", "rmb": "CNY", "人民币": "CNY",
                   "$": "USD", "€": "EUR", "£": "GBP"}
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，－＋", "0123456789.,-+")
# An optional three-letter code before or after the number: "CNY 88", "88 cny".
_WITH_CODE = re.compile(r"^(?:([A-Za-z]{3}))?([-+]?[\d.,]+)(?:([A-Za-z]{3}))?$")
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^\d+,\d{1,2}$")
_PLAIN = re.compile(r"^\d+(\.\d+)?$|^\.\d+$")
AMOUNT_EXAMPLE = "120.50"


def parse_amount(text: str, currency: str, maximum: Decimal) -> Decimal:
    """'1,234.5', '¥88', '88元', '88 CNY' -> Decimal in `currency`; DomainError otherwise.

    Codes: amount_format (with an example), amount_currency (another currency),
    amount_not_positive, amount_too_large (with the maximum), amount_cents.
    """
    raw = "".join(text.translate(_FULL_WIDTH).split())
    named: str | None = None
    lowered = raw.lower()
    for sign, code in _CURRENCY_SIGNS.items():
        if lowered.startswith(sign):
            named, raw = code, raw[len(sign):]
            break
        if lowered.endswith(sign):
            named, raw = code, raw[: len(raw) - len(sign)]
            break
    match = _WITH_CODE.match(raw)
    if match is None or (match[1] and match[3]) or (named and (match[1] or match[3])):
        raise DomainError("amount_format", example=AMOUNT_EXAMPLE)
    if match[1] or match[3]:
        named = (match[1] or match[3]).upper()
    if named is not None and named != currency:
        raise DomainError("amount_currency", currency=currency)
    number = match[2]
    negative = number.startswith("-")
    number = number.lstrip("-+")
    if _GROUPED.match(number):
        number = number.replace(",", "")
    elif _DECIMAL_COMMA.match(number):
        number = number.replace(",", ".")
    elif not _PLAIN.match(number):
        raise DomainError("amount_format", example=AMOUNT_EXAMPLE)
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise DomainError("amount_format", example=AMOUNT_EXAMPLE) from None
    if negative or amount <= 0:
        raise DomainError("amount_not_positive", example=AMOUNT_EXAMPLE)
    if amount > maximum:
        raise DomainError("amount_too_large", maximum=maximum)
    if amount != amount.quantize(CENT):
        raise DomainError("amount_cents", example=AMOUNT_EXAMPLE)
    return amount.quantize(CENT)


_LEADING_AMOUNT = re.compile(r"^\s*(\S+)\s*(.*)$", re.DOTALL)


def split_quick_entry(text: str) -> tuple[str, str]:
    """'120.50 taxi to Harbor' -> ('120.50', 'taxi to Harbor'); the amount still unparsed."""
    match = _LEADING_AMOUNT.match(text)
    if not match:
        return "", ""
    return match[1], match[2].strip()


def guess_category(description: str, keywords: dict[str, Sequence[str]]) -> str | None:
    """The category of the keyword mentioned first ("taxi after lunch" is travel); of two
    starting at the same place the longer ("client dinner" beats "dinner"); then the
    category configured first.

    Latin keywords match whole words, plurals too ("inn" is not in "dinner"); Chinese ones
    anywhere.
    """
    lowered = description.lower()
    best: tuple[int, int, str] | None = None
    for category, words in keywords.items():
        for word in words:
            word = word.strip().lower()
            start = _mentioned_at(lowered, word) if word else None
            if start is not None and (best is None or (start, -len(word)) < best[:2]):
                best = (start, -len(word), category)
    return best[2] if best else None


def _mentioned_at(text: str, word: str) -> int | None:
    if word.isascii():
        found = re.search(rf"(?<![a-z0-9]){re.escape(word)}(?:e?s)?(?![a-z0-9])", text)
        return found.start() if found else None
    start = text.find(word)
    return start if start >= 0 else None


def check_spent_on(day: date, today: date, max_age_days: int) -> date:
    """The day spent, if it may be claimed: not in the future, not older than the window."""
    if day > today:
        raise DomainError("date_in_future")
    if day < today - timedelta(days=max_age_days):
        raise DomainError("date_too_old", days=max_age_days)
    return day


DESCRIPTION_MAX = 500


def check_description(text: str) -> str:
    text = clean_text(text).strip()
    if len(text) > DESCRIPTION_MAX:
        raise DomainError("description_too_long", limit=DESCRIPTION_MAX)
    return text


# Numbers -------------------------------------------------------------------------------

_NUMBER = re.compile(r"^(?:EXP-)?(?:(\d{4})-)?0*(\d{1,12})$", re.IGNORECASE)


def claim_number(year: int, claim_id: int) -> str:
    """EXP-2026-000123: the year it was submitted and the claim's id."""
    return f"EXP-{year:04d}-{claim_id:06d}"


@dataclass(frozen=True)
class ClaimReference:
    """A claim number as someone typed it: the id, and the year when they gave one."""

    claim_id: int
    year: int | None = None

    def names(self, claim: Claim) -> bool:
        """Whether this is that claim's number: EXP-2025-000123 is not EXP-2026-000123."""
        if claim.id != self.claim_id:
            return False
        return self.year is None or claim.number == claim_number(self.year, self.claim_id)


def parse_claim_reference(text: str) -> ClaimReference | None:
    """'EXP-2026-000123', '2026-123' or '123'; None if it is none of these."""
    match = _NUMBER.match(text.strip().lstrip("#"))
    if not match:
        return None
    return ClaimReference(int(match[2]), int(match[1]) if match[1] else None)


def parse_claim_number(text: str) -> int | None:
    """The claim id in a claim number (see parse_claim_reference)."""
    reference = parse_claim_reference(text)
    return reference.claim_id if reference else None


# The approval route -------------------------------------------------------------------


# Budgets ---------------------------------------------------------------------------------


def duplicate_claims(receipts: Iterable[Receipt],
                     elsewhere: Iterable[tuple[str, Receipt]]) -> list[str]:
    """The numbers of other claims that carry one of these receipts (the same file, or a
    picture that looks like it), in the order given, each once."""
    mine = list(receipts)
    found: dict[str, None] = {}
    for number, other in elsewhere:
        if any(same_photo(r.sha256, r.dhash, other.sha256, other.dhash) for r in mine):
            found[number] = None
    return list(found)
