"""/opps (lists and search), an opportunity's card with its buttons, and /pipeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
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
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.albums import send_albums
from bot.callbacks import (
    AskOpportunityEdit,
    MoveStage,
    NewClaimFor,
    OpenOpportunity,
    OpportunitiesPage,
    OpportunityPhotos,
    PlanVisit,
    StageButtons,
)
from bot.commands import picked_period
from bot.context import CrmContext
from bot.dashboard import View, with_dashboard
from bot.fitting import cell, fit_caption, fit_lines, shorten
from bot.funnel import FunnelStep, funnel_chart
from bot.handlers.calendar import FLAG_NAMES, OUTCOME_ICONS
from bot.handlers.claims import STATUS_ICONS, category_name
from bot.handlers.gate import private_press
from bot.handlers.inbox import edit_or_send
from bot.i18n import N_, Translator
from bot.keyboards import AnswersQuestion, ButtonHandler, pager
from bot.notices import day_label
from bot.texts import STATUS_NAMES, refusal
from core.config import ExpensesConfig
from core.domain.errors import DomainError
from core.domain.expenses.claims import ClaimStatus
from core.domain.money import format_amount
from core.domain.opportunities.pipeline import (
    MAX_NOTE,
    MAX_REASON,
    Opportunity,
    Pipeline,
    TimelineEntry,
)
from core.domain.schedule.checkins import TrustFlag
from core.opportunities.pipeline import ZERO, Card, OpportunityList, PipelineView

# Presses are untrusted: the service re-reads the deal and re-checks the presser's rights
# and the deal's stage on every press.
QUESTION_MARK = "🖊"
PENDING = "opp_question"
MAX_LINE = 300  # a note's characters shown in the timeline

QUESTIONS = {
    "a": N_("New amount for “{title}” in {currency}? Reply to this message, "
            "for example 120000."),
    "d": N_("New expected close date for “{title}”? Reply to this message, "
            "for example 2026-12-20 or 12-20."),
    "n": N_("Your note on “{title}”? Reply to this message (at most {limit} characters)."),
    "lost": N_("Why was “{title}” lost? Reply to this message with the reason "
               "(at most {limit} characters)."),
}
PLACEHOLDERS = {"a": N_("Amount"), "d": N_("Date"), "n": N_("Note"), "lost": N_("Reason")}


def stage_name(t: Translator, pipeline: Pipeline, key: str | None) -> str:
    if key is None:
        return "—"
    return pipeline.get(key).label(t.language) if pipeline.has(key) else key


# The list -----------------------------------------------------------------------------

def _list_line(t: Translator, view: OpportunityList, opp: Opportunity) -> str:
    flag = "⚠️ " if opp.overdue(view.today, view.pipeline) else ""
    owner = f" · 👤 {escape(view.owners[opp.owner_id])}" if opp.owner_id in view.owners else ""
    return (f"{flag}<b>{escape(opp.title)}</b> — {escape(opp.customer_name)}\n"
            f"    {format_amount(opp.amount, opp.currency)} · "
            f"{escape(stage_name(t, view.pipeline, opp.stage))} · "
            f"{escape(day_label(t, opp.expected_close))}{owner}")


def list_screen(view: OpportunityList, t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    """Overdue open ones first, then by expected close; buttons open cards, filter, page."""
    if view.search:
        head = t("💼 <b>Opportunities matching “{letters}”</b>", letters=escape(view.search))
    elif view.stage:
        head = t("💼 <b>Opportunities</b> · {stage}",
                 stage=escape(stage_name(t, view.pipeline, view.stage)))
    else:
        head = t("💼 <b>Opportunities</b>")
    lines = [head]
    if not view.items:
        lines.append(t("None found. Send /opp to add one."))
    lines += [_list_line(t, view, opp) for opp in view.items]
    if view.search and view.total > len(view.items):
        lines.append(t("Showing {shown} of {total}: type more letters to narrow it down.",
                       shown=len(view.items), total=view.total))
    if any(o.overdue(view.today, view.pipeline) for o in view.items):
        lines.append(t("⚠️ past its expected close date and still open."))
    rows = [[InlineKeyboardButton(f"{o.title[:40]} — {o.customer_name[:20]}",
                                  callback_data=OpenOpportunity(o.id).encode())]
            for o in view.items]
    if not view.search:
        if turn := pager(view.page, view.pages,
                         lambda number: OpportunitiesPage(view.stage, number)):
            rows.append(turn)
        filters_row = [InlineKeyboardButton(("✓ " if view.stage is None else "") + t("All"),
                                            callback_data=OpportunitiesPage(None, 0).encode())]
        filters_row += [InlineKeyboardButton(
            ("✓ " if view.stage == s.key else "") + s.label(t.language),
            callback_data=OpportunitiesPage(s.key, 0).encode()) for s in view.pipeline.stages]
        rows += [filters_row[i:i + 4] for i in range(0, len(filters_row), 4)]
    return fit_lines(lines), InlineKeyboardMarkup(rows)


async def show_list(update: Update, context: CrmContext) -> None:
    """/opps, or /opps <letters> to search customers and titles."""
    search = " ".join(context.args or []) or None
    try:
        view = await context.services.opportunities.listed(update.effective_user.id,
                                                           search=search)
    except DomainError as error:
        await update.effective_message.reply_text(refusal(context.t, error))
        return
    text, keyboard = list_screen(view, context.t)
    await update.effective_message.reply_html(text, reply_markup=keyboard)


# The card -----------------------------------------------------------------------------

def _when(t: Translator, moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{day_label(t, local.date())} {local:%H:%M}"


def _short(text: str) -> str:
    return shorten(text, MAX_LINE)


def _quoter(plain: bool) -> Callable[[object], str]:
    """How a person's words go into a line: for the chat shortened and escaped (HTML); for
    the page (plain) whole, since the page shows text as text."""
    return str if plain else (lambda value: escape(_short(str(value))))


def _plan_line(t: Translator, detail: dict, plain: bool) -> str:
    quoted = _quoter(plain)
    line = "🗓 " + t("planned: {text}", text=quoted(detail["text"]))
    if detail.get("customer"):
        line += " · 🏢 " + (str if plain else escape)(str(detail["customer"]))
    line += " " + OUTCOME_ICONS.get(str(detail["outcome"]), "⏳")
    if detail["outcome"] == "moved" and detail.get("moved_to"):
        line += " " + t("(moved to {day})", day=day_label(t, detail["moved_to"]))
    if detail.get("verified"):
        line += " " + t("(visit verified)")
    if detail.get("note"):
        note = quoted(detail["note"])
        line += f" — {note}" if plain else f" — <i>{note}</i>"
    return line


def _check_in_line(t: Translator, detail: dict, plain: bool) -> str:
    place = ((str if plain else escape)(str(detail["customer"])) if detail.get("customer")
             else t("no customer's site"))
    line = "📍 " + t("check-in at {place}", place=place)
    if detail["flags"]:
        line += " ⚠ " + t(", ").join(t(FLAG_NAMES[TrustFlag(f)]) for f in detail["flags"])
    if not plain:  # the page links the map itself
        line += f' · <a href="{escape(str(detail["map"]))}">{t("map")}</a>'
    if detail.get("photos"):
        line += f" · 📷 {detail['photos']}"
    return line


def _category(t: Translator, expenses: ExpensesConfig | None, key: str | None) -> str:
    return category_name(t, expenses, key) if expenses is not None else key or "—"


def _claim_line(t: Translator, card: Card, detail: dict,
                expenses: ExpensesConfig | None, plain: bool) -> str:
    status = ClaimStatus(str(detail["status"]))
    text = str if plain else escape
    parts = [f"🧾 {text(str(detail['number'] or '—'))}",
             text(_category(t, expenses, detail.get("category")))]
    if card.money_visible and detail.get("amount") is not None:
        parts.append(format_amount(detail["amount"], str(detail["currency"])))
    parts.append(f"{STATUS_ICONS[status]} {t(STATUS_NAMES[status])}")
    return " · ".join(parts)


EDITED_FIELDS = {"amount": N_("amount"), "expected_close": N_("expected close"),
                 "title": N_("title")}


def _change_line(t: Translator, card: Card, detail: dict, plain: bool) -> str:
    """An edit of the deal: the field, from what to what (amounts only to money viewers)."""
    field = str(detail["field"])
    name = t(EDITED_FIELDS.get(field, field))
    old, new = detail.get("from"), detail.get("to")
    if field == "amount":
        if not card.money_visible:
            return "✏️ " + t("{field} changed", field=name)
        old, new = (format_amount(Decimal(v), card.opportunity.currency) if v else "—"
                    for v in (old, new))
    elif field == "expected_close":
        old, new = (day_label(t, date.fromisoformat(v)) if v else "—" for v in (old, new))
    else:
        old, new = (f"“{_quoter(plain)(v)}”" if v else "—" for v in (old, new))
    return "✏️ " + t("{field}: {old} → {new}", field=name, old=old, new=new)


def _stage_line(t: Translator, card: Card, detail: dict, plain: bool) -> str:
    text = str if plain else escape
    if detail["from"] is None:
        line = t("created at {stage}", stage=text(stage_name(t, card.pipeline, detail["to"])))
    else:
        line = t("{old} → {new}", old=text(stage_name(t, card.pipeline, detail["from"])),
                 new=text(stage_name(t, card.pipeline, detail["to"])))
    if detail.get("reason"):
        line += f" — “{text(str(detail['reason']))}”"
    return "🔀 " + line


def timeline_when(t: Translator, card: Card, entry: TimelineEntry) -> str:
    """When a timeline entry happened: a plan's day (and time), else the moment."""
    if entry.kind == "plan":
        when = day_label(t, entry.detail["day"])
        return when + (f" {entry.detail['time']}" if entry.detail.get("time") else "")
    return _when(t, entry.at, card.zone)


