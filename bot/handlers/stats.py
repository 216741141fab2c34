"""/stats for managers (their departments) and finance (everyone): a table and a chart."""

from __future__ import annotations

import asyncio
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from bot.callbacks import ExportFile, StatsView
from bot.charts import Chart, bar_chart
from bot.commands import picked_period
from bot.context import CrmContext
from bot.dashboard import View, with_dashboard
from bot.fitting import cell, columns, fit_lines
from bot.handlers.gate import private_press
from bot.handlers.inbox import edit_or_send
from bot.i18n import N_, Translator
from bot.keyboards import ButtonHandler
from bot.texts import refusal
from core.domain.errors import DomainError
from core.domain.expenses.stats import BudgetLine, Dimension, Line, StatusFilter, head
from core.domain.money import format_amount
from core.domain.period import Period
from core.expenses.export import ExportFormat
from core.expenses.stats import ExpenseStatsView

TOP = 8  # lines per breakdown in the chat; the rest is summed into one
TOP_BUDGETS = 10
LABEL_WIDTH = 20
LONG_LABEL_WIDTH = 38  # the whole line of a phone's monospace block

STATUS_LABELS = {
    StatusFilter.COMMITTED: N_("approved + pending"),
    StatusFilter.APPROVED: N_("approved"),
    StatusFilter.PENDING: N_("pending"),
    StatusFilter.REJECTED: N_("rejected"),
}
PERIOD_LABELS = {
    "this_month": N_("This month"),
    "last_month": N_("Last month"),
    "this_quarter": N_("This quarter"),
    "this_year": N_("This year"),
}
UNIT_MARKS = {"department": "🏢 ", "project": "📁 ", "member": "👤 "}


def sections(view: ExpenseStatsView, t: Translator) -> list[tuple[str, list[Line]]]:
    """The breakdowns as the chat shows them: the largest lines, the rest summed in one."""
    shown = []
    for title, lines, by in ((t("By category"), view.by_category, Dimension.CATEGORY),
                             (t("By accounting unit"), view.by_unit, Dimension.UNIT),
                             (t("By member"), view.by_member, Dimension.MEMBER),
                             (t("By opportunity"), view.by_opportunity, Dimension.OPPORTUNITY),
                             (t("By stage on the date spent"), view.by_stage, Dimension.STAGE)):
        first, rest = head(lines, TOP, view.left_out.get(by))
        if rest is not None:
            first.append(Line(t("… {n} more", n=rest.label), rest.amount, rest.count))
        shown.append((title, first))
    return shown


def title(view: ExpenseStatsView, t: Translator) -> str:
    return t("Expenses {period} · {status}", period=view.period.label,
             status=t(STATUS_LABELS[view.status]))


def stats_text(view: ExpenseStatsView, t: Translator) -> str:
    """The header, then one monospace table: total, breakdowns, budgets against actuals."""
    scope = t("the whole organisation") if view.everyone else t("the departments you lead")
    lines = [f"📊 <b>{escape(title(view, t))}</b>",
             t("Claims of {scope}, in {currency}.", scope=scope, currency=view.currency)]
    if view.empty:
        lines.append(t("No claims in {period} ({status}).", period=view.period.label,
                       status=t(STATUS_LABELS[view.status])))
        return fit_lines(lines + _budgets(view, t))
    total = view.total
    table = [_row(t("Total"), total.count, total.amount)]
    for heading, rows in sections(view, t):
        table += ["", heading]
        table += [_row(UNIT_MARKS.get(r.kind, "") + r.label, r.count, r.amount) for r in rows]
    lines.append("<pre>" + escape("\n".join(table)) + "</pre>")
    return fit_lines(lines + _budgets(view, t))


def _row(label: str, count: int, amount) -> str:
    """One line; a longer label (an opportunity's "customer · title") gets a line of its
    own above the numbers, so that the title is not cut away."""
    if columns(label) <= LABEL_WIDTH:
        return f"{cell(label, LABEL_WIDTH)} {count:>4} {format_amount(amount):>13}"
    return cell(label, LONG_LABEL_WIDTH).rstrip() + "\n" + _row("", count, amount)


