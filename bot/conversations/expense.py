"""/expense: an expense claim in a few messages and taps, from amount to submit.

Every answer is written to the draft in the database at once, and the next question is
derived from the draft: a restart loses nothing (/expense offers to continue it), and
every button carries the claim it acts on, so buttons of an old message still work and
the service re-checks them. `/expense 120.50 taxi to Harbor` is quick entry: today, my
department, the category its words suggest; only what is missing is asked.

"🆕 New claim" starts another claim; "🧾 File an expense", on an opportunity's card, one
linked to that opportunity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bootstrap import metrics
from bot.callbacks import (
    AddToTrip,
    BudgetUnit,
    ClaimCategory,
    ClaimDate,
    ClaimOpportunity,
    ClaimUnit,
    ContinueDraft,
    DiscardDraft,
    EditDraft,
    EditDraftField,
    NewClaim,
    NewClaimFor,
    SaveDraft,
    SkipDescription,
    SkipReceipt,
    SubmitClaim,
)
from bot.context import CrmContext
from bot.conversations.flow import ScheduleConversation, enter, menu_button, refuse, typed
from bot.handlers.approvals import duplicate_warning
from bot.handlers.claims import CLAIMANT_REFUSALS, category_name, claim_line
from bot.handlers.gate import pressed_outside_private_chat
from bot.handlers.inbox import edit_or_send
from bot.i18n import N_, Translator
from bot.images import sent_image
from bot.keyboards import EXPENSE, ButtonHandler
from bot.texts import refusal
from bot.timefmt import local_datetime
from core.domain.errors import DomainError
from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.claims import AMOUNT_EXAMPLE, StepKind
from core.domain.expenses.drafts import DraftStep
from core.domain.money import format_amount
from core.expenses.claims import ClaimSummary, DraftView, ExpenseService

# States: what typed text is the answer to (buttons work in every state).
AMOUNT, DATE, DESCRIPTION, TAP = range(4)

DRAFT = "expense"  # chat_data: {"claim": id or None, "guided": bool}
RECEIPT_FOR = "expense_receipt"  # chat_data: the draft a photo sent now is a receipt of
# Photos reach the check-in handler before any conversation of the feature group; receipts
# are taken one group earlier, only while a draft asks for them.
RECEIPT_GROUP = -1

FIELD_LABELS = {DraftStep.AMOUNT: N_("Amount"), DraftStep.CATEGORY: N_("Category"),
                DraftStep.DATE: N_("Date"), DraftStep.UNIT: N_("Charged to"),
                DraftStep.DESCRIPTION: N_("Description"), DraftStep.RECEIPT: N_("➕ Receipt")}


def _state(context: CrmContext) -> dict:
    return context.chat_data.setdefault(DRAFT, {"claim": None, "guided": True})


def _guided(context: CrmContext, claim_id: int) -> bool:
    state = context.chat_data.get(DRAFT) or {}
    return state.get("claim") == claim_id and state.get("guided", False)


def amount_question(t: Translator, currency: str) -> str:
    return t("🧾 How much did you spend? Send the amount in {currency}, for example "
             "{example}, or the amount and what it was for: “{example} taxi to Harbor "
             "Logistics”.", currency=currency, example=AMOUNT_EXAMPLE)


def _row(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + width] for i in range(0, len(buttons), width)]


def question(t: Translator, context: CrmContext,
             view: DraftView) -> tuple[str, InlineKeyboardMarkup | None, int]:
    """The screen asking for the view's step, and the state that takes its typed answer."""
    claim, config = view.claim, context.services.expenses.config
    cid = claim.id
    head = claim_line(t, config, claim) + "\n\n" if claim.amount is not None else ""
    step = view.step
    if step is DraftStep.AMOUNT:
        return head + amount_question(t, claim.currency), None, AMOUNT
    if step is DraftStep.CATEGORY:
        buttons = [InlineKeyboardButton(category_name(t, config, c.key),
                                        callback_data=ClaimCategory(cid, c.key).encode())
                   for c in config.categories]
        return head + t("Which category?"), InlineKeyboardMarkup(_row(buttons, 2)), TAP
    if step is DraftStep.DATE:
        today, yesterday = view.today, view.today - timedelta(days=1)
        buttons = [InlineKeyboardButton(t("Today"), callback_data=ClaimDate(cid, today).encode()),
                   InlineKeyboardButton(t("Yesterday"),
                                        callback_data=ClaimDate(cid, yesterday).encode())]
        return (head + t("When was it spent? Tap a day or type the date, like 11-20."),
                InlineKeyboardMarkup([buttons]), DATE)
    if step is DraftStep.UNIT:
        buttons = [InlineKeyboardButton(
            _unit_label(t, u.kind, u.name),
            callback_data=ClaimUnit(cid, BudgetUnit(u.kind, u.unit_id)).encode())
            for u in view.units]
        return head + t("Which budget is it charged to?"), InlineKeyboardMarkup(
            _row(buttons, 1)), TAP
    if step is DraftStep.OPPORTUNITY:
        buttons = [InlineKeyboardButton(name[:40],
                                        callback_data=ClaimOpportunity(cid, oid).encode())
                   for oid, name in view.opportunities[:8]]
        buttons.append(InlineKeyboardButton(t("⏭ No opportunity"),
                                            callback_data=ClaimOpportunity(cid, None).encode()))
        return head + t("Which opportunity was it for?"), InlineKeyboardMarkup(
            _row(buttons, 1)), TAP
    if step is DraftStep.DESCRIPTION:
        return (head + t("What was it for? A few words, for example “taxi to Harbor "
                         "Logistics”."),
                InlineKeyboardMarkup([[InlineKeyboardButton(
                    t("⏭ Skip"), callback_data=SkipDescription(cid).encode())]]),
                DESCRIPTION)
    if step is DraftStep.RECEIPT:
        if view.receipt_required:
            return (head + t("📷 Please send a photo of the receipt: claims above {limit} need "
                             "one.", limit=format_amount(config.receipt_required_above)), None, TAP)
        return (head + t("📷 Send a photo of the receipt, if you have one."),
                InlineKeyboardMarkup([[InlineKeyboardButton(
                    t("⏭ No receipt"), callback_data=SkipReceipt(cid).encode())]]), TAP)
    raise ValueError(step)