def timeline_text(t: Translator, card: Card, entry: TimelineEntry,
                  expenses: ExpensesConfig | None = None, *, plain: bool = False) -> str:
    """What a timeline entry says (HTML for the chat; `plain` text for the page)."""
    detail = entry.detail
    if entry.kind == "plan":
        return _plan_line(t, detail, plain)
    if entry.kind == "log":
        line = "📒 " + _quoter(plain)(detail["text"])
        if detail.get("customer"):
            line += " · 🏢 " + (str if plain else escape)(str(detail["customer"]))
        return line
    if entry.kind == "check_in":
        return _check_in_line(t, detail, plain)
    if entry.kind == "claim":
        return _claim_line(t, card, detail, expenses, plain)
    if entry.kind == "change":
        return _change_line(t, card, detail, plain)
    if entry.kind == "stage":
        return _stage_line(t, card, detail, plain)
    return "📝 " + _quoter(plain)(detail.get("text", ""))


def timeline_line(t: Translator, card: Card, entry: TimelineEntry,
                  expenses: ExpensesConfig | None = None) -> str:
    who = escape(card.names.get(entry.member_id, "—"))
    return (f"{timeline_when(t, card, entry)} · {who}: "
            + timeline_text(t, card, entry, expenses))


def claim_totals_line(t: Translator, card: Card, expenses: ExpensesConfig | None,
                      plain: bool = False) -> str | None:
    """Approved and pending claims for the deal, in all and by category (money viewers)."""
    if not card.money_visible or not card.claim_totals:
        return None
    currency = card.opportunity.currency
    total = sum((line.amount for line in card.claim_totals), start=ZERO)
    text = str if plain else escape
    parts = [f"{text(_category(t, expenses, line.category))} "
             f"{format_amount(line.amount, currency)}" for line in card.claim_totals]
    return t("🧾 Expenses (approved and pending): {total} — {parts}",
             total=format_amount(total, currency), parts=" · ".join(parts))


