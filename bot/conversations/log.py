"""/log: the day's work log: each plan item done, not done or moved, notes, unplanned work.

Every press is saved at once (one unit of work each) and carries the item or the day it is
for, so the log's buttons work after a restart too; only typed answers (a note, unplanned
work) need the conversation's state. Amending a past day's log is allowed and marked late.
"""

from __future__ import annotations

import re
from datetime import date
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import CrmContext
from bot.conversations.flow import (
    ScheduleConversation,
    day_argument,
    enter,
    menu_button,
    refuse,
    typed,
)
from bot.fitting import fit_lines
from bot.handlers.gate import pressed_outside_private_chat
from bot.handlers.inbox import edit_or_send
from bot.i18n import Translator
from bot.keyboards import LOG, answer_stale, date_from_data
from bot.notices import day_label
from core.domain.days import Toward
from core.domain.errors import DomainError
from core.domain.schedule.execution import Execution, ItemOutcome, percent
from core.domain.schedule.plans import PlanItem
from core.schedule.plans import DayLog

# States
LOGGING, UNPLANNED = range(2)

NOTE_FOR = "log_note_for"  # chat_data: the item a typed note is for
DAY = "log_day"
MOVE_CHOICES = 4
MARKS = {ItemOutcome.OPEN: "⬜", ItemOutcome.DONE: "✅", ItemOutcome.NOT_DONE: "❌",
         ItemOutcome.MOVED: "➡️"}
_DAY = r"(\d{4})(\d{2})(\d{2})"
_MARK = re.compile(r"log:o:(\d{1,12}):([dn])")
_MOVE = re.compile(rf"log:m:(\d{{1,12}}):{_DAY}")
_ASK_MOVE = re.compile(r"log:mv:(\d{1,12})")
_ON_DAY = re.compile(rf"log:([abf]):{_DAY}")
_OPEN = re.compile(r"log:open:(\d{4})-(\d{2})-(\d{2})")


def _day(match: re.Match, first: int) -> date | None:
    return date_from_data(match[first], match[first + 1], match[first + 2])


def rates(t: Translator, execution: Execution) -> str:
    if not execution.planned:
        return t("Nothing was planned for this day.")
    return t("Done {done}/{planned} ({rate}) · verified by check-in {verified}/{planned} "
             "({verified_rate})", done=execution.done, planned=execution.planned,
             rate=percent(execution.rate), verified=execution.verified,
             verified_rate=percent(execution.verified_rate))


def item_line(t: Translator, number: int, item: PlanItem, log: DayLog) -> str:
    parts = [f"{number}.", MARKS[item.outcome]]
    if item.at_time:
        parts.append(f"<b>{item.at_time}</b>")
    parts.append(escape(item.text))
    if item.customer_name:
        parts.append(t("· 🏢 {customer}", customer=escape(item.customer_name)))
    if item.outcome is ItemOutcome.MOVED and item.moved_to:
        parts.append(t("→ {day}", day=day_label(t, item.moved_to)))
    if log.verified(item):
        parts.append(t("· 📍 verified"))
    if item.logged_late:
        parts.append(t("· late"))
    line = " ".join(parts)
    if item.note:
        line += "\n    💬 " + escape(item.note)
    return line


def log_text(t: Translator, log: DayLog, *, final: bool = False,
             footer: tuple[str, ...] = ()) -> str:
    """The day's log as HTML, with the footer's lines below, within a message's length."""
    head = (t("✅ <b>Work log for {day} saved</b>", day=day_label(t, log.day)) if final
            else t("📝 <b>Work log for {day}</b>", day=day_label(t, log.day)))
    lines = [head]
    if log.late:
        lines.append(t("<i>Amended after the day was over.</i>"))
    lines.append("")
    if log.items:
        lines += [item_line(t, n, item, log) for n, item in enumerate(log.items, start=1)]
    else:
        lines.append(t("No plan for this day."))
    if log.entries:
        lines += ["", t("<b>Unplanned work</b>")]
        lines += ["• " + escape(e.text) + (t(" · late") if e.late else "") for e in log.entries]
    if log.visits:
        lines += ["", t("📍 Check-ins this day: {count}", count=len(log.visits))]
    return fit_lines(lines, footer=["", "<b>" + rates(t, log.execution) + "</b>", *footer])


