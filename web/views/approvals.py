"""Approvals: the claims waiting for the member, decided one by one or several at once; and
the member's own claims with their state.

Deciding calls the same use cases as the chat's buttons, so core checks the approver and the
claim's version again, edits every chat card of the claim and tells the claimant; the bot's
outbox sends what core wrote. What a claim shows comes from the card core builds for the chat
(`ClaimView.payload`), in the words of the chat's card and details.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from bootstrap import metrics
from bot.handlers.approvals import EVENTS, STEP_MARKS, STEP_STATES, decided_line
from bot.handlers.claims import STATUS_ICONS, category_name
from bot.i18n import N_, Translator
from bot.texts import STATUS_NAMES, refusal
from bot.timefmt import local_datetime
from core.domain.errors import DomainError
from core.domain.expenses.approvals import REASON_MAX
from core.domain.expenses.claims import Claim, ClaimStatus, StepKind, StepState
from core.domain.money import format_amount
from core.expenses.approvals import WARN_ESCALATED, ClaimView
from web.app import WebError, Who, json_response

router = APIRouter()

ID_MAX = 2**31 - 1
BULK_MAX = 100
MY_CLAIMS_PAGE = 20
LAST_PAGE = 10_000
# Longer than any reason core takes (REASON_MAX), so that core says what is too long; far
# longer is not a reason someone typed.
REASON_CHARS = 4096
RECEIPTS_MAX = 100
IMAGE_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
               (b"GIF8", "image/gif"))

STRINGS: tuple[str, ...] = (
    N_("✅ Approve"),
    N_("❌ Reject"),
    N_("🔎 Details"),
    N_("Cancel"),
    N_("Reason for rejecting"),
    N_("Route"),
    N_("History"),
    N_("Select"),
    N_("Select all"),
    N_("Approve selected ({n})"),
    N_("Receipt {n}"),
)

ClaimId = Annotated[int, Path(ge=1, le=ID_MAX)]


class Seen(BaseModel):
    """The claim's version the page showed: a decision on an older one is refused."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=ID_MAX)


class Rejection(Seen):
    reason: str = Field(max_length=REASON_CHARS)