def _unit_label(t: Translator, kind: UnitKind, name: str) -> str:
    if kind is UnitKind.DEPARTMENT:
        return t("🏢 My department: {name}", name=name)
    if kind is UnitKind.PROJECT:
        return t("📁 Project: {name}", name=name)
    return t("👤 Personal")


def budget_line(t: Translator, config, summary: ClaimSummary, impact) -> str:
    """Travel · East region · 2026-11: 8,200 of 10,000 used; with this claim 9,400 (94%)"""
    budget = impact.budget
    category = (category_name(t, config, budget.category) if budget.category
                else t("All categories"))
    label = " · ".join([category, summary.unit_name, budget.period.label])
    line = t("{label}: {used} of {limit} used; with this claim {after} ({percent}%)",
             label=escape(label), used=format_amount(impact.used),
             limit=format_amount(budget.amount), after=format_amount(impact.after),
             percent=impact.percent)
    if impact.overrun:
        return "⚠️ " + line + " " + t("— over by {over}", over=format_amount(impact.over))
    return line


def summary_screen(t: Translator, context: CrmContext,
                   summary: ClaimSummary) -> tuple[str, InlineKeyboardMarkup]:
    claim, config = summary.claim, context.services.expenses.config
    cid = claim.id
    amount = format_amount(claim.amount, claim.currency)
    lines = [t("🧾 <b>Your claim</b> (draft)"),
             t("Amount: {amount}", amount=amount),
             t("Category: {category}", category=escape(category_name(t, config, claim.category))),
             t("Date: {day}", day=claim.spent_on.isoformat()),
             t("Charged to: {unit}", unit=escape(summary.unit_name))]
    if claim.description:
        lines.append(t("Description: {text}", text=escape(claim.description)))
    lines.append(t.plural("{n} receipt", "{n} receipts", claim.receipt_count))
    if summary.trip:
        lines.append(t("Trip: {title}", title=escape(summary.trip.title)))
    if summary.impacts:
        lines += ["", t("<b>Budget</b>")]
        lines += [budget_line(t, config, summary, impact) for impact in summary.impacts]
    if summary.route:
        names = [escape(name) if kind is StepKind.MANAGER else t("Finance")
                 for kind, name in summary.route]
        lines += ["", t("Approval: {route}", route=" → ".join(names))]
    if summary.receipt_missing:
        lines += ["", t("📷 A receipt is still needed: send a photo of it.")]
    else:
        lines += ["", t("You can still send more receipt photos.")]
    rows = [[InlineKeyboardButton(t("✅ Submit"), callback_data=SubmitClaim(cid).encode()),
             InlineKeyboardButton(t("💾 Save draft"), callback_data=SaveDraft(cid).encode())],
            [InlineKeyboardButton(t("✏️ Edit"), callback_data=EditDraft(cid).encode()),
             InlineKeyboardButton(t("🗑 Discard"), callback_data=DiscardDraft(cid).encode())]]
    rows += [[InlineKeyboardButton(t("🧳 Add to “{title}”", title=trip.title[:30]),
                                   callback_data=AddToTrip(cid, trip.id).encode())]
             for trip in summary.trips[:3]]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def edit_screen(t: Translator, claim_id: int) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [InlineKeyboardButton(t(label),
                                    callback_data=EditDraftField(claim_id, step).encode())
               for step, label in FIELD_LABELS.items()]
    rows = _row(buttons, 3)
    rows.append([InlineKeyboardButton(
        t("◀ Back"), callback_data=EditDraftField(claim_id, DraftStep.SUMMARY).encode())])
    return t("What would you like to change?"), InlineKeyboardMarkup(rows)