def card_text(card: Card, t: Translator, expenses: ExpensesConfig | None = None) -> str:
    opp, pipeline = card.opportunity, card.pipeline
    lines = [f"💼 <b>{escape(opp.title)}</b>",
             t("🏢 {customer}", customer=escape(opp.customer_name)),
             t("👤 {owner}", owner=escape(card.owner.name)),
             t("💰 {amount} · {probability}% → weighted {weighted}",
               amount=format_amount(opp.amount, opp.currency), probability=opp.probability,
               weighted=format_amount(opp.weighted, opp.currency)),
             t("🔀 Stage: <b>{stage}</b>", stage=escape(stage_name(t, pipeline, opp.stage)))]
    close = t("📅 Expected close: {day}", day=escape(day_label(t, opp.expected_close)))
    if card.overdue:
        close += " " + t("⚠️ overdue")
    lines.append(close)
    if opp.lost_reason:
        lines.append(t("Lost because: {reason}", reason=escape(opp.lost_reason)))
    if totals := claim_totals_line(t, card, expenses):
        lines.append(totals)
    lines += ["", t("<b>Timeline</b> (newest first)")]
    if card.page:
        lines[-1] += " " + t("· page {page}", page=card.page + 1)
    lines += [timeline_line(t, card, entry, expenses) for entry in card.timeline]
    return fit_lines(lines)


