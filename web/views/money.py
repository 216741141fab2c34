"""Budgets and statistics: usage per unit and category, the breakdowns of /stats as bars, and
the claims as a spreadsheet. Core decides who sees what, as in the chat: budgets of the
member's units, statistics and exports of the departments they lead (finance: everyone's)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from bot.handlers.budgets import POLICIES, budget_label, change_text
from bot.handlers.export import MAX_CHAT_ROWS
from bot.handlers.stats import PERIOD_LABELS, STATUS_LABELS, title
from bot.i18n import N_, Translator
from core.domain.expenses.stats import Dimension, Line, StatusFilter
from core.domain.money import format_amount
from core.domain.period import Period
from core.expenses.budgets import BudgetLine, parse_period
from core.expenses.export import ExportFormat
from core.expenses.stats import ExpenseStatsView
from web.app import Who, json_response

router = APIRouter()

TOP = 10  # lines of a breakdown by unit, member or opportunity; the rest summed in one
PERIOD_CHARS = 32  # "2026-Q4" is 7: anything far longer is not a period
LAST_PAGE = 10_000

# The status filter by the name the page sends.
StatusName = Literal["committed", "approved", "pending", "rejected"]
STATUSES: dict[str, StatusFilter] = {status.name.lower(): status for status in StatusFilter}
SECTIONS = (
    (Dimension.CATEGORY, N_("By category")),
    (Dimension.UNIT, N_("By accounting unit")),
    (Dimension.MEMBER, N_("By member")),
    (Dimension.OPPORTUNITY, N_("By opportunity")),
    (Dimension.STAGE, N_("By stage on the date spent")),
)
MEDIA_TYPES = {
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.CSV: "text/csv; charset=utf-8",
}

STRINGS: tuple[str, ...] = (
    N_("Another period"),
    N_("2026-11, 2026-Q4 or 2026"),
    N_("Show"),
    N_("Claims to count"),
    N_("Claims: {n}"),
    N_("Previous page"),
    N_("Next page"),
    N_("Last changes"),
    N_("Download the claims"),
)


class BudgetsAsked(BaseModel):
    """GET /budgets: the period (none: the budgets running today) and the page."""

    model_config = ConfigDict(extra="forbid")
    period: str = Field("", max_length=PERIOD_CHARS)
    page: int = Field(0, ge=0, le=LAST_PAGE)


class StatsAsked(BaseModel):
    """GET /stats: the period (none: this month) and which claims count."""

    model_config = ConfigDict(extra="forbid")
    period: str = Field("", max_length=PERIOD_CHARS)
    status: StatusName = "committed"


class ExportAsked(BaseModel):
    """GET /export.xlsx and /export.csv: the period and which claims."""

    model_config = ConfigDict(extra="forbid")
    period: str = Field(min_length=1, max_length=PERIOD_CHARS)
    status: StatusName = "committed"


def _period(text: str) -> Period | None:
    """The period typed or picked; core refuses one it cannot read."""
    return parse_period(text) if text.strip() else None


def _width(amount: Decimal, largest: Decimal) -> int:
    """The length of a bar in percent of the largest one (a bar of anything spent shows)."""
    if largest <= 0 or amount <= 0:
        return 0
    return max(1, min(100, int(amount * 100 / largest)))


def budget_json(line: BudgetLine, currency: str, t: Translator) -> dict:
    budget = line.budget
    used, limit = format_amount(line.used, currency), format_amount(budget.amount, currency)
    return {
        "id": budget.id,
        "label": budget_label(line, t),
        "unit_kind": str(budget.unit_kind),
        "period": budget.period.label,
        "used": used,
        "limit": limit,
        "usage": t("{used} of {limit}", used=used, limit=limit),
        "percent": line.percent,
        "width": max(0, min(100, line.percent)),
        "policy": t(POLICIES[budget.policy]),
        "over": (t("🔴 over budget by {over}", over=format_amount(line.over, currency))
                 if line.over > 0 else None),
    }


@router.get("/budgets")
async def budgets(who: Who, request: Request,
                  asked: Annotated[BudgetsAsked, Query()]) -> Response:
    """A page of the budgets of the member's units with their usage, as /budget shows it."""
    t = who.t
    overview = await request.app.state.services.budgets.overview(
        who.account_id, asked.period.strip() or None, asked.page)
    currency = overview.currency
    return json_response({
        "title": (t("Budgets · {period}", period=overview.period.label) if overview.period
                  else t("Budgets running now")),
        "period": overview.period.label if overview.period else None,
        "note": t("used = approved + waiting for approval"),
        "empty": None if overview.lines else t("No budgets for your units in this period."),
        "currency": currency,
        "lines": [budget_json(line, currency, t) for line in overview.lines],
        "page": overview.pages.number,
        "pages": overview.pages.count,
        "changes": [change_text(change, currency, who.timezone, t, str)
                    for change in overview.changes],
    })