async def _send(update: Update, context: CrmContext, text: str,
                keyboard: InlineKeyboardMarkup | None) -> None:
    """Edit the pressed message; answer a typed message with a new one."""
    if update.callback_query:
        await edit_or_send(update, context, text, keyboard)
    else:
        await context.bot.send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML,
                                       reply_markup=keyboard)


async def ask(update: Update, context: CrmContext, view: DraftView) -> int:
    """Show the next question (or the summary); its state takes the typed answer."""
    state = _state(context)
    if state.get("claim") != view.claim.id:
        state.update(claim=view.claim.id, guided=False)
    enter(context, "expense")
    if view.step in (DraftStep.RECEIPT, DraftStep.SUMMARY):
        context.chat_data[RECEIPT_FOR] = view.claim.id
    else:
        context.chat_data.pop(RECEIPT_FOR, None)
    if view.step is DraftStep.SUMMARY:
        summary = await context.services.expenses.summary(update.effective_user.id,
                                                          view.claim.id)
        text, keyboard = summary_screen(context.t, context, summary)
        await _send(update, context, text, keyboard)
        return TAP
    text, keyboard, next_state = question(context.t, context, view)
    await _send(update, context, text, keyboard)
    return next_state


def _end(context: CrmContext) -> int:
    context.chat_data.pop(DRAFT, None)
    context.chat_data.pop(RECEIPT_FOR, None)
    return ConversationHandler.END


async def start(update: Update, context: CrmContext) -> int:
    """/expense [amount what-for] or 🧾 Expense: quick entry, a draft to continue, or a new
    claim from its amount."""
    t, service, user_id = context.t, context.services.expenses, update.effective_user.id
    enter(context, "expense")
    context.chat_data.pop(RECEIPT_FOR, None)
    text = (update.effective_message.text or "").partition(" ")[2].strip() \
        if update.effective_message.text.startswith("/") else ""
    if text:
        context.chat_data[DRAFT] = {"claim": None, "guided": False}
        try:
            view = await service.begin(user_id, text, quick=True,
                                       chat_id=update.effective_chat.id)
        except DomainError as error:
            await update.effective_message.reply_text(refusal(t, error, CLAIMANT_REFUSALS))
            await update.effective_message.reply_text(
                amount_question(t, context.visitor.settings.currency))
            context.chat_data[DRAFT]["guided"] = True
            return AMOUNT
        context.chat_data[DRAFT]["claim"] = view.claim.id
        return await ask(update, context, view)
    draft = await service.latest_draft(user_id)
    if draft is not None:
        context.chat_data[DRAFT] = {"claim": draft.id, "guided": False}
        since = local_datetime(draft.created_at, context.visitor.settings.timezone)
        lines = [t("You have a draft from {date}:", date=since),
                 claim_line(t, service.config, draft), "", t("Continue it?")]
        keyboard = InlineKeyboardMarkup([
            [InlineKeyboardButton(t("▶️ Continue"), callback_data=ContinueDraft(draft.id).encode()),
             InlineKeyboardButton(t("🆕 New claim"), callback_data=NewClaim().encode())],
            [InlineKeyboardButton(t("🗑 Discard the draft"),
                                  callback_data=DiscardDraft(draft.id).encode())]])
        await update.effective_message.reply_html("\n".join(lines), reply_markup=keyboard)
        return TAP
    context.chat_data[DRAFT] = {"claim": None, "guided": True}
    await update.effective_message.reply_text(amount_question(t, context.visitor.settings.currency))
    return AMOUNT


