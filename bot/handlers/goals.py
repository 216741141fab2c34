"""/goals: my targets and my team's with progress bars and the pace still needed;
`/goals set UNIT METRIC PERIOD TARGET` for managers. Also how a reached goal reads in the
team group, and how a follow-up reminder reads (with the button to the deal's card)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from bot.callbacks import GoalsPage, OpenOpportunity
from bot.commands import show_or_set
from bot.context import CrmContext
from bot.fitting import fit_text
from bot.handlers.gate import private_press
from bot.handlers.inbox import edit_or_send
from bot.i18n import N_, Translator
from bot.keyboards import ButtonHandler, pager
from bot.notices import Audience, Rendered, day_label, renders, summarizes
from bot.scheduler import wake_dispatcher
from bot.texts import refusal
from core.domain.errors import DomainError
from core.domain.inbox.notifications import Notification, NotificationKind
from core.domain.money import format_amount
from core.domain.opportunities.goals import Metric, Progress, bar, per_day
from core.domain.paging import Pages
from core.domain.period import Period
from core.opportunities.goals import GoalLine, GoalsView

METRICS = {Metric.VISITS: N_("Visits"), Metric.NEW: N_("New opportunities"),
           Metric.WON: N_("Won amount"), Metric.RATIO: N_("Expenses to won")}
PAGE = 12  # goals a page of /goals: an admin sees every department's
SET_USAGE = N_("To set a goal: <code>/goals set UNIT METRIC PERIOD TARGET</code>\n"
               "for example <code>/goals set member:carol visits 2026-12 20</code> or "
               "<code>/goals set department:east won 2026-Q4 500000</code>\n"
               "UNIT: member:KEY or department:KEY. METRIC: visits, new (opportunities), won "
               "(amount) or ratio (expenses as a percentage of the won amount, a ceiling). "
               "PERIOD: 2026-12, 2026-Q4 or 2026.")


def goal_figure(metric: Metric, value: Decimal | None, currency: str) -> str:
    if value is None:
        return "—"
    if metric.money:
        return format_amount(value, currency)
    if metric.ceiling:
        return f"{value.normalize():f}%"
    return f"{int(value)}"


def pace_text(line: GoalLine, currency: str, t: Translator) -> str:
    """What the rest of the period needs, in words a rep acts on."""
    progress, metric = line.progress, line.progress.goal.metric
    if metric.ceiling:
        return _ceiling_text(progress, line.days_left, currency, t)
    if progress.reached:
        return t("✅ Reached")
    if line.days_left == 0:
        return t("The period is over.") if progress.over else t("No working days left.")
    remaining = progress.remaining
    share = per_day(remaining, line.days_left, whole=not metric.money)
    if metric.money:
        return t("{amount} more, about {pace} per working day",
                 amount=format_amount(remaining, currency), pace=format_amount(share, currency))
    if metric == Metric.VISITS:
        return t.plural("{n} more visit, about {pace} per working day",
                        "{n} more visits, about {pace} per working day", int(remaining),
                        pace=int(share))
    return t.plural("{n} more opportunity, about {pace} per working day",
                    "{n} more opportunities, about {pace} per working day", int(remaining),
                    pace=int(share))


def _ceiling_text(progress: Progress, days_left: int, currency: str, t: Translator) -> str:
    target = f"{progress.goal.target.normalize():f}%"
    if progress.value is None:
        if progress.expenses == 0:
            return t("Nothing spent or won yet.")
        return t("{spent} spent, nothing won yet: win {needed} to stay within {target}.",
                 spent=format_amount(progress.expenses, currency),
                 needed=format_amount(progress.won_needed(), currency), target=target)
    if progress.reached:
        return t("✅ Kept within {target}", target=target)
    if progress.value <= progress.goal.target:
        return t("Within {target}: up to {room} more expenses at today's won amount.",
                 target=target, room=format_amount(progress.headroom(), currency))
    return t("Over {target}: win {needed} more, or spend less.", target=target,
             needed=format_amount(progress.won_needed(), currency))


def line_text(line: GoalLine, currency: str, t: Translator, *, with_unit: bool) -> str:
    progress = line.progress
    goal = progress.goal
    label = " · ".join([*([line.unit_name] if with_unit else []), t(METRICS[goal.metric]),
                        goal.period.label])
    value = goal_figure(goal.metric, progress.value, currency)
    target = goal_figure(goal.metric, goal.target, currency)
    figures = (t("{value} (at most {target})", value=value, target=target)
               if goal.metric.ceiling else f"{value} / {target}")
    return (f"<b>{escape(label)}</b>\n{bar(progress.percent)} {progress.percent}%  {figures}\n"
            + pace_text(line, currency, t))


def view_screen(view: GoalsView, t: Translator, period: Period | None,
                page: int = 0) -> tuple[str, InlineKeyboardMarkup | None]:
    """A page of the goals, one block each: mine, then the team's; a section's heading opens
    each page it is on. An admin's team goals run to hundreds."""
    mine = [("mine", line_text(line, view.currency, t, with_unit=False)) for line in view.mine]
    team = [("team", line_text(line, view.currency, t, with_unit=True)) for line in view.team]
    pages = Pages.of(len(mine) + len(team), PAGE, page)
    shown = pages.cut([*mine, *team])
    parts = []
    if pages.first or any(section == "mine" for section, _ in shown):
        parts.append(t("🎯 <b>My goals</b>"))
        if not view.mine:
            parts.append(t("No goals for you in this period."))
    parts += [text for section, text in shown if section == "mine"]
    if view.is_manager and (pages.first or any(section == "team" for section, _ in shown)):
        parts.append(t("👥 <b>Team goals</b>, furthest along first"))
        if not view.team:
            parts.append(t("No goals for your team in this period. Set one with /goals set."))
    parts += [text for section, text in shown if section == "team"]
    turn = pager(pages.number, pages.count, lambda number: GoalsPage(period, number))
    return fit_text("\n\n".join(parts)), InlineKeyboardMarkup([turn]) if turn else None


