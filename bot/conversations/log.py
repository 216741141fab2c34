"""/log: the day's work log: each plan item done, not done or moved, notes, unplanned work.

Every press is saved at once (one unit of work each) and carries the item or the day it is
for, so the log's buttons work after a restart too; only typed answers (a note, unplanned
work) need the conversation's state. Amending a past day's log is allowed and marked late.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import (
    AddUnplanned,
    AskMoveDay,
    BackToLog,
    FinishLog,
    MarkItem,
    MoveItem,
    OpenLog,
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
from bot.keyboards import LOG, ButtonHandler
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
            InlineKeyboardButton(f"✅ {number}",
                                 callback_data=MarkItem(item.id, ItemOutcome.DONE).encode()),
            InlineKeyboardButton(f"❌ {number}",
                                 callback_data=MarkItem(item.id, ItemOutcome.NOT_DONE).encode()),
            InlineKeyboardButton(f"➡️ {number}", callback_data=AskMoveDay(item.id).encode())])
    rows.append([
        InlineKeyboardButton(t("➕ Unplanned work"), callback_data=AddUnplanned(log.day).encode()),
        InlineKeyboardButton(t("✔️ Finish"), callback_data=FinishLog(log.day).encode())])
    return text, InlineKeyboardMarkup(rows)


def move_screen(t: Translator, item: PlanItem,
                days: list[date]) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [InlineKeyboardButton(day_label(t, d), callback_data=MoveItem(item.id, d).encode())
               for d in days]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(t("↩️ Back"), callback_data=BackToLog(item.day).encode())])
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


async def _press(update: Update, context: CrmContext,
                 act: Callable[[], Awaitable[int]]) -> int:
    """A button of the log: refused in a group; the data is untrusted, the service checks
    whose item or day it is, and a refusal keeps the log where it was."""
    if await pressed_outside_private_chat(update, context, "log"):
        return ConversationHandler.END
    enter(context, "log")
    try:
        return await act()
    except DomainError as error:
        await refuse(update, context, error)
        return LOGGING


async def open_from_reminder(update: Update, context: CrmContext) -> int:
    """📝 Write the log, on a reminder: that day's log."""
    day = OpenLog.of(update).day
    return await _press(update, context, lambda: _open(update, context, day))


async def mark(update: Update, context: CrmContext) -> int:
    """✅ done or ❌ not done; a note typed next is for this item."""
    press, t = MarkItem.of(update), context.t

    async def act() -> int:
        log = await context.services.work_logs.mark(update.effective_user.id, press.item_id,
                                                    press.outcome)
        context.chat_data[NOTE_FOR] = press.item_id
        await update.callback_query.answer(t("Done ✅") if press.outcome is ItemOutcome.DONE
                                           else t("Not done ❌"))
        return await _show(update, context, log)

    return await _press(update, context, act)


async def move(update: Update, context: CrmContext) -> int:
    """The day an item moves to."""
    press, t = MoveItem.of(update), context.t

    async def act() -> int:
        log = await context.services.work_logs.mark(update.effective_user.id, press.item_id,
                                                    ItemOutcome.MOVED, press.day)
        context.chat_data[NOTE_FOR] = press.item_id
        await update.callback_query.answer(t("Moved to {day}", day=day_label(t, press.day)))
        return await _show(update, context, log)

    return await _press(update, context, act)


async def ask_move_day(update: Update, context: CrmContext) -> int:
    """➡️: the next working days to move the item to."""
    item_id = AskMoveDay.of(update).item_id

    async def act() -> int:
        log, item = await _item(context, update.effective_user.id, item_id)
        await update.callback_query.answer()
        text, keyboard = move_screen(context.t, item,
                                     _move_days(context, max(item.day, log.today)))
        await edit_or_send(update, context, text, keyboard)
        return LOGGING

    return await _press(update, context, act)


async def back(update: Update, context: CrmContext) -> int:
    """↩️ Back from the move buttons to the day's log."""
    day = BackToLog.of(update).day

    async def act() -> int:
        log = await context.services.work_logs.open_day(update.effective_user.id, day)
        await update.callback_query.answer()
        return await _show(update, context, log)

    return await _press(update, context, act)


async def add_unplanned(update: Update, context: CrmContext) -> int:
    """➕ Unplanned work: typed next."""
    day = AddUnplanned.of(update).day

    async def act() -> int:
        await context.services.work_logs.open_day(update.effective_user.id, day)
        await update.callback_query.answer()
        context.chat_data[DAY] = day.isoformat()
        await context.bot.send_message(update.effective_chat.id, context.t(
            "What else did you do? Send it in a few words."))
        return UNPLANNED

    return await _press(update, context, act)


async def finish(update: Update, context: CrmContext) -> int:
    """✔️ Finish: the day's log with this week's rates."""
    day = FinishLog.of(update).day

    async def act() -> int:
        user_id = update.effective_user.id
        log = await context.services.work_logs.finish(user_id, day)
        await update.callback_query.answer()
        context.chat_data.pop(NOTE_FOR, None)
        await edit_or_send(update, context, await _summary(context, user_id, log), None)
        return ConversationHandler.END

    return await _press(update, context, act)


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
    presses = [ButtonHandler(OpenLog, open_from_reminder), ButtonHandler(MarkItem, mark),
               ButtonHandler(MoveItem, move), ButtonHandler(AskMoveDay, ask_move_day),
               ButtonHandler(BackToLog, back), ButtonHandler(AddUnplanned, add_unplanned),
               ButtonHandler(FinishLog, finish)]
    return ScheduleConversation(
        "log",
        entry_points=[
            CommandHandler("log", start, filters=filters.ChatType.PRIVATE),
            MessageHandler(menu_button(LOG), start),
            *presses,
        ],
        states={
            LOGGING: [MessageHandler(typed(), typed_note), *presses],
            UNPLANNED: [MessageHandler(typed(), typed_unplanned), *presses],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
    ).bind(application)