async def new_claim(update: Update, context: CrmContext) -> int:
    """"New claim" instead of continuing the draft (which stays)."""
    await update.callback_query.answer()
    context.chat_data[DRAFT] = {"claim": None, "guided": True}
    context.chat_data.pop(RECEIPT_FOR, None)
    enter(context, "expense")
    await _send(update, context, amount_question(context.t, context.visitor.settings.currency),
                None)
    return AMOUNT


async def claim_for_opportunity(update: Update, context: CrmContext) -> int:
    """🧾 File an expense, on an opportunity's card: a new claim linked to that deal (the
    presser must work it and it must be open: checked now and again when the draft is made).
    Asked below the card, which stays as it is."""
    query, t = update.callback_query, context.t
    if await pressed_outside_private_chat(update, context, "expense"):
        return ConversationHandler.END
    opportunity_id = NewClaimFor.of(update).opportunity_id
    try:
        label = await context.services.expenses.opportunity_label(update.effective_user.id,
                                                                  opportunity_id)
    except DomainError as error:
        await refuse(update, context, error, CLAIMANT_REFUSALS)
        return ConversationHandler.END
    await query.answer()
    context.chat_data[DRAFT] = {"claim": None, "guided": True, "opportunity": opportunity_id}
    context.chat_data.pop(RECEIPT_FOR, None)
    enter(context, "expense")
    await context.bot.send_message(
        update.effective_chat.id,
        t("💼 For: {opportunity}", opportunity=escape(label)) + "\n"
        + escape(amount_question(t, context.visitor.settings.currency)),
        parse_mode=ParseMode.HTML)
    return AMOUNT


async def got_amount(update: Update, context: CrmContext) -> int:
    """The amount typed (perhaps with what it was for); refused ones are asked again."""
    t, service, state = context.t, context.services.expenses, _state(context)
    text, user_id = update.effective_message.text, update.effective_user.id
    try:
        if state.get("claim") is None:
            view = await service.begin(user_id, text, quick=False,
                                       chat_id=update.effective_chat.id,
                                       opportunity_id=state.get("opportunity"))
            state.update(claim=view.claim.id, guided=True)
        else:
            view = await service.set_amount(user_id, state["claim"], text,
                                            guided=state.get("guided", False),
                                            chat_id=update.effective_chat.id)
    except DomainError as error:
        if error.code in ("opp_not_found", "opp_closed"):
            state.pop("opportunity", None)  # said why; the next amount makes a plain claim
        await update.effective_message.reply_text(
            refusal(t, error, CLAIMANT_REFUSALS) + "\n\n"
            + amount_question(t, context.visitor.settings.currency))
        return AMOUNT
    return await ask(update, context, view)


async def got_date(update: Update, context: CrmContext) -> int:
    state = _state(context)
    if state.get("claim") is None:
        return _end(context)
    try:
        view = await context.services.expenses.set_date(
            update.effective_user.id, state["claim"], update.effective_message.text,
            guided=state.get("guided", False), chat_id=update.effective_chat.id)
    except DomainError as error:
        await update.effective_message.reply_text(
            refusal(context.t, error, CLAIMANT_REFUSALS) + "\n"
            + context.t("Please send the date like 11-20, or tap Today or Yesterday above."))
        return DATE
    return await ask(update, context, view)


