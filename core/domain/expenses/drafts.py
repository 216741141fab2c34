"""A claim while its author writes it: what to ask next, quick entry, trips, who may look.

Pure rules; core/expenses/claims.py loads the draft, applies them and stores the result. The draft
row is the conversation's state, so the next question is always derived from it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from core.domain.errors import DomainError
from core.domain.expenses.claims import (
    Claim,
    ClaimStatus,
    guess_category,
    parse_amount,
    split_quick_entry,
)
from core.domain.org.model import Member, OrgTree, Role
from core.domain.text import clean_text


class DraftStep(enum.StrEnum):
    AMOUNT = "amount"
    CATEGORY = "category"
    DATE = "date"
    UNIT = "unit"
    OPPORTUNITY = "opportunity"
    DESCRIPTION = "description"
    RECEIPT = "receipt"
    SUMMARY = "summary"


# What it was for comes right after the amount: its words usually name the category, which
# is then not asked.
ORDER = (DraftStep.AMOUNT, DraftStep.DESCRIPTION, DraftStep.CATEGORY, DraftStep.DATE,
         DraftStep.UNIT, DraftStep.OPPORTUNITY, DraftStep.RECEIPT)
REQUIRED = {DraftStep.AMOUNT: "amount", DraftStep.CATEGORY: "category",
            DraftStep.DATE: "date", DraftStep.UNIT: "unit"}


def receipt_required(claim: Claim, above: Decimal) -> bool:
    return claim.amount is not None and claim.amount > above


def receipt_missing(claim: Claim, above: Decimal) -> bool:
    return receipt_required(claim, above) and claim.receipt_count == 0


def _missing(claim: Claim, step: DraftStep, receipt_above: Decimal) -> bool:
    if step in REQUIRED:
        return REQUIRED[step] in claim.missing()
    return step is DraftStep.RECEIPT and receipt_missing(claim, receipt_above)


def _worth_asking(claim: Claim, step: DraftStep, opportunities: bool) -> bool:
    """Optional steps the guided flow offers while they are still empty."""
    if step is DraftStep.OPPORTUNITY:
        return opportunities and claim.opportunity_id is None
    if step is DraftStep.DESCRIPTION:
        return not claim.description
    return step is DraftStep.RECEIPT and claim.receipt_count == 0


def next_step(claim: Claim, after: DraftStep | None, *, receipt_above: Decimal, guided: bool,
              opportunities: bool = False) -> DraftStep:
    """What to ask after `after` (None: from the start).

    The guided flow (/expense with nothing typed after it) offers every step still empty
    in order; quick entry, a resumed draft and an edited field ask only what a claim cannot
    go without (the required fields, a receipt above the limit), then show the summary.
    """
    start = 0 if after is None or after is DraftStep.SUMMARY else ORDER.index(after) + 1
    for step in ORDER[start:]:
        if _missing(claim, step, receipt_above) or (
                guided and _worth_asking(claim, step, opportunities)):
            return step
    for step in ORDER:
        if _missing(claim, step, receipt_above):
            return step
    return DraftStep.SUMMARY


def describe(claim: Claim, description: str | None,
             keywords: dict[str, Sequence[str]]) -> Claim:
    """The claim with what it was for, and the category its words suggest if none is chosen."""
    if not description:
        return claim
    category = claim.category or guess_category(description, keywords)
    return replace(claim, description=description, category=category)


# Quick entry ------------------------------------------------------------------------------

_SIGNS = {"¥", "￥", "元", "块", "rmb", "$", "€", "£"}
_CODE = re.compile(r"^[A-Z]{3}$")


def _names_currency(word: str, currency: str) -> bool:
    return word.lower() in _SIGNS or bool(_CODE.match(word)) or word.upper() == currency


def read_entry(text: str, currency: str, maximum: Decimal) -> tuple[Decimal, str]:
    """'120.50 taxi to Harbor' -> (120.50, 'taxi to Harbor'); '88 CNY lunch', '¥ 88',
    'CNY 88 lunch' too.

    The amount comes first; a currency written apart from it, before or after, belongs to
    it. Refusals are parse_amount's, about the amount typed.
    """
    head, rest = split_quick_entry(text)
    second, _, remainder = rest.partition(" ")
    if second and (_names_currency(second, currency) or _names_currency(head, currency)):
        head, rest = head + second, remainder.strip()
    return parse_amount(head, currency, maximum), rest


# Trips ---------------------------------------------------------------------------------------

TRIP_TITLE_MAX = 100


@dataclass(frozen=True)
class ExpenseReport:
    """A trip or report: its author's claims grouped to be submitted together."""

    id: int | None
    member_id: int
    title: str
    created_at: datetime
    submitted_at: datetime | None = None
    claim_count: int = 0


def check_trip_title(text: str) -> str:
    title = " ".join(clean_text(text).split())
    if not title:
        raise DomainError("trip_title_empty")
    if len(title) > TRIP_TITLE_MAX:
        raise DomainError("trip_title_too_long", limit=TRIP_TITLE_MAX)
    return title


def check_own_draft(claim: Claim | None, member: Member) -> Claim:
    """Only the author's own draft may be written; anyone else's is not found."""
    if claim is None or claim.member_id != member.id:
        raise DomainError("claim_not_found")
    if claim.status is not ClaimStatus.DRAFT:
        raise DomainError("claim_not_draft", status=claim.status.value)
    return claim


# Who may look at a claim ---------------------------------------------------------------------

def may_view_claim(viewer: Member, claim: Claim, claimant: Member, tree: OrgTree,
                   approver_ids: Collection[int]) -> bool:
    """The author always; once submitted also the approvers on its route, the managers above
    the claimant, and finance. A draft is its author's alone."""
    if not viewer.active:
        return False
    if viewer.id == claim.member_id:
        return True
    if claim.status is ClaimStatus.DRAFT:
        return False
    return (viewer.has(Role.FINANCE) or viewer.id in approver_ids
            or claimant.department_id in tree.managed_by(viewer))