class Picked(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int = Field(ge=1, le=ID_MAX)
    version: int = Field(ge=1, le=ID_MAX)


class Bulk(BaseModel):
    """Several claims approved together, each decided on its own."""

    model_config = ConfigDict(extra="forbid")
    claims: list[Picked] = Field(min_length=1, max_length=BULK_MAX)


class MyClaimsAsked(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(0, ge=0, le=LAST_PAGE)


# A claim as the page shows it ---------------------------------------------------------------

def _category(payload: dict, t: Translator) -> str:
    """The category's name in the reader's language (the card holds both)."""
    if t.language == "zh_Hans" and payload.get("category_name_zh"):
        return payload["category_name_zh"]
    return payload.get("category_name") or payload.get("category") or ""


def budget_json(budget: dict, currency: str, t: Translator) -> dict:
    """A budget the claim is charged against, as the card's 💰 line says it."""
    label = " · ".join([_category(budget, t) or t("All categories"), budget["unit"],
                        budget["period"]])
    over = Decimal(budget.get("over") or "0")
    return {
        "label": label,
        "text": t("{label}: {used} of {limit} used; with this claim {after} ({percent}%)",
                  label=label, used=format_amount(budget["used"], currency),
                  limit=format_amount(budget["limit"], currency),
                  after=format_amount(budget["after"], currency), percent=budget["percent"]),
        "percent": budget["percent"],
        "width": max(0, min(100, int(budget["percent"]))),
        "over": (t("⚠️ Over budget by {over}", over=format_amount(over, currency))
                 if over > 0 else None),
    }


def outcome_text(payload: dict, t: Translator) -> str | None:
    """What became of a decided claim, as its card says it (None while it waits)."""
    state, by = payload.get("state"), payload.get("by") or ""
    if state == str(ClaimStatus.APPROVED):
        return t("✅ Approved by {name}", name=by)
    if state == str(ClaimStatus.REJECTED):
        return t("❌ Rejected by {name}: {reason}", name=by, reason=payload.get("reason") or "")
    if state == str(ClaimStatus.WITHDRAWN):
        return t("↩️ Withdrawn by the claimant")
    return None


def route_json(view: ClaimView, t: Translator, timezone: str) -> list[dict]:
    """The route with each step's state, as the chat's details list it."""
    route = []
    for item in view.steps:
        step = item.step
        decided = (f"{item.decided_by}, {local_datetime(step.decided_at, timezone)}"
                   if step.decided_at is not None else None)
        route.append({"position": step.position, "mark": STEP_MARKS[step.state],
                      "who": t("Finance") if step.kind is StepKind.FINANCE else item.approver,
                      "state": t(STEP_STATES[step.state]), "decided": decided,
                      "escalated": step.escalated,
                      "current": step.state is StepState.CURRENT})
    return route


def claim_json(view: ClaimView, t: Translator, timezone: str) -> dict:
    """A claim with what its card shows: amount, category, budgets, duplicates, route."""
    payload, claim = view.payload, view.claim
    currency = payload["currency"]
    receipts = int(payload.get("receipts") or 0)
    current = next((s.step for s in view.steps if s.step.state is StepState.CURRENT), None)
    pending = claim.status is ClaimStatus.PENDING
    if payload.get("kind") == str(StepKind.FINANCE):
        step = t("Step {step} of {steps}: finance", step=payload["step"], steps=payload["steps"])
    else:
        step = t("Step {step} of {steps}", step=payload["step"], steps=payload["steps"])
    return {
        "id": claim.id,
        "version": claim.version,
        "number": claim.number or "",
        "status": str(claim.status),
        "status_text": t(STATUS_NAMES[claim.status]),
        "icon": STATUS_ICONS[claim.status],
        "claimant": view.claimant,
        "amount": format_amount(payload["amount"], currency),
        "what": " · ".join(part for part in (_category(payload, t), payload.get("spent_on"),
                                             payload.get("unit")) if part),
        "opportunity": (t("🎯 Opportunity: {name}", name=payload["opportunity"])
                        if payload.get("opportunity") else None),
        "description": payload.get("description") or "",
        "receipts": receipts,
        "receipts_text": (t.plural("📎 {n} receipt", "📎 {n} receipts", receipts) if receipts
                          else t("📎 no receipt")),
        "duplicates": (t("⚠️ Possible duplicate of {numbers}: the same receipt is on that "
                         "claim.", numbers=", ".join(payload["duplicates"]))
                       if payload.get("duplicates") else None),
        "budgets": [budget_json(b, currency, t) for b in payload.get("budgets") or []],
        "escalated": (t("⏫ Over budget: one more approval level was added")
                      if WARN_ESCALATED in (payload.get("warnings") or []) else None),
        "step": step if pending else None,
        "waiting_since": (t("Waiting since {when}",
                            when=local_datetime(current.reached_at, timezone))
                          if pending and current and current.reached_at else None),
        "outcome": outcome_text(payload, t),
        "route": route_json(view, t, timezone),
        "can_decide": view.can_decide,
    }


def history_json(view: ClaimView, t: Translator, timezone: str) -> list[dict]:
    """The claim's audit log, oldest first, as the chat's details show it."""
    return [{"when": local_datetime(event.at, timezone),
             "what": t(EVENTS.get(str(event.action), str(event.action))),
             "who": view.names.get(event.actor_id, "") if event.actor_id else t("system"),
             "reason": event.detail.get("reason")}
            for event in view.events]


def my_claim_json(claim: Claim, t: Translator, request: Request) -> dict:
    """One line of my claims: number, amount, category, day and state."""
    config = request.app.state.services.expenses.config
    return {
        "id": claim.id,
        "number": claim.number or t("Draft"),
        "status": str(claim.status),
        "status_text": t(STATUS_NAMES[claim.status]),
        "icon": STATUS_ICONS[claim.status],
        "amount": (format_amount(claim.amount, claim.currency) if claim.amount is not None
                   else ""),
        "what": " · ".join(part for part in (
            category_name(t, config, claim.category) if claim.category else "",
            claim.spent_on.isoformat() if claim.spent_on else "") if part),
        # A draft is still being written in the chat: it has no card to open.
        "opens": claim.status is not ClaimStatus.DRAFT,
    }


def _image_type(data: bytes) -> str:
    for magic, media_type in IMAGE_TYPES:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


# Endpoints -----------------------------------------------------------------------------------

@router.get("/approvals")
async def waiting(who: Who, request: Request) -> Response:
    """The claims waiting for the member's decision, the longest waiting first."""
    t = who.t
    views = await request.app.state.services.approvals.waiting(who.account_id)
    return json_response({
        "claims": [claim_json(view, t, who.timezone) for view in views],
        "empty": None if views else t("Nothing is waiting for your approval."),
        "reason_max": REASON_MAX,
    })


@router.get("/claims/{claim_id}")
async def claim(who: Who, request: Request, claim_id: ClaimId) -> Response:
    """One claim with its receipts, route and history, for those who may see it."""
    view = await request.app.state.services.approvals.view(who.account_id, claim_id)
    return json_response({**claim_json(view, who.t, who.timezone),
                          "history": history_json(view, who.t, who.timezone),
                          "reason_max": REASON_MAX})


@router.get("/claims/{claim_id}/receipts/{n}")
async def receipt(who: Who, request: Request, claim_id: ClaimId,
                  n: Annotated[int, Path(ge=1, le=RECEIPTS_MAX)]) -> Response:
    """The claim's n-th receipt picture (from 1), as kept when it was sent."""
    images = await request.app.state.services.approvals.receipt_images(
        who.account_id, claim_id, only=n - 1)
    if not images:
        raise WebError(404, "receipt_not_found", who.t("I could not find that receipt."))
    [(_receipt, data)] = images
    if data is None:
        raise WebError(404, "receipt_not_kept", who.t(
            "This receipt's picture is not kept here. Open the claim's details in the chat "
            "to see it."))
    return Response(data, media_type=_image_type(data))


@router.post("/claims/{claim_id}/approve")
async def approve(who: Who, request: Request, claim_id: ClaimId, seen: Seen) -> Response:
    """Approve in one tap, as the card's Approve button does."""
    decision = await request.app.state.services.approvals.approve(
        who.account_id, claim_id, version=seen.version, chat_id=None)
    metrics.claim_decided(decision)
    return json_response({"id": claim_id, "status": str(decision.claim.status),
                          "said": decided_line(decision, who.t)})


@router.post("/claims/{claim_id}/reject")
async def reject(who: Who, request: Request, claim_id: ClaimId,
                 rejection: Rejection) -> Response:
    """Reject, saying why: the claimant reads the reason."""
    decision = await request.app.state.services.approvals.reject(
        who.account_id, claim_id, version=rejection.version, reason=rejection.reason,
        chat_id=None)
    metrics.claim_decided(decision)
    return json_response({"id": claim_id, "status": str(decision.claim.status),
                          "said": who.t("❌ Rejected {number}. {name} will see your reason.",
                                        number=decision.claim.number or "",
                                        name=decision.claimant)})


@router.post("/approvals/bulk")
async def approve_several(who: Who, request: Request, bulk: Bulk) -> Response:
    """Approve several claims together: each one decided on its own, as if tapped alone; one
    refused leaves the others as they go."""
    t, approvals = who.t, request.app.state.services.approvals
    outcomes = []
    for picked in bulk.claims:
        try:
            decision = await approvals.approve(who.account_id, picked.id,
                                               version=picked.version, chat_id=None)
        except DomainError as error:
            outcomes.append({"id": picked.id, "ok": False, "error": error.code,
                             "message": refusal(t, error)})
            continue
        metrics.claim_decided(decision)
        outcomes.append({"id": picked.id, "ok": True, "number": decision.claim.number,
                         "status": str(decision.claim.status),
                         "said": decided_line(decision, t)})
    approved = sum(1 for outcome in outcomes if outcome["ok"])
    return json_response({
        "summary": t("Approved {approved} of {asked}.", approved=approved,
                     asked=len(outcomes)),
        "outcomes": outcomes,
    })


@router.get("/my-claims")
async def my_claims(who: Who, request: Request,
                    asked: Annotated[MyClaimsAsked, Query()]) -> Response:
    """A page of the member's own claims with their state, as /claims lists them."""
    t = who.t
    page = await request.app.state.services.expenses.my_claims(who.account_id, asked.page,
                                                               MY_CLAIMS_PAGE)
    return json_response({
        "claims": [my_claim_json(claim, t, request) for claim in page.claims],
        "empty": (None if page.claims else
                  t("You have no expense claims yet. Send /expense to file one.")),
        "page": page.page,
        "pages": page.pages,
    })