async def got_description(update: Update, context: CrmContext) -> int:
    state = _state(context)
    if state.get("claim") is None:
        return _end(context)
    try:
        view = await context.services.expenses.set_description(
            update.effective_user.id, state["claim"], update.effective_message.text,
            guided=state.get("guided", False), chat_id=update.effective_chat.id)
    except DomainError as error:
        await update.effective_message.reply_text(refusal(context.t, error, CLAIMANT_REFUSALS))
        return DESCRIPTION
    return await ask(update, context, view)


async def tap_please(update: Update, context: CrmContext) -> int:
    """Text while buttons are asked: say so, nothing changes."""
    await update.effective_message.reply_text(
        context.t("Please tap one of the buttons above (or send a receipt photo when asked)."))
    return TAP


# Presses of a draft's buttons: each names the claim; the service checks it is my draft.

Step = Callable[[ExpenseService, int, int, bool], Awaitable[DraftView]]


async def _step(update: Update, context: CrmContext, claim_id: int, step: Step, *,
                adopt: bool = False) -> int:
    """Apply a press (step(service, user_id, chat_id, guided)) and ask what comes next;
    `adopt` makes the pressed claim the one typed answers go to."""
    if await pressed_outside_private_chat(update, context, "expense"):
        return ConversationHandler.END
    guided = _guided(context, claim_id)
    enter(context, "expense")
    try:
        view = await step(context.services.expenses, update.effective_user.id,
                          update.effective_chat.id, guided)
    except DomainError as error:
        await refuse(update, context, error, CLAIMANT_REFUSALS)
        return TAP
    await update.callback_query.answer()
    if adopt and (context.chat_data.get(DRAFT) or {}).get("claim") != claim_id:
        context.chat_data[DRAFT] = {"claim": claim_id, "guided": False}
    return await ask(update, context, view)


async def chose_category(update: Update, context: CrmContext) -> int:
    """A category button."""
    press = ClaimCategory.of(update)
    return await _step(update, context, press.claim_id, lambda service, user, chat, guided:
                       service.set_category(user, press.claim_id, press.category,
                                            guided=guided, chat_id=chat))


async def chose_date(update: Update, context: CrmContext) -> int:
    """Today or Yesterday."""
    press = ClaimDate.of(update)
    return await _step(update, context, press.claim_id, lambda service, user, chat, guided:
                       service.set_date(user, press.claim_id, press.day, guided=guided,
                                        chat_id=chat))


async def chose_unit(update: Update, context: CrmContext) -> int:
    """The budget the claim is charged to."""
    press = ClaimUnit.of(update)
    return await _step(update, context, press.claim_id, lambda service, user, chat, guided:
                       service.set_unit(user, press.claim_id, press.unit.kind,
                                        press.unit.unit_id, guided=guided, chat_id=chat))


async def chose_opportunity(update: Update, context: CrmContext) -> int:
    """An opportunity of mine, or none."""
    press = ClaimOpportunity.of(update)
    if press.opportunity_id is None:
        return await _step(update, context, press.claim_id, lambda service, user, chat, guided:
                           service.skip(user, press.claim_id, DraftStep.OPPORTUNITY,
                                        guided=guided))
    return await _step(update, context, press.claim_id, lambda service, user, chat, guided:
                       service.set_opportunity(user, press.claim_id, press.opportunity_id,
                                               guided=guided, chat_id=chat))


async def skip_description(update: Update, context: CrmContext) -> int:
    """⏭ Skip the description."""
    claim_id = SkipDescription.of(update).claim_id
    return await _step(update, context, claim_id, lambda service, user, chat, guided:
                       service.skip(user, claim_id, DraftStep.DESCRIPTION, guided=guided))


async def skip_receipt(update: Update, context: CrmContext) -> int:
    """⏭ No receipt."""
    claim_id = SkipReceipt.of(update).claim_id
    return await _step(update, context, claim_id, lambda service, user, chat, guided:
                       service.skip(user, claim_id, DraftStep.RECEIPT, guided=guided))


async def continue_draft(update: Update, context: CrmContext) -> int:
    """▶️ Continue: the draft's next question."""
    claim_id = ContinueDraft.of(update).claim_id
    return await _step(update, context, claim_id, lambda service, user, chat, guided:
                       service.resume(user, claim_id), adopt=True)