def _line_json(line: Line, largest: Decimal, label: str | None = None) -> dict:
    return {"label": label or line.label, "kind": line.kind, "amount": str(line.amount),
            "text": format_amount(line.amount), "count": line.count,
            "width": _width(line.amount, largest), "rest": label is not None}


def sections_json(view: ExpenseStatsView, t: Translator) -> list[dict]:
    """Each breakdown's lines, largest first (stages in the pipeline's order), and the lines
    core summed into one: labelled with how many they are, as the chat labels them."""
    lines_of = {Dimension.CATEGORY: view.by_category, Dimension.UNIT: view.by_unit,
                Dimension.MEMBER: view.by_member, Dimension.OPPORTUNITY: view.by_opportunity,
                Dimension.STAGE: view.by_stage}
    shown = []
    for by, heading in SECTIONS:
        lines, rest = lines_of[by], view.left_out.get(by)
        largest = max([line.amount for line in lines] + ([rest.amount] if rest else []),
                      default=Decimal(0))
        rows = [_line_json(line, largest) for line in lines]
        if rest is not None:
            rows.append(_line_json(rest, largest, t("… {n} more", n=rest.label)))
        shown.append({"key": str(by), "title": t(heading), "lines": rows})
    return shown


@router.get("/stats")
async def stats(who: Who, request: Request, asked: Annotated[StatsAsked, Query()]) -> Response:
    """What /stats shows for a period and status: the total and each breakdown, the periods
    to pick and the files to download."""
    t, services = who.t, request.app.state.services
    status = STATUSES[asked.status]
    view = await services.expense_stats.stats(who.account_id, _period(asked.period), status,
                                              language=t.language, top=TOP, top_budgets=0)
    periods = await services.expense_stats.periods(who.account_id)
    label = view.period.label
    scope = t("the whole organisation") if view.everyone else t("the departments you lead")
    total = view.total
    return json_response({
        "title": title(view, t),
        "period": label,
        "status": asked.status,
        "scope": t("Claims of {scope}, in {currency}.", scope=scope, currency=view.currency),
        "currency": view.currency,
        "everyone": view.everyone,
        "empty": (t("No claims in {period} ({status}).", period=label,
                    status=t(STATUS_LABELS[status])) if view.empty else None),
        "total": {"label": t("Total"), "amount": str(total.amount),
                  "text": format_amount(total.amount), "count": total.count},
        "sections": [] if view.empty else sections_json(view, t),
        "periods": [{"key": key, "label": t(PERIOD_LABELS[key]), "period": period.label,
                     "current": period.label == label} for key, period in periods.items()],
        "statuses": [{"key": name, "label": t(STATUS_LABELS[each]),
                      "current": each is status} for name, each in STATUSES.items()],
        "exports": [{"label": t(button), "path": f"export.{form}?period={label}"
                     f"&status={asked.status}",
                     "filename": f"expenses-{label}-{asked.status}.{form}"}
                    for form, button in ((ExportFormat.XLSX, N_("📥 XLSX")),
                                         (ExportFormat.CSV, N_("📥 CSV")))],
    })


@router.get("/export.{form}")
async def export(who: Who, request: Request, form: ExportFormat,
                 asked: Annotated[ExportAsked, Query()]) -> Response:
    """The claims of a period the member may see, as /export sends them."""
    period = parse_period(asked.period)
    target = io.BytesIO()
    result = await request.app.state.services.expense_stats.export(
        who.account_id, period, STATUSES[asked.status], form, target,
        language=who.t.language, limit=MAX_CHAT_ROWS)
    return Response(target.getvalue(), media_type=MEDIA_TYPES[form], headers={
        "Content-Disposition": f'attachment; filename="{result.filename}"'})