def log_screen(t: Translator, log: DayLog) -> tuple[str, InlineKeyboardMarkup]:
    """The day's log with a row of buttons for each item that can still be marked."""
    footer = ()
    if any(i.outcome is not ItemOutcome.MOVED for i in log.items):
        footer = ("", t("Tap ✅ done, ❌ not done or ➡️ moved for each item. "
                        "To add a note, send it right after marking the item."))
    text = log_text(t, log, footer=footer)
    rows = []
    for number, item in enumerate(log.items, start=1):
        if item.outcome is ItemOutcome.MOVED:
            continue
        rows.append([
            InlineKeyboardButton(f"✅ {number}", callback_data=f"log:o:{item.id}:d"),
            InlineKeyboardButton(f"❌ {number}", callback_data=f"log:o:{item.id}:n"),
            InlineKeyboardButton(f"➡️ {number}", callback_data=f"log:mv:{item.id}")])
    rows.append([
        InlineKeyboardButton(t("➕ Unplanned work"), callback_data=f"log:a:{log.day:%Y%m%d}"),
        InlineKeyboardButton(t("✔️ Finish"), callback_data=f"log:f:{log.day:%Y%m%d}")])
    return text, InlineKeyboardMarkup(rows)


def move_screen(t: Translator, item: PlanItem,
                days: list[date]) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [InlineKeyboardButton(day_label(t, d), callback_data=f"log:m:{item.id}:{d:%Y%m%d}")
               for d in days]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(t("↩️ Back"), callback_data=f"log:b:{item.day:%Y%m%d}")])
    return t("Move “{item}” to which day?", item=escape(item.text)), InlineKeyboardMarkup(rows)


async def _show(update: Update, context: CrmContext, log: DayLog) -> int:
    context.chat_data[DAY] = log.day.isoformat()
    text, keyboard = log_screen(context.t, log)
    await edit_or_send(update, context, text, keyboard)
    return LOGGING


async def _open(update: Update, context: CrmContext, day: date | None) -> int:
    try:
        log = await context.services.work_logs.open_day(update.effective_user.id, day)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    if update.callback_query:
        await update.callback_query.answer()
    enter(context, "log")
    context.chat_data.pop(NOTE_FOR, None)
    return await _show(update, context, log)


async def start(update: Update, context: CrmContext) -> int:
    """/log [date] or the 📝 Log button: today's log, or an earlier day's (then marked late)."""
    try:
        day = await day_argument(context, Toward.PAST)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    return await _open(update, context, day)


