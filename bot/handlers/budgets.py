"""/budget: my units' budgets with usage bars; `/budget set ...` for managers and finance."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from html import escape

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from bot.callbacks import BudgetPage
from bot.commands import show_or_set
from bot.context import CrmContext
from bot.fitting import fit_text
from bot.handlers.gate import private_press
from bot.handlers.inbox import edit_or_send
from bot.i18n import N_, Translator
from bot.keyboards import ButtonHandler, pager
from bot.texts import refusal
from bot.timefmt import local_datetime
from core.domain.errors import DomainError
from core.domain.expenses.budgets import OverrunPolicy
from core.domain.money import format_amount
from core.expenses.budgets import BudgetChange, BudgetLine, BudgetOverview

BAR_CELLS = 10
CHANGED_FIELDS = {"amount": N_("amount"), "policy": N_("policy")}
POLICIES = {OverrunPolicy.WARN: N_("warn"), OverrunPolicy.BLOCK: N_("block"),
            OverrunPolicy.ESCALATE: N_("escalate")}
SET_USAGE = N_("To set a budget: <code>/budget set UNIT CATEGORY PERIOD AMOUNT [POLICY]</code>\n"
               "for example <code>/budget set department:east travel 2026-12 12000 block</code>"
               "\nUNIT: department:KEY, project:KEY or member:KEY. CATEGORY: a category key "
               "or all. PERIOD: 2026-12, 2026-Q4 or 2026. POLICY: warn (default), block or "
               "escalate.")


def bar(percent: int) -> str:
    """▓▓▓▓▓▓▓░░░ for 72%: full cells for each tenth used, never more than the bar."""
    filled = max(0, min(BAR_CELLS, percent // 10))
    return "▓" * filled + "░" * (BAR_CELLS - filled)


def line_text(line: BudgetLine, currency: str, t: Translator) -> str:
    label = budget_label(line, t)
    text = (f"<b>{escape(label)}</b>\n{bar(line.percent)} {line.percent}%  "
            + t("{used} of {limit}", used=format_amount(line.used, currency),
                limit=format_amount(line.budget.amount, currency))
            + f" · {t(POLICIES[line.budget.policy])}")
    if line.over > 0:
        text += "\n" + t("🔴 over budget by {over}", over=format_amount(line.over, currency))
    return text


def budget_label(line: BudgetLine, t: Translator) -> str:
    """'Travel · East region · 2026-11', as /budget names a budget."""
    category = (line.category_name_zh if t.language == "zh_Hans" and line.category_name_zh
                else line.category_name) or t("All categories")
    return " · ".join([category, line.unit, line.budget.period.label])


def _value(field: str, value: str | None, currency: str, t: Translator) -> str:
    if value is None:
        return "—"
    if field == "amount":
        return format_amount(Decimal(value), currency)
    return t(POLICIES[OverrunPolicy(value)])


def change_text(change: BudgetChange, currency: str, timezone: str, t: Translator,
                quoted: Callable[[str], str] = escape) -> str:
    """'2026-11-26 10:00 · Erin Zhao: Travel · East region · 2026-12: amount X → Y'; names
    `quoted` for HTML (the page, which shows text, passes str)."""
    record = change.change
    what = t(CHANGED_FIELDS[record.field])
    old, new = (_value(record.field, v, currency, t) for v in (record.old, record.new))
    head = f"{local_datetime(record.at, timezone)} · {quoted(change.by or '—')}: "
    budget = quoted(budget_label(change.line, t))
    if record.old is None:
        return head + t("{budget}: {field} set to {new}", budget=budget, field=what, new=new)
    return head + t("{budget}: {field} {old} → {new}", budget=budget, field=what, old=old,
                    new=new)


def overview_screen(overview: BudgetOverview, t: Translator,
                    timezone: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """A page of the budgets, one block each, and on the first page their last changes."""
    head = (t("💰 <b>Budgets</b> · {period}", period=overview.period.label) if overview.period
            else t("💰 <b>Budgets running now</b>"))
    if not overview.lines:
        return head + "\n\n" + t("No budgets for your units in this period."), None
    blocks = [head + "\n" + t("used = approved + waiting for approval"),
              *(line_text(line, overview.currency, t) for line in overview.lines)]
    if overview.changes:
        blocks.append(t("<b>Last changes</b>") + "\n" + "\n".join(
            "• " + change_text(c, overview.currency, timezone, t) for c in overview.changes))
    pages, period = overview.pages, overview.period
    turn = pager(pages.number, pages.count, lambda number: BudgetPage(period, number))
    return fit_text("\n\n".join(blocks)), InlineKeyboardMarkup([turn]) if turn else None


async def show_budget(update: Update, context: CrmContext) -> None:
    """/budget, /budget 2026-Q4, or /budget set ..."""
    t, message = context.t, update.effective_message
    asked = show_or_set(context.args or [], setting_words=(4, 5))
    if asked is None:
        await message.reply_html(t(SET_USAGE))
        return
    try:
        if asked.settings is not None:
            await _set(update, context, asked.settings)
            return
        overview = await context.services.budgets.overview(update.effective_user.id,
                                                           asked.period)
    except DomainError as error:
        await message.reply_html(escape(refusal(t, error)))
        return
    text, keyboard = overview_screen(overview, t, context.visitor.settings.timezone)
    await message.reply_html(text, reply_markup=keyboard)


@private_press("budget")
async def show_page(update: Update, context: CrmContext) -> None:
    """Another page of the budgets; who may see which is decided again on every press."""
    press = BudgetPage.of(update)
    overview = await context.services.budgets.overview(
        update.effective_user.id, press.period.label if press.period else None, press.page)
    await update.callback_query.answer()
    await edit_or_send(update, context,
                       *overview_screen(overview, context.t, context.visitor.settings.timezone))


async def _set(update: Update, context: CrmContext, args: tuple[str, ...]) -> None:
    t, message = context.t, update.effective_message
    unit, category, period, amount = args[:4]
    line = await context.services.budgets.set(update.effective_user.id, unit, category, period,
                                              amount, args[4] if len(args) == 5 else None)
    currency = context.visitor.settings.currency
    await message.reply_html(t("✅ Budget saved.") + "\n\n" + line_text(line, currency, t))


def handlers() -> list:
    return [CommandHandler("budget", show_budget), ButtonHandler(BudgetPage, show_page)]
