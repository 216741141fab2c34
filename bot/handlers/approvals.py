"""Approval cards: Approve / Reject / Details on a claim, decisions, budget alerts.

Presses are untrusted; the service re-reads the claim and re-checks the presser. A card's
payload is a snapshot from when it was made; every press reads the state anew.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from html import escape
from zoneinfo import ZoneInfo

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Update,
)
from telegram.ext import MessageHandler, filters

from bootstrap import metrics
from bot.albums import send_albums
from bot.callbacks import ApproveClaim, ClaimDetails, RejectClaim
from bot.context import CrmContext
from bot.fitting import fit_lines
from bot.handlers.gate import private_press
from bot.i18n import N_, Translator
from bot.keyboards import AnswersQuestion, ButtonHandler
from bot.notices import KIND_TITLES, Audience, Rendered, renders, summarizes
from bot.scheduler import wake_dispatcher
from bot.subjects import SubjectView, shows
from bot.texts import refusal
from core.domain.errors import DomainError
from core.domain.expenses.approvals import REASON_MAX
from core.domain.expenses.claims import StepKind, StepState, parse_claim_number
from core.domain.inbox.notifications import Notification, NotificationKind
from core.domain.money import format_amount
from core.expenses.approvals import WARN_ESCALATED, ClaimView, Decision

PENDING_REASONS = "approval_reasons"  # user_data: {claim id: version} awaiting a reason
REASON_MARK = "✍️"
_NUMBER_IN_QUESTION = re.compile(r"EXP-\d{4}-\d{6,12}")

STEP_STATES = {
    StepState.WAITING: N_("waiting"), StepState.CURRENT: N_("asked now"),
    StepState.APPROVED: N_("approved"), StepState.REJECTED: N_("rejected"),
    StepState.CANCELLED: N_("cancelled"),
}
STEP_MARKS = {StepState.WAITING: "⏳", StepState.CURRENT: "👉", StepState.APPROVED: "✅",
              StepState.REJECTED: "❌", StepState.CANCELLED: "➖"}
EVENTS = {
    "created": N_("created"), "edited": N_("edited"), "submitted": N_("submitted"),
    "approved": N_("approved"), "rejected": N_("rejected"), "withdrawn": N_("withdrawn"),
    "escalated": N_("escalated"), "handed_over": N_("passed on: the approver left"),
    "reminded": N_("reminder sent"), "posted": N_("posted"),
}


# Reading a snapshot ------------------------------------------------------------------------

def _category(payload: dict, t: Translator) -> str:
    """The category's name in the reader's language (both are in the snapshot)."""
    if t.language == "zh_Hans" and payload.get("category_name_zh"):
        return payload["category_name_zh"]
    return payload.get("category_name") or payload.get("category") or ""


def budget_line(budget: dict, currency: str, t: Translator) -> str:
    """'Travel · East region · 2026-11: CNY 8,200.00 of CNY 10,000.00 used; with this claim
    CNY 9,400.00 (94%)'."""
    category = _category(budget, t) or t("All categories")
    label = " · ".join([category, budget["unit"], budget["period"]])
    return t("{label}: {used} of {limit} used; with this claim {after} ({percent}%)",
             label=escape(label), used=format_amount(budget["used"], currency),
             limit=format_amount(budget["limit"], currency),
             after=format_amount(budget["after"], currency), percent=budget["percent"])


def _outcome(payload: dict, t: Translator) -> str | None:
    """What became of this card's step, and of the claim once it is decided."""
    step = _step_outcome(payload, t)
    final = payload.get("final")
    if step is None or final is None:
        return step
    by = escape(payload.get("final_by") or "")
    if final == "approved":
        return step + "\n" + t("Final decision: ✅ approved by {name}", name=by)
    return step + "\n" + t("Final decision: ❌ rejected by {name}: {reason}", name=by,
                           reason=escape(payload.get("final_reason") or ""))


def _step_outcome(payload: dict, t: Translator) -> str | None:
    state, by = payload.get("state"), escape(payload.get("by") or "")
    if state == "approved":
        return t("✅ Approved by {name}", name=by)
    if state == "passed":
        return t("✅ Approved by {name}; passed on to the next step", name=by)
    if state == "rejected":
        return t("❌ Rejected by {name}: {reason}", name=by,
                 reason=escape(payload.get("reason") or ""))
    if state == "withdrawn":
        return t("↩️ Withdrawn by the claimant")
    if state == "escalated":
        return t("⏫ No decision in time: passed to {name}", name=by)
    if state == "handed_over":
        return t("↪️ The approver has left the company: passed to {name}", name=by)
    return None


