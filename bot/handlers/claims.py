"""/claims, /claim <number> and /trip: my claims, one claim with its history, trips.

Presses are untrusted; the service re-checks the presser and the claim on every press.
Drafts' Continue / Discard belong to the /expense conversation.
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler, filters

from bot.callbacks import (
    ClaimsPage,
    ContinueDraft,
    DiscardDraft,
    ShowClaim,
    SubmitTrip,
    WithdrawClaim,
)
from bot.context import CrmContext
from bot.dashboard import View, with_dashboard
from bot.fitting import fit_lines
from bot.handlers.approvals import duplicate_warning
from bot.handlers.gate import private_press
from bot.handlers.inbox import edit_or_send
from bot.i18n import N_, Translator
from bot.keyboards import ButtonHandler, pager
from bot.texts import STATUS_NAMES, refusal
from bot.timefmt import local_datetime
from core.config import ExpensesConfig
from core.domain.errors import DomainError
from core.domain.expenses.claims import Claim, ClaimAction, ClaimStatus, parse_claim_reference
from core.domain.money import format_amount
from core.expenses.claims import ClaimDetail, ClaimPage, TripRefused, TripView

STATUS_ICONS = {ClaimStatus.DRAFT: "📝", ClaimStatus.PENDING: "⏳", ClaimStatus.APPROVED: "✅",
                ClaimStatus.REJECTED: "❌", ClaimStatus.WITHDRAWN: "↩️"}
ACTION_NAMES = {ClaimAction.CREATED: N_("created"), ClaimAction.EDITED: N_("edited"),
                ClaimAction.SUBMITTED: N_("submitted"), ClaimAction.APPROVED: N_("approved"),
                ClaimAction.REJECTED: N_("rejected"), ClaimAction.WITHDRAWN: N_("withdrew"),
                ClaimAction.ESCALATED: N_("escalated"),
                ClaimAction.HANDED_OVER: N_("passed on: the approver left"),
                ClaimAction.REMINDED: N_("reminded"),
                ClaimAction.POSTED: N_("posted to the ledger")}

# What the claimant is told when the approval module refuses (numbers filled in here).
CLAIMANT_REFUSALS = {
    "budget_blocked": N_("This claim would take the budget {budget} over its limit of "
                         "{limit} by {over}, so it cannot be submitted. The draft is kept."),
    "no_approver": N_("Nobody can approve this claim: your department has no manager above "
                      "you. Please talk to an admin. The draft is kept."),
    "claim_decided": N_("This claim is already {status}, so it cannot be withdrawn."),
    "claim_withdrawn": N_("This claim was withdrawn already."),
    "claim_not_pending": N_("Only a claim waiting for approval can be withdrawn."),
    "not_your_claim": N_("That is not your claim."),
    "claim_changed": N_("This claim changed meanwhile. Please look at it again."),
    "photo_too_big": N_("This file is larger than 20 MB, so I cannot take it. "
                        "Please send a smaller photo of the receipt."),
    "photo_too_many_pixels": N_("This picture is too large for me to open (too many "
                                "pixels). Please send the receipt as a photo rather than as "
                                "a file."),
    "not_an_image": N_("This file is not a photo. Please send the receipt as a JPEG or PNG "
                       "image."),
    "corrupt_image": N_("I could not open this image: the file seems damaged. "
                        "Please send the receipt again."),
}

def say(t: Translator, error: DomainError) -> str:
    """A refusal in the claimant's words, with its numbers filled in."""
    return refusal(t, error, CLAIMANT_REFUSALS)


def category_name(t: Translator, config: ExpensesConfig, key: str | None) -> str:
    """The category's name in the reader's language (its key if it left the config)."""
    for category in config.categories:
        if category.key == key:
            return category.name_zh if t.language == "zh_Hans" and category.name_zh \
                else category.name
    return key or "—"


def claim_line(t: Translator, config: ExpensesConfig, claim: Claim) -> str:
    """⏳ EXP-2026-000123 · CNY 120.50 · Travel · 2026-11-26"""
    parts = [STATUS_ICONS[claim.status] + " " + (claim.number or t("Draft"))]
    if claim.amount is not None:
        parts.append(format_amount(claim.amount, claim.currency))
    if claim.category:
        parts.append(escape(category_name(t, config, claim.category)))
    if claim.spent_on:
        parts.append(claim.spent_on.isoformat())
    return " · ".join(parts)