def card_keyboard(card: Card, t: Translator) -> InlineKeyboardMarkup:
    opp_id = card.opportunity.id
    rows = []
    if card.may_change:
        first = [InlineKeyboardButton(t(label),
                                      callback_data=AskOpportunityEdit(opp_id, field).encode())
                 for label, field in ((N_("💰 Amount"), "a"), (N_("📅 Date"), "d"),
                                      (N_("📝 Note"), "n"))]
        if card.moves():
            first.insert(0, InlineKeyboardButton(t("🔀 Stage"),
                                                 callback_data=StageButtons(opp_id).encode()))
        rows.append(first[:2])
        rows.append(first[2:])
    if card.may_link:
        rows.append([InlineKeyboardButton(t("🗓 Plan a visit"),
                                          callback_data=PlanVisit(opp_id).encode()),
                     InlineKeyboardButton(t("🧾 File an expense"),
                                          callback_data=NewClaimFor(opp_id).encode())])
    if card.photos:
        rows.append([InlineKeyboardButton(t("📷 Photos ({count})", count=card.photos),
                                          callback_data=OpportunityPhotos(opp_id).encode())])
    pager = []
    if card.page > 0:
        pager.append(InlineKeyboardButton(
            t("◀ Newer"), callback_data=OpenOpportunity(opp_id, card.page - 1).encode()))
    if card.has_more:
        pager.append(InlineKeyboardButton(
            t("Older ▶"), callback_data=OpenOpportunity(opp_id, card.page + 1).encode()))
    if pager:
        rows.append(pager)
    rows.append([InlineKeyboardButton(t("« Opportunities"),
                                      callback_data=OpportunitiesPage(None, 0).encode())])
    return InlineKeyboardMarkup(rows)


def stage_keyboard(card: Card, t: Translator) -> InlineKeyboardMarkup:
    opp = card.opportunity
    buttons = [InlineKeyboardButton(f"{s.label(t.language)} · {s.probability}%",
                                    callback_data=MoveStage(opp.id, opp.stage, s.key).encode())
               for s in card.moves()]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(t("« Back"),
                                      callback_data=OpenOpportunity(opp.id).encode())])
    return InlineKeyboardMarkup(rows)


def card_screen(card: Card, context: CrmContext) -> tuple[str, InlineKeyboardMarkup]:
    """The card's text (claims named by the configured categories) and its buttons."""
    return (card_text(card, context.t, context.services.expenses.config),
            card_keyboard(card, context.t))


async def send_card(update: Update, context: CrmContext, card: Card) -> None:
    """The card as a new message (after a typed answer)."""
    text, keyboard = card_screen(card, context)
    await context.bot.send_message(update.effective_chat.id, text, parse_mode="HTML",
                                   reply_markup=keyboard)


@private_press("opps", refusal)
async def send_photos(update: Update, context: CrmContext) -> None:
    """The photos of the deal's check-ins, watermarked, in albums of up to ten."""
    query, t = update.callback_query, context.t
    photos = await context.services.opportunities.photos(update.effective_user.id,
                                                         OpportunityPhotos.of(update).opportunity_id)
    if not photos:
        await query.answer(t("No photos are kept for this opportunity."), show_alert=True)
        return
    await query.answer()
    await send_albums(context.bot, update.effective_chat.id,
                      [InputMediaPhoto(p.data, caption=fit_caption(p.caption)) for p in photos])


@private_press("opps", refusal)
async def open_card(update: Update, context: CrmContext) -> None:
    """The card, a page of its timeline."""
    press = OpenOpportunity.of(update)
    card = await context.services.opportunities.card(update.effective_user.id,
                                                     press.opportunity_id, press.page)
    await update.callback_query.answer()
    await edit_or_send(update, context, *card_screen(card, context))