def duplicate_warning(numbers: list[str], t: Translator) -> str:
    """The claim's receipt is also on other claims: said to the claimant and every approver."""
    return t("⚠️ Possible duplicate of {numbers}: the same receipt is on that claim.",
             numbers=escape(", ".join(numbers)))


def card_text(payload: dict, t: Translator) -> str:
    """An approval card in the reader's language, from its payload."""
    currency = payload["currency"]
    head = t("🧾 <b>Approval request</b> · {number}", number=escape(payload.get("number") or ""))
    if payload.get("reminder"):
        head = t("⏰ <b>Still waiting for you</b> · {number}",
                 number=escape(payload.get("number") or ""))
    lines = [head,
             t("<b>{claimant}</b> claims <b>{amount}</b>",
               claimant=escape(payload["claimant"]),
               amount=format_amount(payload["amount"], currency)),
             " · ".join(escape(part) for part in (
                 _category(payload, t), payload.get("spent_on") or "", payload.get("unit") or "")
                 if part)]
    if payload.get("opportunity"):
        lines.append(t("🎯 Opportunity: {name}", name=escape(payload["opportunity"])))
    if payload.get("description"):
        lines.append("“" + escape(payload["description"]) + "”")
    receipts = int(payload.get("receipts") or 0)
    lines.append(t.plural("📎 {n} receipt", "📎 {n} receipts", receipts) if receipts
                 else t("📎 no receipt"))
    if payload.get("duplicates"):
        lines.append(duplicate_warning(payload["duplicates"], t))
    for budget in payload.get("budgets") or []:
        lines.append("💰 " + budget_line(budget, currency, t))
        if Decimal(budget.get("over") or "0") > 0:
            lines.append(t("⚠️ Over budget by {over}", over=format_amount(budget["over"], currency)))
    if WARN_ESCALATED in (payload.get("warnings") or []):
        lines.append(t("⏫ Over budget: one more approval level was added"))
    if payload.get("kind") == str(StepKind.FINANCE):
        lines.append(t("Step {step} of {steps}: finance", step=payload["step"],
                       steps=payload["steps"]))
    else:
        lines.append(t("Step {step} of {steps}", step=payload["step"], steps=payload["steps"]))
    if (outcome := _outcome(payload, t)) is not None:
        lines.append("\n" + outcome)
    return fit_lines(lines)


def decision_buttons(t: Translator, claim_id: int, version: int) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(t("✅ Approve"),
                                 callback_data=ApproveClaim(claim_id, version).encode()),
            InlineKeyboardButton(t("❌ Reject"),
                                 callback_data=RejectClaim(claim_id, version).encode())]