def list_screen(t: Translator, config: ExpensesConfig,
                page: ClaimPage) -> tuple[str, InlineKeyboardMarkup | None]:
    if not page.claims:
        return t("You have no expense claims yet. Send /expense to file one."), None
    lines = [t("🧾 <b>My claims</b>")]
    rows: list[list[InlineKeyboardButton]] = []
    for claim in page.claims:
        lines.append(claim_line(t, config, claim))
        label = claim.number or t("Draft")
        if claim.status is ClaimStatus.DRAFT:
            rows.append([InlineKeyboardButton(t("▶️ Continue"),
                                              callback_data=ContinueDraft(claim.id).encode()),
                         InlineKeyboardButton(t("🗑 Discard"),
                                              callback_data=DiscardDraft(claim.id).encode())])
        else:
            row = [InlineKeyboardButton(f"🔎 {label}", callback_data=ShowClaim(claim.id).encode())]
            if claim.status is ClaimStatus.PENDING:
                row.append(InlineKeyboardButton(t("↩️ Withdraw"),
                                                callback_data=WithdrawClaim(claim.id).encode()))
            rows.append(row)
    if turn := pager(page.page, page.pages, ClaimsPage):
        rows.append(turn)
    return fit_lines(lines), InlineKeyboardMarkup(rows)


def detail_screen(t: Translator, config: ExpensesConfig, detail: ClaimDetail,
                  timezone: str) -> tuple[str, InlineKeyboardMarkup | None]:
    claim = detail.claim
    head = claim.number or t("Draft")
    lines = [f"{STATUS_ICONS[claim.status]} <b>{head}</b> · {t(STATUS_NAMES[claim.status])}",
             " · ".join(filter(None, [
                 escape(detail.author),
                 format_amount(claim.amount, claim.currency) if claim.amount is not None else "",
                 escape(category_name(t, config, claim.category)) if claim.category else "",
                 claim.spent_on.isoformat() if claim.spent_on else ""]))]
    if detail.unit_name:
        lines.append(t("Charged to: {unit}", unit=escape(detail.unit_name)))
    if detail.opportunity:
        lines.append(t("Opportunity: {name}", name=escape(detail.opportunity)))
    if claim.description:
        lines.append(escape(claim.description))
    lines.append(t.plural("{n} receipt", "{n} receipts", claim.receipt_count))
    if detail.history:
        lines += ["", t("<b>History</b>")]
        for line in detail.history:
            who = escape(line.actor) if line.actor else t("the system")
            lines.append(f"{local_datetime(line.event.at, timezone)} · {who} · "
                         f"{t(ACTION_NAMES[line.event.action])}")
            if reason := line.event.detail.get("reason"):
                lines.append(f"    “{escape(str(reason))}”")
    rows = [[InlineKeyboardButton(t("◀ My claims"), callback_data=ClaimsPage(0).encode())]]
    if detail.mine and claim.status is ClaimStatus.PENDING:
        rows[0].insert(0, InlineKeyboardButton(t("↩️ Withdraw"),
                                               callback_data=WithdrawClaim(claim.id).encode()))
    return fit_lines(lines), InlineKeyboardMarkup(rows) if detail.mine else None


async def show_claims(update: Update, context: CrmContext) -> None:
    """/claims: my claims, drafts first, then newest first, five a page."""
    service = context.services.expenses
    page = await service.my_claims(update.effective_user.id)
    text, keyboard = list_screen(context.t, service.config, page)
    await update.effective_message.reply_html(
        text, reply_markup=with_dashboard(update, context, View.CLAIMS, keyboard))


async def show_claim(update: Update, context: CrmContext) -> None:
    """/claim EXP-2026-000123 (or 123): the claim and its history, if I may see it."""
    t, service = context.t, context.services.expenses
    reference = parse_claim_reference(" ".join(context.args)) if context.args else None
    if reference is None:
        await update.effective_message.reply_text(
            t("Send the claim's number, for example /claim EXP-2026-000123."))
        return
    try:
        detail = await service.show(update.effective_user.id, reference)
    except DomainError as error:
        await update.effective_message.reply_text(refusal(t, error, CLAIMANT_REFUSALS))
        return
    text, keyboard = detail_screen(t, service.config, detail, context.visitor.settings.timezone)
    await update.effective_message.reply_html(text, reply_markup=keyboard)