@private_press("opps", refusal)
async def show_list_page(update: Update, context: CrmContext) -> None:
    """The list, filtered by a stage, a page of it."""
    press = OpportunitiesPage.of(update)
    view = await context.services.opportunities.listed(update.effective_user.id,
                                                       stage=press.stage, page=press.page)
    await update.callback_query.answer()
    await edit_or_send(update, context, *list_screen(view, context.t))


@private_press("opps", refusal)
async def show_stages(update: Update, context: CrmContext) -> None:
    """The stages the deal may move to, below its card."""
    query, t = update.callback_query, context.t
    card = await context.services.opportunities.card(update.effective_user.id,
                                                     StageButtons.of(update).opportunity_id)
    if not card.moves():
        await query.answer(refusal(t, DomainError(
            "opp_reopen_not_allowed" if card.may_change else "opp_read_only")),
            show_alert=True)
        return
    await query.answer()
    await edit_or_send(update, context, card_screen(card, context)[0] + "\n\n"
                       + t("Move it to which stage?"), stage_keyboard(card, t))


@private_press("opps", refusal)
async def move_stage(update: Update, context: CrmContext) -> None:
    """Move from the stage the presser saw to another (to lost: after the reason)."""
    press = MoveStage.of(update)
    await _move(update, context, press.opportunity_id, press.from_stage, press.to_stage)


@private_press("opps", refusal)
async def ask_edit(update: Update, context: CrmContext) -> None:
    """Ask for a new amount, close date, or a note."""
    press = AskOpportunityEdit.of(update)
    card = await context.services.opportunities.card(update.effective_user.id,
                                                     press.opportunity_id)
    if not card.may_change:
        raise DomainError("opp_read_only")
    await update.callback_query.answer()
    await _ask(update, context, card, press.field)


async def _move(update: Update, context: CrmContext, opp_id: int, from_stage: str,
                to_stage: str) -> None:
    """Move at once; to the lost stage, ask for the reason first."""
    query, t, service = update.callback_query, context.t, context.services.opportunities
    if service.pipeline.has(to_stage) and service.pipeline.get(to_stage).outcome == "lost":
        card = await service.card(update.effective_user.id, opp_id)
        if card.opportunity.stage != from_stage:
            raise DomainError("opp_changed")
        if to_stage not in {s.key for s in card.moves()}:
            raise DomainError("opp_reopen_not_allowed" if card.may_change else "opp_read_only")
        await query.answer()
        await _ask(update, context, card, "lost", from_stage=from_stage)
        return
    card = await service.move(update.effective_user.id, opp_id, to_stage,
                              from_stage=from_stage)
    await query.answer(t("Moved to {stage}.",
                         stage=stage_name(t, card.pipeline, card.opportunity.stage)))
    await edit_or_send(update, context, *card_screen(card, context))


async def _ask(update: Update, context: CrmContext, card: Card, field: str, *,
               from_stage: str | None = None) -> None:
    """A question the person answers by replying; the answer is checked by the service."""
    t, opp = context.t, card.opportunity
    limit = MAX_REASON if field == "lost" else MAX_NOTE
    question = await context.bot.send_message(
        update.effective_chat.id,
        QUESTION_MARK + " " + t(QUESTIONS[field], title=opp.title, currency=opp.currency,
                                limit=limit),
        reply_markup=ForceReply(input_field_placeholder=t(PLACEHOLDERS[field])))
    context.user_data[PENDING] = (question.message_id, opp.id, field, from_stage)



async def typed_answer(update: Update, context: CrmContext) -> None:
    """The answer to the latest question: stored, then the card is shown again."""
    t, message = context.t, update.effective_message
    pending = context.user_data.get(PENDING)
    if not pending or pending[0] != message.reply_to_message.message_id:
        await message.reply_text(t("That question has expired. Open the opportunity again "
                                   "with /opps and press the button once more."))
        return
    _, opp_id, field, from_stage = pending
    service, user_id = context.services.opportunities, update.effective_user.id
    try:
        if field == "a":
            card = await service.edit_amount(user_id, opp_id, message.text)
        elif field == "d":
            card = await service.edit_close_date(user_id, opp_id, message.text)
        elif field == "n":
            card = await service.add_note(user_id, opp_id, message.text)
        else:
            card = await service.move(user_id, opp_id, service.pipeline.lost.key,
                                      from_stage=from_stage, reason=message.text)
    except DomainError as error:
        await message.reply_text(refusal(t, error))
        return
    context.user_data.pop(PENDING, None)
    await send_card(update, context, card)