async def edit_field(update: Update, context: CrmContext) -> int:
    """One field to change, or back to the summary."""
    press = EditDraftField.of(update)
    return await _step(update, context, press.claim_id, lambda service, user, chat, guided:
                       service.resume(user, press.claim_id, press.step), adopt=True)


async def add_to_trip(update: Update, context: CrmContext) -> int:
    """🧳 Add to a trip, then the summary again."""
    press = AddToTrip.of(update)

    async def step(service: ExpenseService, user: int, chat: int, guided: bool) -> DraftView:
        await service.add_to_trip(user, press.claim_id, press.trip_id, chat)
        return await service.resume(user, press.claim_id, DraftStep.SUMMARY)

    return await _step(update, context, press.claim_id, step, adopt=True)


async def submit(update: Update, context: CrmContext) -> int:
    """✅ Submit: the claim goes to its first approver."""
    query, t, claim_id = update.callback_query, context.t, SubmitClaim.of(update).claim_id
    if await pressed_outside_private_chat(update, context, "expense"):
        return ConversationHandler.END
    enter(context, "expense")
    chat_id = update.effective_chat.id
    try:
        result = await context.services.expenses.submit(update.effective_user.id, claim_id,
                                                        chat_id)
    except DomainError as error:
        await refuse(update, context, error, CLAIMANT_REFUSALS)
        await context.bot.send_message(chat_id, refusal(t, error, CLAIMANT_REFUSALS))
        return TAP
    metrics.claim_submitted()
    await query.answer(t("Submitted."))
    await edit_or_send(update, context, submitted_text(t, context, result), None)
    return _end(context)


async def save_draft(update: Update, context: CrmContext) -> int:
    """💾 Save draft: every step is stored as it is made, so this checks it is my draft."""
    query, t, claim_id = update.callback_query, context.t, SaveDraft.of(update).claim_id
    if await pressed_outside_private_chat(update, context, "expense"):
        return ConversationHandler.END
    enter(context, "expense")
    try:
        await context.services.expenses.resume(update.effective_user.id, claim_id)
    except DomainError as error:
        await refuse(update, context, error, CLAIMANT_REFUSALS)
        return TAP
    await query.answer(t("Saved."))
    await edit_or_send(update, context, t(
        "💾 Saved as a draft. Send /expense or /claims to continue it."), None)
    return _end(context)


async def discard(update: Update, context: CrmContext) -> int:
    """🗑 Discard the draft."""
    query, t, claim_id = update.callback_query, context.t, DiscardDraft.of(update).claim_id
    if await pressed_outside_private_chat(update, context, "expense"):
        return ConversationHandler.END
    enter(context, "expense")
    try:
        await context.services.expenses.discard(update.effective_user.id, claim_id)
    except DomainError as error:
        await refuse(update, context, error, CLAIMANT_REFUSALS)
        return TAP
    await query.answer()
    await edit_or_send(update, context, t("🗑 Draft discarded."), None)
    return _end(context)


async def edit(update: Update, context: CrmContext) -> int:
    """✏️ Edit: which field to change."""
    query, t, claim_id = update.callback_query, context.t, EditDraft.of(update).claim_id
    if await pressed_outside_private_chat(update, context, "expense"):
        return ConversationHandler.END
    enter(context, "expense")
    try:
        await context.services.expenses.resume(update.effective_user.id, claim_id)
    except DomainError as error:  # only my own draft
        await refuse(update, context, error, CLAIMANT_REFUSALS)
        return TAP
    await query.answer()
    context.chat_data[DRAFT] = {"claim": claim_id, "guided": False}
    await edit_or_send(update, context, *edit_screen(t, claim_id))
    return TAP