def trips_screen(t: Translator, config: ExpensesConfig,
                 trips: list[TripView]) -> tuple[str, InlineKeyboardMarkup | None]:
    if not trips:
        return t("You have no open trips. Start one with /trip and its title, for example "
                 "/trip Hangzhou fair."), None
    lines, rows = [t("🧳 <b>My trips</b>")], []
    for view in trips:
        lines += ["", f"<b>{escape(view.trip.title)}</b>"]
        lines += [claim_line(t, config, c) for c in view.claims] or [
            t("No claims yet: add drafts from their summary (/claims → Continue).")]
        if any(c.status is ClaimStatus.DRAFT for c in view.claims):
            rows.append([InlineKeyboardButton(t("🚀 Submit “{title}”", title=view.trip.title[:30]),
                                              callback_data=SubmitTrip(view.trip.id).encode())])
    return fit_lines(lines), InlineKeyboardMarkup(rows) if rows else None


async def trip(update: Update, context: CrmContext) -> None:
    """/trip <title> starts a trip; /trip alone lists my open trips."""
    t, service = context.t, context.services.expenses
    title = (update.effective_message.text or "").partition(" ")[2]
    if title.strip():
        try:
            created = await service.create_trip(update.effective_user.id, title)
        except DomainError as error:
            await update.effective_message.reply_text(refusal(t, error, CLAIMANT_REFUSALS))
            return
        await update.effective_message.reply_html(t(
            "🧳 Trip “{title}” started. Add claims to it from their summary, then submit "
            "them together with /trip.", title=escape(created.title)))
        return
    text, keyboard = trips_screen(t, service.config,
                                  await service.trips(update.effective_user.id))
    await update.effective_message.reply_html(text, reply_markup=keyboard)


def trip_refusal(t: Translator, config: ExpensesConfig, error: TripRefused) -> str:
    return t("Nothing was submitted: {claim} cannot go. {reason}",
             claim=claim_line(t, config, error.claim),
             reason=refusal(t, error.cause, CLAIMANT_REFUSALS))


@private_press("claims", say)
async def show_page(update: Update, context: CrmContext) -> None:
    """A page of my claims."""
    service = context.services.expenses
    page = await service.my_claims(update.effective_user.id, ClaimsPage.of(update).page)
    await update.callback_query.answer()
    text, keyboard = list_screen(context.t, service.config, page)
    await edit_or_send(update, context, text,
                       with_dashboard(update, context, View.CLAIMS, keyboard))


async def _detail(update: Update, context: CrmContext,
                  claim_id: int) -> tuple[str, InlineKeyboardMarkup | None]:
    service = context.services.expenses
    return detail_screen(context.t, service.config,
                         await service.show(update.effective_user.id, claim_id),
                         context.visitor.settings.timezone)


@private_press("claims", say)
async def show_one(update: Update, context: CrmContext) -> None:
    """One claim and its history, if I may see it."""
    text, keyboard = await _detail(update, context, ShowClaim.of(update).claim_id)
    await update.callback_query.answer()
    await edit_or_send(update, context, text, keyboard)


@private_press("claims", say)
async def withdraw(update: Update, context: CrmContext) -> None:
    """Take back my claim while it waits for approval."""
    claim_id = WithdrawClaim.of(update).claim_id
    await context.services.expenses.withdraw(update.effective_user.id, claim_id,
                                             update.effective_chat.id)
    text, keyboard = await _detail(update, context, claim_id)
    await update.callback_query.answer(context.t("Withdrawn."))
    await edit_or_send(update, context, text, keyboard)


@private_press("claims", say)
async def submit_trip(update: Update, context: CrmContext) -> None:
    """Submit the trip's drafts together; one that cannot go stops them all."""
    query, t, service = update.callback_query, context.t, context.services.expenses
    chat_id = update.effective_chat.id
    try:
        results = await service.submit_trip(update.effective_user.id,
                                            SubmitTrip.of(update).trip_id, chat_id)
    except TripRefused as error:
        await query.answer()
        await context.bot.send_message(chat_id, trip_refusal(t, service.config, error),
                                       parse_mode=ParseMode.HTML)
        return
    lines = [t.plural("🚀 {n} claim of the trip submitted:",
                      "🚀 {n} claims of the trip submitted:", len(results))]
    for result in results:
        lines.append(claim_line(t, service.config, result.claim))
        if result.duplicates:
            lines.append(duplicate_warning(result.duplicates, t))
    await query.answer()
    await edit_or_send(update, context, fit_lines(lines), None)


def handlers() -> list:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("claims", show_claims, filters=private),
        CommandHandler("claim", show_claim, filters=private),
        CommandHandler("trip", trip, filters=private),
        ButtonHandler(ClaimsPage, show_page),
        ButtonHandler(ShowClaim, show_one),
        ButtonHandler(WithdrawClaim, withdraw),
        ButtonHandler(SubmitTrip, submit_trip),
    ]