# The pipeline -----------------------------------------------------------------------

LABEL_WIDTH = 12


def pipeline_text(view: PipelineView, t: Translator) -> str:
    scope = (t("the whole organisation") if view.everyone else t("you and your team")
             if view.people else t("yours"))
    lines = [t("📊 <b>Pipeline {period}</b>", period=view.period.label),
             t("Opportunities of {scope}, in {currency}: open ones, and those won or lost "
               "in {period}.", scope=scope, currency=view.currency, period=view.period.label)]
    stage, amount, weighted = t("Stage"), t("Amount"), t("Weighted")
    table = [f"{cell(stage, LABEL_WIDTH)} {'#':>4} {amount:>13} {weighted:>13}"]
    for line in view.lines:
        table.append(f"{cell(stage_name(t, view.pipeline, line.stage), LABEL_WIDTH)} "
                     f"{line.count:>4} {format_amount(line.amount):>13} "
                     f"{format_amount(line.weighted):>13}")
    total, open_label = view.open_total, t("Open")
    table.append(f"{cell(open_label, LABEL_WIDTH)} {total.count:>4} "
                 f"{format_amount(total.amount):>13} {format_amount(total.weighted):>13}")
    lines.append("<pre>" + escape("\n".join(table)) + "</pre>")
    rate = "—" if view.win_rate is None else str(view.win_rate) + "%"
    lines.append(t("Win rate: {rate} ({won} won, {lost} lost)", rate=rate, won=view.won,
                   lost=view.lost))
    if view.days:
        days = " · ".join(f"{escape(stage_name(t, view.pipeline, s.key))} {view.days[s.key]}"
                          for s in view.pipeline.stages if s.key in view.days)
        lines.append(t("Average days per stage: {days}", days=days))
    if view.people:
        lines.append(t("<b>Per person</b> (open: count · amount · weighted)"))
        for person in view.people[:20]:
            open_lines = [line for line in person.lines if view.pipeline.is_open(line.stage)]
            count = sum(line.count for line in open_lines)
            amount = sum((line.amount for line in open_lines), start=ZERO)
            weighted = sum((line.weighted for line in open_lines), start=ZERO)
            lines.append(f"{escape(person.name)}: {count} · {format_amount(amount)} · "
                         f"{format_amount(weighted)}")
    return fit_lines(lines)


def funnel_steps(view: PipelineView, t: Translator) -> list[FunnelStep]:
    """The open stages and the won one, as the table shows them."""
    won = view.pipeline.won.key
    return [FunnelStep(stage_name(t, view.pipeline, line.stage), line.count, line.amount,
                       won=line.stage == won)
            for line in view.lines
            if view.pipeline.is_open(line.stage) or line.stage == won]


async def show_pipeline(update: Update, context: CrmContext) -> None:
    """/pipeline [2026-Q4]: the table, then the funnel chart."""
    t, message = context.t, update.effective_message
    period = picked_period(" ".join(context.args or []))
    if context.args and period is None:
        await message.reply_text(t("Please give a period like 2026-11, 2026-Q4 or 2026."))
        return
    try:
        view = await context.services.opportunities.stats(update.effective_user.id, period)
    except DomainError as error:
        await message.reply_text(refusal(t, error))
        return
    await message.reply_html(pipeline_text(view, t),
                             reply_markup=with_dashboard(update, context, View.PIPELINE))
    if view.empty:
        return
    chart = funnel_chart(t("Pipeline {period}", period=view.period.label),
                         funnel_steps(view, t), view.currency)
    await message.reply_photo(chart.png, caption=t("Pipeline {period}",
                                                   period=view.period.label))


def handlers() -> list:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("opps", show_list, filters=private),
        CommandHandler("pipeline", show_pipeline, filters=private),
        MessageHandler(private & filters.TEXT & ~filters.COMMAND & AnswersQuestion(QUESTION_MARK),
                       typed_answer),
        ButtonHandler(OpenOpportunity, open_card),
        ButtonHandler(OpportunitiesPage, show_list_page),
        ButtonHandler(StageButtons, show_stages),
        ButtonHandler(MoveStage, move_stage),
        ButtonHandler(AskOpportunityEdit, ask_edit),
        ButtonHandler(OpportunityPhotos, send_photos),
    ]