async def on_press(update: Update, context: CrmContext) -> int:
    """Mark, move, add or finish; the data is untrusted, the service checks whose item it is."""
    query, t, logs = update.callback_query, context.t, context.services.work_logs
    if await pressed_outside_private_chat(update, context, "log"):
        return ConversationHandler.END
    data, user_id = query.data or "", update.effective_user.id
    enter(context, "log")
    try:
        if (match := _OPEN.fullmatch(data)) and (day := _day(match, 1)):
            return await _open(update, context, day)
        if match := _MARK.fullmatch(data):
            outcome = ItemOutcome.DONE if match[2] == "d" else ItemOutcome.NOT_DONE
            log = await logs.mark(user_id, int(match[1]), outcome)
            context.chat_data[NOTE_FOR] = int(match[1])
            await query.answer(t("Done ✅") if outcome is ItemOutcome.DONE else t("Not done ❌"))
            return await _show(update, context, log)
        if (match := _MOVE.fullmatch(data)) and (target := _day(match, 2)):
            log = await logs.mark(user_id, int(match[1]), ItemOutcome.MOVED, target)
            context.chat_data[NOTE_FOR] = int(match[1])
            await query.answer(t("Moved to {day}", day=day_label(t, target)))
            return await _show(update, context, log)
        if match := _ASK_MOVE.fullmatch(data):
            log, item = await _item(context, user_id, int(match[1]))
            await query.answer()
            text, keyboard = move_screen(t, item, _move_days(context, max(item.day, log.today)))
            await edit_or_send(update, context, text, keyboard)
            return LOGGING
        if (match := _ON_DAY.fullmatch(data)) and (day := _day(match, 2)):
            kind = match[1]
            log = await (logs.finish(user_id, day) if kind == "f" else logs.open_day(user_id, day))
            await query.answer()
            if kind == "b":
                return await _show(update, context, log)
            if kind == "a":
                context.chat_data[DAY] = day.isoformat()
                await context.bot.send_message(update.effective_chat.id, t(
                    "What else did you do? Send it in a few words."))
                return UNPLANNED
            context.chat_data.pop(NOTE_FOR, None)
            await edit_or_send(update, context, await _summary(context, user_id, log), None)
            return ConversationHandler.END
    except DomainError as error:
        await refuse(update, context, error)
        return LOGGING
    await answer_stale(query, t)
    return LOGGING


async def _item(context: CrmContext, user_id: int, item_id: int) -> tuple[DayLog, PlanItem]:
    """The speaker's own item and its day's log (NotAllowed for anyone else's)."""
    log = await context.services.work_logs.item_day(user_id, item_id)
    return log, next(i for i in log.items if i.id == item_id)


def _move_days(context: CrmContext, after: date) -> list[date]:
    calendar, days = context.services.work_logs.calendar, []
    day = after
    while len(days) < MOVE_CHOICES:
        day = calendar.next_working_day(day)
        days.append(day)
    return days


async def _summary(context: CrmContext, user_id: int, log: DayLog) -> str:
    t = context.t
    week = await context.services.work_logs.my_week(user_id, log.day)
    return log_text(t, log, final=True,
                    footer=(t("This week: {rates}", rates=rates(t, week)),))


async def typed_note(update: Update, context: CrmContext) -> int:
    """Text after marking an item: its note."""
    item_id = context.chat_data.get(NOTE_FOR)
    if item_id is None:
        await update.effective_message.reply_text(context.t(
            "Mark an item first, then send its note; or tap ➕ Unplanned work."))
        return LOGGING
    try:
        log = await context.services.work_logs.note(update.effective_user.id, item_id,
                                                    update.effective_message.text)
    except DomainError as error:
        await refuse(update, context, error)
        return LOGGING
    context.chat_data.pop(NOTE_FOR, None)
    return await _show(update, context, log)


async def typed_unplanned(update: Update, context: CrmContext) -> int:
    """Work that was not in the plan."""
    day = date.fromisoformat(context.chat_data.get(DAY) or (
        await context.services.work_logs.today()).isoformat())
    try:
        log = await context.services.work_logs.add_unplanned(
            update.effective_user.id, day, update.effective_message.text)
    except DomainError as error:
        await refuse(update, context, error)
        return UNPLANNED
    return await _show(update, context, log)


async def cancel(update: Update, context: CrmContext) -> int:
    """/cancel: stop; what was marked is saved already."""
    context.chat_data.pop(NOTE_FOR, None)
    await update.effective_message.reply_text(context.t(
        "Closed. What you marked is saved; send /log to continue."))
    return ConversationHandler.END


def conversation(application: Application) -> ConversationHandler:
    press = CallbackQueryHandler(on_press, pattern=r"^log:")
    return ScheduleConversation(
        "log",
        entry_points=[
            CommandHandler("log", start, filters=filters.ChatType.PRIVATE),
            MessageHandler(menu_button(LOG), start),
            press,
        ],
        states={
            LOGGING: [MessageHandler(typed(), typed_note), press],
            UNPLANNED: [MessageHandler(typed(), typed_unplanned), press],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
    ).bind(application)
