"""/team for managers: everyone below them today; a person's calendar; rating a day's log."""

from __future__ import annotations

from datetime import date
from html import escape

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.callbacks import AskRating, CalendarDay, CalendarMonth, RateLog, TeamList, TeamPage
from bot.context import CrmContext
from bot.dashboard import View, with_dashboard
from bot.fitting import fit_lines, shorten
from bot.handlers.calendar import day_keyboard, day_text
from bot.handlers.gate import private_press
from bot.handlers.inbox import edit_or_send
from bot.i18n import Translator, all_translations
from bot.keyboards import TEAM, AnswersQuestion, ButtonHandler, pager
from bot.notices import day_label
from bot.texts import refusal
from core.domain.errors import DomainError
from core.domain.paging import Pages
from core.domain.schedule.calendar import MAX_RATING, MIN_RATING, Month
from core.domain.schedule.execution import percent
from core.schedule.calendar import TeamToday

# Presses are untrusted: the service re-checks the presser's subtree on every press.
PAGE = 40  # people a page: their buttons stay well below Telegram's 100
NAME_BUTTON = 40  # characters of a name on its button
PENDING_COMMENT = "team_rating_comment"
COMMENT_MARK = "💬"


def _yes_no(value: bool) -> str:
    return "✅" if value else "❌"


def team_screen(today: TeamToday, t: Translator,
                page: int = 0) -> tuple[str, InlineKeyboardMarkup | None]:
    """One line per person: plan / check-ins / log marks, the week's execution rate; a page
    of PAGE people at a time, flagged ones first as the service orders them."""
    lines = [t("👥 <b>Your team today</b> — {day}", day=escape(day_label(t, today.today))),
             t("plan / check-ins / log · this week's execution")]
    if not today.rows:
        lines.append(t("Nobody in your team yet."))
        return "\n".join(lines), None
    pages = Pages.of(len(today.rows), PAGE, page)
    shown = pages.cut(today.rows)
    month = Month.of(today.today)
    rows = []
    for row in shown:
        flag = " ⚠" * bool(row.flagged)
        lines.append(f"{_yes_no(row.planned)} {row.check_ins}{flag} {_yes_no(row.logged)} · "
                     f"{percent(row.week.rate)}  {escape(row.member.name)}")
        rows.append([InlineKeyboardButton(
            shorten(row.member.name, NAME_BUTTON) + flag,
            callback_data=CalendarMonth(row.member.id, month).encode())])
    if turn := pager(pages.number, pages.count, TeamPage):
        rows.append(turn)
    footer = []
    if any(r.flagged for r in shown):
        footer.append(t("⚠ a check-in today carries a trust flag: open the day to see why."))
    footer.append(t("Tap a person to see their calendar."))
    return fit_lines(lines, footer=footer), InlineKeyboardMarkup(rows)


async def show_team(update: Update, context: CrmContext) -> None:
    """Today's status of everyone below the manager."""
    try:
        today = await context.services.team.today(update.effective_user.id)
    except DomainError as error:
        await update.effective_message.reply_text(refusal(context.t, error))
        return
    text, keyboard = team_screen(today, context.t)
    await update.effective_message.reply_html(
        text, reply_markup=with_dashboard(update, context, View.TODAY, keyboard))


def rating_keyboard(member_id: int, day: date, t: Translator) -> InlineKeyboardMarkup:
    scores = [InlineKeyboardButton(f"{n} ★", callback_data=RateLog(member_id, day, n).encode())
              for n in range(MIN_RATING, MAX_RATING + 1)]
    back = InlineKeyboardButton(t("« Back"), callback_data=CalendarDay(member_id, day).encode())
    return InlineKeyboardMarkup([scores, [back]])


async def _show_page(update: Update, context: CrmContext, page: int) -> None:
    today = await context.services.team.today(update.effective_user.id)
    await update.callback_query.answer()
    text, keyboard = team_screen(today, context.t, page)
    await edit_or_send(update, context, text,
                       with_dashboard(update, context, View.TODAY, keyboard))


@private_press("team")
async def back_to_list(update: Update, context: CrmContext) -> None:
    """« Team, under someone's calendar: the list's first page."""
    await _show_page(update, context, 0)


@private_press("team")
async def show_page(update: Update, context: CrmContext) -> None:
    """Another page of the team's list."""
    await _show_page(update, context, TeamPage.of(update).page)


@private_press("team")
async def ask_rating(update: Update, context: CrmContext) -> None:
    """The day with the rating buttons below it, when it has a log to rate."""
    press, query, t = AskRating.of(update), update.callback_query, context.t
    view = await context.services.calendar.day(update.effective_user.id, press.day,
                                               member_id=press.member_id)
    if not view.can_rate:
        await query.answer(t("There is no work log to rate on this day."), show_alert=True)
        return
    await query.answer()
    await edit_or_send(update, context, day_text(view, t, ("", t(
        "How was this day's work? Rate the log from 1 to 5."))),
        rating_keyboard(view.member.id, press.day, t))


@private_press("team")
async def rate(update: Update, context: CrmContext) -> None:
    """Store the rating (the rep hears of it), then offer to add a comment."""
    press, query, t = RateLog.of(update), update.callback_query, context.t
    user_id, member_id, day = update.effective_user.id, press.member_id, press.day
    rated = await context.services.team.rate(user_id, member_id, day, press.rating)
    await query.answer(t("Rated {rating} ★", rating=rated.rating))
    view = await context.services.calendar.day(user_id, day, member_id=member_id)
    await edit_or_send(update, context, day_text(view, t), day_keyboard(view, t))
    question = await context.bot.send_message(
        update.effective_chat.id,
        COMMENT_MARK + " " + t("A comment for {name} on {day}? Reply to this message; "
                               "or leave it, the rating is saved.",
                               name=rated.member.name, day=day_label(t, day)),
        reply_markup=ForceReply(input_field_placeholder=t("Comment (optional)")))
    context.user_data[PENDING_COMMENT] = (question.message_id, member_id, day.isoformat())


async def typed_comment(update: Update, context: CrmContext) -> None:
    """The comment to the rating just given; the rep's notice is updated to show it."""
    t, message = context.t, update.effective_message
    pending = context.user_data.get(PENDING_COMMENT)
    if not pending or pending[0] != message.reply_to_message.message_id:
        await message.reply_text(t("That question has expired. Open the day from /team and "
                                   "rate it again to add a comment."))
        return
    _, member_id, day = pending
    try:
        rated = await context.services.team.comment(update.effective_user.id, member_id,
                                                    date.fromisoformat(day), message.text)
    except DomainError as error:
        await message.reply_text(refusal(t, error))
        return
    context.user_data.pop(PENDING_COMMENT, None)
    await message.reply_text(t("Saved: {stars} with your comment. {name} will see it.",
                               stars="★" * rated.rating + "☆" * (5 - rated.rating),
                               name=rated.member.name))


def handlers() -> list:
    return [
        CommandHandler("team", show_team),
        MessageHandler(filters.ChatType.PRIVATE & filters.Text(all_translations(TEAM.label)),
                       show_team),
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
                       & AnswersQuestion(COMMENT_MARK), typed_comment),
        ButtonHandler(TeamList, back_to_list),
        ButtonHandler(TeamPage, show_page),
        ButtonHandler(AskRating, ask_rating),
        ButtonHandler(RateLog, rate),
    ]