def submitted_text(t: Translator, context: CrmContext, result) -> str:
    claim = result.claim
    config = context.services.expenses.config
    first = result.steps[0] if result.steps else None
    amount = format_amount(claim.amount, claim.currency)
    lines = [t("✅ Claim <b>{number}</b> submitted: {amount} · {category}.",
               number=claim.number, amount=amount,
               category=escape(category_name(t, config, claim.category)))]
    if first is not None and first.kind is StepKind.FINANCE:
        lines.append(t("It now waits for finance."))
    elif first is not None:
        lines.append(t("It now waits for the approval of your manager."))
    if any(impact.overrun for impact in result.impacts):
        lines.append(t("⚠️ It takes a budget over its limit; the approvers will see that."))
    if result.duplicates:
        lines.append(duplicate_warning(result.duplicates, t) + " "
                     + t("The approvers will see that too."))
    lines.append(t("Follow it with /claims."))
    return "\n".join(lines)


async def on_receipt(update: Update, context: CrmContext) -> None:
    """A photo or an image file while a draft asks for receipts."""
    message, t = update.effective_message, context.t
    claim_id = context.chat_data.get(RECEIPT_FOR)
    try:
        item, as_document = sent_image(message)
    except DomainError as error:
        await message.reply_text(refusal(t, error, CLAIMANT_REFUSALS))
        raise ApplicationHandlerStop from None
    data = bytes(await (await context.bot.get_file(item.file_id)).download_as_bytearray())
    try:
        view = await context.services.expenses.add_receipt(
            update.effective_user.id, claim_id, data, file_id=item.file_id,
            as_document=as_document, guided=_guided(context, claim_id))
    except DomainError as error:
        await message.reply_text(refusal(t, error, CLAIMANT_REFUSALS))
        raise ApplicationHandlerStop from None
    await ask(update, context, view)
    raise ApplicationHandlerStop


class ReceiptHandler(MessageHandler):
    """Photos and files in a private chat whose open draft asks for receipts."""

    def __init__(self, application: Application) -> None:
        super().__init__(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
                         & (filters.PHOTO | filters.Document.ALL), on_receipt)
        self._chats = application.chat_data

    def check_update(self, update: object) -> bool | object | None:
        if not isinstance(update, Update) or update.effective_chat is None:
            return None
        if (self._chats.get(update.effective_chat.id) or {}).get(RECEIPT_FOR) is None:
            return None
        return super().check_update(update)


async def cancel(update: Update, context: CrmContext) -> int:
    """/cancel: stop asking; the draft stays and /expense continues it."""
    await update.effective_message.reply_text(
        context.t("Stopped. Your draft is kept: send /expense to continue it, or /claims."))
    return _end(context)


async def timed_out(update: Update, context: CrmContext) -> None:
    """Idle too long: stop asking; the draft stays in the database."""
    context.chat_data.pop(RECEIPT_FOR, None)


def conversation(application: Application) -> ConversationHandler:
    return ScheduleConversation(
        "expense",
        entry_points=[
            CommandHandler("expense", start, filters=filters.ChatType.PRIVATE),
            MessageHandler(menu_button(EXPENSE), start),
            ButtonHandler(NewClaim, new_claim),
            ButtonHandler(NewClaimFor, claim_for_opportunity),
            ButtonHandler(ClaimCategory, chose_category),
            ButtonHandler(ClaimDate, chose_date),
            ButtonHandler(ClaimUnit, chose_unit),
            ButtonHandler(ClaimOpportunity, chose_opportunity),
            ButtonHandler(SkipDescription, skip_description),
            ButtonHandler(SkipReceipt, skip_receipt),
            ButtonHandler(SubmitClaim, submit),
            ButtonHandler(SaveDraft, save_draft),
            ButtonHandler(EditDraft, edit),
            ButtonHandler(EditDraftField, edit_field),
            ButtonHandler(DiscardDraft, discard),
            ButtonHandler(ContinueDraft, continue_draft),
            ButtonHandler(AddToTrip, add_to_trip),
        ],
        states={
            AMOUNT: [MessageHandler(typed(), got_amount)],
            DATE: [MessageHandler(typed(), got_date)],
            DESCRIPTION: [MessageHandler(typed(), got_description)],
            TAP: [MessageHandler(typed(), tap_please)],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
    ).bind(application)


def handlers(application: Application) -> list:
    """The /expense conversation; receipts are taken in their own group (see RECEIPT_GROUP)."""
    application.add_handler(ReceiptHandler(application), group=RECEIPT_GROUP)
    return [conversation(application)]