async def show_goals(update: Update, context: CrmContext) -> None:
    """/goals, /goals 2026-Q4, or /goals set ..."""
    t, message = context.t, update.effective_message
    asked = show_or_set(context.args or [], setting_words=(4,))
    if asked is None:
        await message.reply_html(t(SET_USAGE))
        return
    try:
        if asked.settings is not None:
            await _set(update, context, asked.settings)
            return
        view = await context.services.goals.view(update.effective_user.id, asked.period)
    except DomainError as error:
        await message.reply_html(escape(refusal(t, error)))
        return
    period = Period.parse(asked.period) if asked.period else None
    text, keyboard = view_screen(view, t, period)
    await message.reply_html(text, reply_markup=keyboard)
    if view.congratulated:
        wake_dispatcher(context.application)


@private_press("goals")
async def show_page(update: Update, context: CrmContext) -> None:
    """Another page of the goals; whose goals may be seen is decided again on every press."""
    press = GoalsPage.of(update)
    view = await context.services.goals.view(
        update.effective_user.id, press.period.label if press.period else None)
    await update.callback_query.answer()
    await edit_or_send(update, context, *view_screen(view, context.t, press.period, press.page))
    if view.congratulated:
        wake_dispatcher(context.application)


async def _set(update: Update, context: CrmContext, args: tuple[str, ...]) -> None:
    t, message = context.t, update.effective_message
    result = await context.services.goals.set(update.effective_user.id, *args)
    goal = result.goal
    text = t("🎯 Goal saved: <b>{unit}</b> · {metric} · {period}: {target}",
             unit=escape(result.unit_name), metric=t(METRICS[goal.metric]),
             period=goal.period.label,
             target=goal_figure(goal.metric, goal.target, result.currency))
    if goal.metric.ceiling:
        text += "\n" + t("A ceiling: approved expenses should stay at or below this share of "
                         "the won amount.")
    await message.reply_html(text + "\n" + t("See the progress with /goals."))


def handlers() -> list:
    return [CommandHandler("goals", show_goals), ButtonHandler(GoalsPage, show_page)]


# In the team group: a goal reached ---------------------------------------------------------

@renders(NotificationKind.GOAL_REACHED)
def _goal_reached(notification: Notification, t: Translator, audience: Audience) -> Rendered:
    payload = notification.payload
    metric = Metric(payload["metric"])
    target = goal_figure(metric, Decimal(payload["target"]), payload["currency"])
    value = goal_figure(metric, None if payload["value"] is None else Decimal(payload["value"]),
                    payload["currency"])
    if metric.ceiling:
        return t("🎉 <b>{unit}</b> kept expenses at {value} of the won amount in {period}, "
                 "within the goal of {target}. Well done!", unit=escape(payload["unit"]),
                 value=value, period=payload["period"], target=target), None
    return t("🎉 <b>{unit}</b> reached the goal for {metric} in {period}: {value} of "
             "{target}. Congratulations!", unit=escape(payload["unit"]),
             metric=t(METRICS[metric]), period=payload["period"], value=value,
             target=target), None


@summarizes(NotificationKind.GOAL_REACHED)
def _goal_reached_summary(notification: Notification, t: Translator) -> str:
    payload = notification.payload
    return t("{unit} reached a goal", unit=payload["unit"])


# To the owner: a deal to follow up ---------------------------------------------------------

@renders(NotificationKind.FOLLOW_UP)
def _follow_up(notification: Notification, t: Translator, audience: Audience) -> Rendered:
    payload = notification.payload
    head = t("<b>{title}</b> · {customer}", title=escape(payload["title"]),
             customer=escape(payload["customer"]))
    day = day_label(t, date.fromisoformat(payload["expected_close"]))
    amount = format_amount(Decimal(payload["amount"]), payload["currency"])
    if payload["reason"] == "overdue":
        body = t("⚠️ Its expected close date, {day}, has passed ({amount}). Move it on, or "
                 "change the date.", day=day, amount=amount)
    elif payload["reason"] == "closing":
        body = t("⏰ It is expected to close on {day} ({amount}). Time to follow up.",
                 day=day, amount=amount)
    else:
        body = t.plural("💤 Nothing has happened on it for {n} day. Plan a visit, add a note "
                        "or move it on.",
                        "💤 Nothing has happened on it for {n} days. Plan a visit, add a "
                        "note or move it on.", int(payload["idle_days"]))
    opened = OpenOpportunity(int(payload["opportunity_id"]))
    button = InlineKeyboardButton(t("Open the opportunity"), callback_data=opened.encode())
    return head + "\n" + body, InlineKeyboardMarkup([[button]])


@summarizes(NotificationKind.FOLLOW_UP)
def _follow_up_summary(notification: Notification, t: Translator) -> str:
    return t("Follow up: {title}", title=notification.payload["title"])