def _budgets(view: ExpenseStatsView, t: Translator) -> list[str]:
    if not view.budgets:
        return []
    rows = [_budget(b, t) for b in view.budgets[:TOP_BUDGETS]]
    more = max(0, len(view.budgets) - TOP_BUDGETS) + view.more_budgets
    if more:
        rows.append(t("… {n} more budgets", n=more))
    return [t("<b>Budget vs actual</b> (used = approved + pending)"),
            "<pre>" + escape("\n".join(rows)) + "</pre>"]


def _budget(line: BudgetLine, t: Translator) -> str:
    budget = line.budget
    scope = " · ".join(filter(None, (line.unit, line.category, budget.period.label)))
    share = "" if line.percent is None else f" ({line.percent}%)"
    return scope + "\n  " + t("{amount}: used {used}{share}, left {left}",
                              amount=format_amount(budget.amount), used=format_amount(line.used),
                              share=share, left=format_amount(line.remaining))


def stats_keyboard(view: ExpenseStatsView, periods: dict[str, Period],
                   t: Translator) -> InlineKeyboardMarkup:
    """Periods in two rows, the status filter (the current one ticked), then export."""
    status, period = view.status, view.period

    def mark(text: str, on: bool) -> str:
        return ("✓ " if on else "") + text

    period_buttons = [InlineKeyboardButton(mark(t(PERIOD_LABELS[key]), p.label == period.label),
                                           callback_data=StatsView(p, status).encode())
                      for key, p in periods.items()]
    status_buttons = [InlineKeyboardButton(mark(t(STATUS_LABELS[s]), s is view.status),
                                           callback_data=StatsView(period, s).encode())
                      for s in StatusFilter]
    export = [InlineKeyboardButton(t("📥 XLSX"), callback_data=ExportFile(
                  period, status, ExportFormat.XLSX).encode()),
              InlineKeyboardButton(t("📥 CSV"), callback_data=ExportFile(
                  period, status, ExportFormat.CSV).encode())]
    return InlineKeyboardMarkup([period_buttons[:2], period_buttons[2:], status_buttons[:2],
                                 status_buttons[2:], export])


def stats_chart(view: ExpenseStatsView, t: Translator) -> Chart:
    """Bars by category and by member: the same Decimal lines the table shows."""
    shown = dict(sections(view, t))
    panels = [(name, [(r.label, r.amount) for r in shown[name]])
              for name in (t("By category"), t("By member"))]
    return bar_chart(title(view, t), panels, view.currency)


async def _show(update: Update, context: CrmContext, period: Period | None,
                status: StatusFilter) -> None:
    """The table (edited in place on a press) and, when there is anything, the chart."""
    t, user_id = context.t, update.effective_user.id
    view = await context.services.expense_stats.stats(user_id, period, status,
                                                      language=t.language, top=TOP,
                                                      top_budgets=TOP_BUDGETS)
    periods = await context.services.expense_stats.periods(user_id)
    text = stats_text(view, t)
    keyboard = with_dashboard(update, context, View.BUDGETS, stats_keyboard(view, periods, t))
    if update.callback_query:
        await update.callback_query.answer()
    await edit_or_send(update, context, text, keyboard)
    if not view.empty:
        chart = await asyncio.to_thread(stats_chart, view, t)
        await context.bot.send_photo(update.effective_chat.id, chart.png,
                                     caption=title(view, t))


async def show_stats(update: Update, context: CrmContext) -> None:
    """/stats, /stats 2026-11, /stats 2026-Q4, /stats 2026."""
    t, message = context.t, update.effective_message
    period = picked_period(" ".join(context.args or []))
    if context.args and period is None:
        await message.reply_text(t("Please give a period like 2026-11, 2026-Q4 or 2026."))
        return
    try:
        await _show(update, context, period, StatusFilter.COMMITTED)
    except DomainError as error:
        await message.reply_text(refusal(t, error))


@private_press("stats")
async def show_view(update: Update, context: CrmContext) -> None:
    """Another period or status; rights are checked again."""
    press = StatsView.of(update)
    await _show(update, context, press.period, press.status)


def handlers() -> list:
    return [
        CommandHandler("stats", show_stats),
        ButtonHandler(StatsView, show_view),
    ]