def details_button(t: Translator, claim_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(t("🔎 Details"), callback_data=ClaimDetails(claim_id).encode())


def card_keyboard(payload: dict, t: Translator) -> InlineKeyboardMarkup | None:
    if payload.get("state", "open") != "open":
        return None
    claim_id = int(payload["claim_id"])
    return InlineKeyboardMarkup([decision_buttons(t, claim_id, int(payload["version"])),
                                 [details_button(t, claim_id)]])


def _plain(notification: Notification, t: Translator) -> str | None:
    """A notice of these kinds without a claim in it (a system text): shown as it is."""
    if "claim_id" in notification.payload or "budget_id" in notification.payload:
        return None
    return notification.payload.get("text") or t(KIND_TITLES[notification.kind])


@renders(NotificationKind.APPROVAL_REQUEST)
def _approval_request(notification: Notification, t: Translator,
                      audience: Audience) -> Rendered:
    if (plain := _plain(notification, t)) is not None:
        return escape(plain), None
    return card_text(notification.payload, t), card_keyboard(notification.payload, t)


@summarizes(NotificationKind.APPROVAL_REQUEST)
def _approval_request_summary(notification: Notification, t: Translator) -> str:
    if (plain := _plain(notification, t)) is not None:
        return plain
    payload = notification.payload
    return t("Approve {amount} for {claimant}?", claimant=payload["claimant"],
             amount=format_amount(payload["amount"], payload["currency"]))


@renders(NotificationKind.APPROVAL_DECISION)
def _approval_decision(notification: Notification, t: Translator,
                       audience: Audience) -> Rendered:
    if (plain := _plain(notification, t)) is not None:
        return escape(plain), None
    payload = notification.payload
    values = {"number": escape(payload.get("number") or ""),
              "amount": format_amount(payload["amount"], payload["currency"]),
              "name": escape(payload.get("by") or "")}
    if payload["action"] == str(StepState.REJECTED):
        text = t("❌ Your claim {number} ({amount}) was rejected by {name}.\nReason: {reason}",
                 reason=escape(payload.get("reason") or ""), **values)
    elif payload.get("status") == "approved":
        text = t("✅ Your claim {number} ({amount}) is approved. The last approval was by "
                 "{name}.", **values)
    elif payload.get("next_kind") == str(StepKind.FINANCE):
        text = t("👍 {name} approved your claim {number} ({amount}); finance checks it next.",
                 **values)
    else:
        text = t("👍 {name} approved your claim {number} ({amount}); it now waits for {next}.",
                 next=escape(payload.get("next") or ""), **values)
    return text, InlineKeyboardMarkup([[details_button(t, int(payload["claim_id"]))]])


@summarizes(NotificationKind.APPROVAL_DECISION)
def _approval_decision_summary(notification: Notification, t: Translator) -> str:
    if (plain := _plain(notification, t)) is not None:
        return plain
    payload = notification.payload
    if payload["action"] == str(StepState.REJECTED):
        return t("{number} rejected", number=payload.get("number") or "")
    if payload.get("status") == "approved":
        return t("{number} approved", number=payload.get("number") or "")
    return t("{number}: step {step} approved", number=payload.get("number") or "",
             step=payload.get("step"))


@renders(NotificationKind.BUDGET_ALERT)
def _budget_alert(notification: Notification, t: Translator, audience: Audience) -> Rendered:
    if (plain := _plain(notification, t)) is not None:
        return escape(plain), None
    payload = notification.payload
    currency = payload["currency"]
    category = _category(payload, t) or t("All categories")
    label = escape(" · ".join([category, payload["unit"], payload["period"]]))
    values = {"label": label, "percent": payload["percent"],
              "used": format_amount(payload["after"], currency),
              "limit": format_amount(payload["limit"], currency)}
    if payload.get("withdrawn"):
        text = t("↩️ <b>Budget alert withdrawn</b>: {label}\nNo longer at {threshold}%: now "
                 "{used} of {limit} ({percent}%) is approved or waiting for approval.",
                 threshold=payload["threshold"], **values)
    elif int(payload["threshold"]) >= 100:
        text = t("🚨 <b>Budget used up</b>: {label}\n{used} of {limit} ({percent}%) is "
                 "approved or waiting for approval.", **values)
    else:
        text = t("⚠️ <b>Budget at {threshold}%</b>: {label}\n{used} of {limit} ({percent}%) "
                 "is approved or waiting for approval.", threshold=payload["threshold"],
                 **values)
    return text + "\n" + t("See /budget."), None


@summarizes(NotificationKind.BUDGET_ALERT)
def _budget_alert_summary(notification: Notification, t: Translator) -> str:
    if (plain := _plain(notification, t)) is not None:
        return plain
    payload = notification.payload
    if payload.get("withdrawn"):
        return t("Budget {unit} back under {threshold}%", unit=payload["unit"],
                 threshold=payload["threshold"])
    return t("Budget {unit} at {percent}%", unit=payload["unit"], percent=payload["percent"])


@shows("expense_claim")
async def claim_actions(context: CrmContext, notification: Notification) -> SubjectView:
    """From the inbox: Approve / Reject while the claim waits for the reader; else its state."""
    t = context.t
    try:
        view = await context.services.approvals.view(context.member.account_id,
                                                     notification.subject_id)
    except DomainError as error:
        return SubjectView(status=escape(refusal(t, error)))
    claim = view.claim
    if view.can_decide:
        return SubjectView(status=t("⏳ Waiting for your decision."), buttons=[
            decision_buttons(t, claim.id, claim.version), [details_button(t, claim.id)]])
    status = _outcome(view.payload, t) or t("⏳ Waiting for approval.")
    return SubjectView(status=status, buttons=[[details_button(t, claim.id)]])


# Presses ------------------------------------------------------------------------------------

@private_press("inbox", refusal)
async def approve(update: Update, context: CrmContext) -> None:
    """One tap decides; the card itself is edited by the outbox, like everyone else's copy."""
    press, query, t = ApproveClaim.of(update), update.callback_query, context.t
    decision = await context.services.approvals.approve(
        update.effective_user.id, press.claim_id, version=press.version,
        chat_id=update.effective_chat.id)
    metrics.claim_decided(decision)
    wake_dispatcher(context.application)
    await query.answer(decided_line(decision, t))


def decided_line(decision: Decision, t: Translator) -> str:
    """What the approver is told (the Approve button's answer, the page's note)."""
    if decision.next_step is None:
        return t("✅ You approved it. The claim is approved.")
    if decision.next_step.kind is StepKind.FINANCE:
        return t("✅ You approved it. Finance checks it next.")
    return t("✅ You approved it. It now waits for {name}.", name=decision.next_approver)


@private_press("inbox", refusal)
async def ask_reason(update: Update, context: CrmContext) -> None:
    """Reject asks why first: the claim is checked now and again when the reason comes."""
    press, query, t = RejectClaim.of(update), update.callback_query, context.t
    claim = await context.services.approvals.check_reject(update.effective_user.id,
                                                          press.claim_id, version=press.version)
    await query.answer()
    context.user_data.setdefault(PENDING_REASONS, {})[claim.id] = claim.version
    await context.bot.send_message(
        update.effective_chat.id,
        REASON_MARK + " " + t("Why do you reject {number}? Reply to this message with the "
                              "reason (at most {limit} characters); the claimant will read it.",
                              number=claim.number, limit=REASON_MAX),
        reply_markup=ForceReply(input_field_placeholder=t("Reason for rejecting")))



async def typed_reason(update: Update, context: CrmContext) -> None:
    """The reason for a rejection: the claim is re-checked, then rejected once."""
    t, message = context.t, update.effective_message
    found = _NUMBER_IN_QUESTION.search(message.reply_to_message.text or "")
    claim_id = parse_claim_number(found[0]) if found else None
    if claim_id is None:
        await message.reply_text(t("That question has expired. Press Reject on the card "
                                   "again."))
        return
    pending = context.user_data.get(PENDING_REASONS, {})
    try:
        version = pending.get(claim_id)
        if version is None:  # asked before a restart: the question names the claim
            view = await context.services.approvals.view(update.effective_user.id, claim_id)
            version = view.claim.version
        decision = await context.services.approvals.reject(
            update.effective_user.id, claim_id, version=version, reason=message.text or "",
            chat_id=update.effective_chat.id)
    except DomainError as error:
        if error.code not in ("reason_empty", "reason_too_long"):
            pending.pop(claim_id, None)
        await message.reply_text(refusal(t, error))
        return
    pending.pop(claim_id, None)
    metrics.claim_decided(decision)
    wake_dispatcher(context.application)
    await message.reply_html(t("❌ Rejected {number}. {name} will see your reason.",
                               number=escape(decision.claim.number or ""),
                               name=escape(decision.claimant)))


@private_press("inbox", refusal)
async def details(update: Update, context: CrmContext) -> None:
    """Receipts as photos, then the route with each step's state and the history."""
    query, t, claim_id = update.callback_query, context.t, ClaimDetails.of(update).claim_id
    view = await context.services.approvals.view(update.effective_user.id, claim_id)
    await query.answer()
    chat_id = update.effective_chat.id
    images = await context.services.approvals.receipt_images(update.effective_user.id,
                                                             claim_id)
    await send_albums(context.bot, chat_id, [
        InputMediaPhoto(data if data is not None else receipt.file_id)
        for receipt, data in images if data is not None or receipt.file_id])
    await context.bot.send_message(chat_id, details_text(view, t,
                                                         context.visitor.settings.timezone),
                                   parse_mode="HTML")


def details_text(view: ClaimView, t: Translator, timezone: str) -> str:
    zone = ZoneInfo(timezone)
    lines = [card_text(view.payload, t), "", t("<b>Route</b>")]
    for item in view.steps:
        step = item.step
        who = (t("Finance") if step.kind is StepKind.FINANCE else escape(item.approver))
        line = f"{STEP_MARKS[step.state]} {step.position}. {who} — {t(STEP_STATES[step.state])}"
        if step.decided_at is not None:
            line += f" ({escape(item.decided_by)}, {_when(step.decided_at, zone)})"
        if step.escalated:
            line += " ⏫"
        lines.append(line)
    lines += ["", t("<b>History</b>")]
    for event in view.events:
        who = escape(view.names.get(event.actor_id, "")) if event.actor_id else t("system")
        line = f"{_when(event.at, zone)} · {t(EVENTS.get(str(event.action), str(event.action)))}"
        line += f" · {who}"
        if event.detail.get("reason"):
            line += f": {escape(event.detail['reason'])}"
        lines.append(line)
    return fit_lines(lines)


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%m-%d %H:%M")


def handlers() -> list:
    return [
        ButtonHandler(ApproveClaim, approve),
        ButtonHandler(RejectClaim, ask_reason),
        ButtonHandler(ClaimDetails, details),
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
                       & AnswersQuestion(REASON_MARK), typed_reason),
    ]
