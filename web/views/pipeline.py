"""The pipeline: the board by stage, the funnel, an opportunity's card, the goals.

What /pipeline, /opps, an opportunity's card and /goals show in the chat, as JSON for the
page: core decides whose deals and goals the member sees (a rep their own, a manager their
subtree, finance everyone's) and computes every figure; here they are only put into words.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from bot.funnel import step_text
from bot.handlers.goals import METRICS, goal_figure, pace_text
from bot.handlers.opportunities import (
    claim_totals_line,
    funnel_steps,
    stage_name,
    timeline_text,
    timeline_when,
)
from bot.handlers.stats import PERIOD_LABELS
from bot.i18n import N_, Translator
from bot.notices import day_label
from core.config import ExpensesConfig
from core.domain.expenses.stats import period_choices
from core.domain.money import format_amount
from core.domain.opportunities.pipeline import TimelineEntry
from core.domain.period import Period, PeriodError
from core.opportunities.goals import GoalLine
from core.opportunities.pipeline import (
    MAX_TIMELINE_PAGE,
    ZERO,
    Card,
    OpportunityList,
    PipelineView,
)
from web.app import Viewer, WebError, Who, json_response

router = APIRouter()

PERIOD_CHARS = 16  # "2026-Q4" is 7: anything far longer is not a period
STAGE_CHARS = 16  # as long as a configured stage key may be
SEARCH_CHARS = 50  # what /opps reads of the letters typed
LAST_PAGE = 10_000
MAX_ID = 2**31 - 1
BAD_PERIOD = N_("Please give a period like 2026-11, 2026-Q4 or 2026.")

STRINGS: tuple[str, ...] = (
    N_("Another period"),
    N_("2026-11, 2026-Q4 or 2026"),
    N_("Show"),
    N_("Stage"),
    N_("Amount"),
    N_("Weighted"),
    N_("Open"),
    N_("Win rate"),
    N_("Funnel"),
    N_("Per person (open: count · amount · weighted)"),
    N_("All opportunities"),
    N_("Goals"),
    N_("My goals"),
    N_("Team goals, furthest along first"),
    N_("Now"),
    N_("Timeline (newest first)"),
    N_("◀ Newer"),
    N_("Older ▶"),
    N_("map"),
    N_("Previous page"),
    N_("Next page"),
    N_("Search customers and titles"),
    N_("Opportunities in {stage}"),
)


class PeriodAsked(BaseModel):
    """GET /pipeline and /goals: the period (none: the chat's default)."""

    model_config = ConfigDict(extra="forbid")
    period: str = Field("", max_length=PERIOD_CHARS)


class ListAsked(BaseModel):
    """GET /opportunities: a stage (none: every stage), letters to search for, the page."""

    model_config = ConfigDict(extra="forbid")
    stage: str = Field("", max_length=STAGE_CHARS)
    search: str = Field("", max_length=SEARCH_CHARS)
    page: int = Field(0, ge=0, le=LAST_PAGE)


class CardAsked(BaseModel):
    """GET /opportunities/{id}: the page of its timeline, newest first."""

    model_config = ConfigDict(extra="forbid")
    page: int = Field(0, ge=0, le=MAX_TIMELINE_PAGE)


OpportunityId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _period(who: Viewer, text: str) -> Period | None:
    """The period asked for, read as /pipeline reads it; none for the default."""
    if not text.strip():
        return None
    try:
        return Period.parse(text)
    except PeriodError:
        raise WebError(400, "bad_period", who.t(BAD_PERIOD)) from None


def _period_choices(request: Request, who: Viewer, current: str | None) -> list[dict]:
    """This month … this year on the team's calendar, as /stats offers them."""
    today = request.app.state.clock.now().astimezone(ZoneInfo(who.timezone)).date()
    return [{"key": key, "label": who.t(PERIOD_LABELS[key]), "period": period.label,
             "current": period.label == current}
            for key, period in period_choices(today).items()]


def _width(amount: Decimal, largest: Decimal) -> int:
    """A bar's length in percent of the largest (anything above zero shows)."""
    if largest <= 0 or amount <= 0:
        return 0
    return max(1, min(100, int(amount * 100 / largest)))


# The board ------------------------------------------------------------------------------

def board_json(view: PipelineView, t: Translator) -> dict:
    """/pipeline's table, win rate, days per stage and people, and the funnel's bars."""
    pipeline, label = view.pipeline, view.period.label
    scope = (t("the whole organisation") if view.everyone else t("you and your team")
             if view.people else t("yours"))
    stages = []
    for line in view.lines:
        stage = pipeline.get(line.stage) if pipeline.has(line.stage) else None
        stages.append({
            "key": line.stage, "name": stage_name(t, pipeline, line.stage),
            "outcome": stage.outcome if stage else "", "count": line.count,
            "amount": str(line.amount), "amount_text": format_amount(line.amount),
            "weighted": str(line.weighted), "weighted_text": format_amount(line.weighted),
            "days": str(view.days[line.stage]) if line.stage in view.days else None})
    total = view.open_total
    steps = funnel_steps(view, t)
    widest = max((step.amount for step in steps), default=ZERO)
    rate = view.win_rate
    days = " · ".join(f"{stage_name(t, pipeline, s.key)} {view.days[s.key]}"
                      for s in pipeline.stages if s.key in view.days)
    return {
        "title": t("Pipeline {period}", period=label),
        "period": label,
        "currency": view.currency,
        "scope": t("Opportunities of {scope}, in {currency}: open ones, and those won or lost "
                   "in {period}.", scope=scope, currency=view.currency, period=label),
        "empty": view.empty,
        "stages": stages,
        "open": {"count": total.count, "amount_text": format_amount(total.amount),
                 "weighted_text": format_amount(total.weighted)},
        "win_rate": {
            "text": t("Win rate: {rate} ({won} won, {lost} lost)",
                      rate="—" if rate is None else str(rate) + "%", won=view.won, lost=view.lost),
            "rate": None if rate is None else str(rate), "won": view.won, "lost": view.lost},
        "funnel": [{"name": step.label, "count": step.count, "amount": str(step.amount),
                    "text": step_text(step), "won": step.won,
                    "width": _width(step.amount, widest)} for step in steps],
        "days": t("Average days per stage: {days}", days=days) if days else None,
        "people": [_person_json(person.name, [line for line in person.lines
                                              if pipeline.is_open(line.stage)])
                   for person in view.people],
    }


def _person_json(name: str, lines: list) -> dict:
    amount = sum((line.amount for line in lines), start=ZERO)
    weighted = sum((line.weighted for line in lines), start=ZERO)
    return {"name": name, "count": sum(line.count for line in lines),
            "amount_text": format_amount(amount), "weighted_text": format_amount(weighted)}


@router.get("/pipeline")
async def board(who: Who, request: Request, asked: Annotated[PeriodAsked, Query()]) -> Response:
    """What /pipeline shows for the period (default: this quarter), with the funnel."""
    period = _period(who, asked.period)
    view = await request.app.state.services.opportunities.stats(who.account_id, period)
    shown = board_json(view, who.t)
    shown["periods"] = _period_choices(request, who, view.period.label)
    return json_response(shown)


# The list -------------------------------------------------------------------------------

def list_json(view: OpportunityList, t: Translator) -> dict:
    """A page of /opps: overdue open deals first, then by expected close."""
    pipeline = view.pipeline
    if view.search:
        title = t("Opportunities matching “{letters}”", letters=view.search)
    elif view.stage:
        title = t("Opportunities in {stage}", stage=stage_name(t, pipeline, view.stage))
    else:
        title = t("All opportunities")
    items = [{"id": o.id, "title": o.title, "customer": o.customer_name,
              "amount_text": format_amount(o.amount, o.currency),
              "stage": stage_name(t, pipeline, o.stage), "close": day_label(t, o.expected_close),
              "overdue": o.overdue(view.today, pipeline), "owner": view.owners.get(o.owner_id)}
             for o in view.items]
    return {
        "title": title, "stage": view.stage, "search": view.search,
        "stages": [{"key": s.key, "name": s.label(t.language)} for s in pipeline.stages],
        "items": items, "total": view.total, "page": view.page, "pages": view.pages,
        "empty": None if items else t("None found. Send /opp to add one."),
        "overdue_note": (t("⚠️ past its expected close date and still open.")
                         if any(item["overdue"] for item in items) else None),
    }


@router.get("/opportunities")
async def opportunities(who: Who, request: Request,
                        asked: Annotated[ListAsked, Query()]) -> Response:
    """The member's deals (a manager's: their subtree's too) at a stage, a page of them."""
    view = await request.app.state.services.opportunities.listed(
        who.account_id, stage=asked.stage.strip() or None, search=asked.search or None,
        page=asked.page)
    return json_response(list_json(view, who.t))


# The card -------------------------------------------------------------------------------

def entry_json(t: Translator, card: Card, entry: TimelineEntry,
               expenses: ExpensesConfig) -> dict:
    """One line of the card's timeline as the chat's card says it, in plain text."""
    check_in = entry.kind == "check_in"
    return {"kind": entry.kind, "when": timeline_when(t, card, entry),
            "who": card.names.get(entry.member_id, "—"),
            "text": timeline_text(t, card, entry, expenses, plain=True),
            "map": entry.detail.get("map") if check_in else None,
            "flagged": bool(entry.detail.get("flags")) if check_in else False}


def card_json(card: Card, t: Translator, expenses: ExpensesConfig) -> dict:
    """The chat's card: the facts, a page of the timeline, the photos to ask for."""
    opp, pipeline = card.opportunity, card.pipeline
    close = t("📅 Expected close: {day}", day=day_label(t, opp.expected_close))
    facts = [t("🏢 {customer}", customer=opp.customer_name),
             t("👤 {owner}", owner=card.owner.name),
             t("💰 {amount} · {probability}% → weighted {weighted}",
               amount=format_amount(opp.amount, opp.currency), probability=opp.probability,
               weighted=format_amount(opp.weighted, opp.currency)),
             close + (" " + t("⚠️ overdue") if card.overdue else "")]
    if opp.lost_reason:
        facts.append(t("Lost because: {reason}", reason=opp.lost_reason))
    if totals := claim_totals_line(t, card, expenses, plain=True):
        facts.append(totals)
    stage = pipeline.get(opp.stage) if pipeline.has(opp.stage) else None
    return {
        "id": opp.id, "title": opp.title, "facts": facts,
        "stage": {"key": opp.stage, "name": stage_name(t, pipeline, opp.stage),
                  "outcome": stage.outcome if stage else ""},
        "amount": str(opp.amount), "amount_text": format_amount(opp.amount, opp.currency),
        "overdue": card.overdue,
        "timeline": [entry_json(t, card, entry, expenses) for entry in card.timeline],
        "page": card.page, "has_more": card.has_more,
        "page_label": t("· page {page}", page=card.page + 1) if card.page else None,
        "photos": card.photos,
        "photos_label": t("📷 Photos ({count})", count=card.photos) if card.photos else None,
    }


@router.get("/opportunities/{opportunity_id}")
async def opportunity(who: Who, request: Request, opportunity_id: OpportunityId,
                      asked: Annotated[CardAsked, Query()]) -> Response:
    """The card and a page of its timeline; a deal the member may not see is not found."""
    services = request.app.state.services
    card = await services.opportunities.card(who.account_id, opportunity_id, asked.page)
    return json_response(card_json(card, who.t, services.expenses.config))


@router.get("/opportunities/{opportunity_id}/photos")
async def photos(who: Who, request: Request, opportunity_id: OpportunityId) -> Response:
    """The newest photos of the deal's check-ins, watermarked as the chat sends them, as
    data URLs (the page's images cannot send the sign-in header)."""
    shown = await request.app.state.services.opportunities.photos(who.account_id,
                                                                  opportunity_id)
    return json_response({
        "photos": [{"caption": photo.caption, "src": "data:image/jpeg;base64,"
                    + base64.b64encode(photo.data).decode()} for photo in shown],
        "empty": None if shown else who.t("No photos are kept for this opportunity."),
    })


# Goals ----------------------------------------------------------------------------------

def goal_json(line: GoalLine, currency: str, t: Translator, *, with_unit: bool) -> dict:
    """A goal as /goals shows it: whose, how far (the bar), the figures and the pace."""
    progress = line.progress
    goal = progress.goal
    value = goal_figure(goal.metric, progress.value, currency)
    target = goal_figure(goal.metric, goal.target, currency)
    return {
        "label": " · ".join([*([line.unit_name] if with_unit else []), t(METRICS[goal.metric]),
                             goal.period.label]),
        "metric": str(goal.metric), "period": goal.period.label, "percent": progress.percent,
        "width": max(0, min(100, progress.percent)), "ceiling": goal.metric.ceiling,
        "figures": (t("{value} (at most {target})", value=value, target=target)
                    if goal.metric.ceiling else f"{value} / {target}"),
        "pace": pace_text(line, currency, t), "reached": progress.reached,
        "days_left": line.days_left,
    }


@router.get("/goals")
async def goals(who: Who, request: Request, asked: Annotated[PeriodAsked, Query()]) -> Response:
    """My goals and, for managers, the team's (furthest along first), as /goals shows them:
    the current month, quarter and year, or the period asked for."""
    t = who.t
    period = asked.period.strip() or None
    view = await request.app.state.services.goals.view(who.account_id, period)
    label = Period.parse(period).label if period else None
    return json_response({
        "period": label,
        "periods": _period_choices(request, who, label),
        "currency": view.currency,
        "mine": [goal_json(line, view.currency, t, with_unit=False) for line in view.mine],
        "team": [goal_json(line, view.currency, t, with_unit=True) for line in view.team],
        "is_manager": view.is_manager,
        "empty_mine": t("No goals for you in this period."),
        "empty_team": t("No goals for your team in this period. Set one with /goals set."),
    })
