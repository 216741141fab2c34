"""/export for managers and finance: the claims they may see as XLSX or CSV."""

from __future__ import annotations

import io
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CrmContext
from bot.handlers.gate import pressed_outside_private_chat
from bot.handlers.inbox import edit_or_send
from bot.handlers.stats import PERIOD_DATA, PERIOD_LABELS, STATUS_LABELS, picked_period
from bot.i18n import Translator
from bot.keyboards import answer_stale
from bot.texts import refusal
from core.domain.errors import DomainError
from core.domain.expenses.stats import StatusFilter
from core.domain.money import format_amount
from core.domain.period import Period
from core.expenses.export import ExportFormat

# Callback data (untrusted: the service re-checks who may see what on every press):
#   xpt:<period>:<status>:<x|c>   send the file     xpt:k:<status>:<x|c>   change the choice
_SEND = re.compile(rf"xpt:({PERIOD_DATA}):([capr]):([xc])")
_PICK = re.compile(r"xpt:k:([capr]):([xc])")
FORMATS = {"x": ExportFormat.XLSX, "c": ExportFormat.CSV}
CODES = {form: code for code, form in FORMATS.items()}
MAX_CHAT_ROWS = 100_000  # larger exports are for `crmbot export`


def export_picker(periods: dict[str, Period], status: StatusFilter, form: ExportFormat,
                  t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    """Which claims and which format; a period button sends the file."""
    code = CODES[form]
    text = t("📥 <b>Export claims</b> — {status}, {format}. Pick the period:",
             status=t(STATUS_LABELS[status]), format=form.value.upper())
    periods_row = [InlineKeyboardButton(t(PERIOD_LABELS[key]),
                                        callback_data=f"xpt:{p.label}:{status.value}:{code}")
                   for key, p in periods.items()]
    statuses = [InlineKeyboardButton(("✓ " if s is status else "") + t(STATUS_LABELS[s]),
                                     callback_data=f"xpt:k:{s.value}:{code}")
                for s in StatusFilter]
    formats = [InlineKeyboardButton(("✓ " if f is form else "") + f.value.upper(),
                                    callback_data=f"xpt:k:{status.value}:{c}")
               for c, f in FORMATS.items()]
    return text, InlineKeyboardMarkup([periods_row[:2], periods_row[2:], statuses[:2],
                                       statuses[2:], formats])


async def _send(update: Update, context: CrmContext, period: Period, status: StatusFilter,
                form: ExportFormat) -> None:
    t = context.t
    target = io.BytesIO()
    result = await context.services.expense_stats.export(
        update.effective_user.id, period, status, form, target, language=t.language,
        limit=MAX_CHAT_ROWS)
    if update.callback_query:
        await update.callback_query.answer()
    caption = t.plural("{period} · {status}: {n} claim, total {total}",
                       "{period} · {status}: {n} claims, total {total}", result.rows,
                       period=period.label, status=t(STATUS_LABELS[status]),
                       total=format_amount(result.total))
    await context.bot.send_document(update.effective_chat.id,
                                    InputFile(target.getvalue(), filename=result.filename),
                                    caption=caption)


async def show_export(update: Update, context: CrmContext) -> None:
    """/export shows the choices; /export 2026-11 [csv] sends the file at once."""
    t, message, args = context.t, update.effective_message, list(context.args or [])
    form = ExportFormat.CSV if "csv" in (a.lower() for a in args) else ExportFormat.XLSX
    words = [a for a in args if a.lower() not in ("csv", "xlsx")]
    try:
        if words:
            period = picked_period(" ".join(words))
            if period is None:
                await message.reply_text(t("Please give a period like 2026-11, 2026-Q4 or "
                                           "2026, and csv for a CSV file."))
                return
            await _send(update, context, period, StatusFilter.COMMITTED, form)
            return
        periods = await context.services.expense_stats.periods(update.effective_user.id)
        text, keyboard = export_picker(periods, StatusFilter.COMMITTED, form, t)
        await message.reply_html(text, reply_markup=keyboard)
    except DomainError as error:
        await message.reply_text(refusal(t, error))


async def on_press(update: Update, context: CrmContext) -> None:
    """Change the choice or send the file; forged data is refused, rights checked again."""
    query, t, data = update.callback_query, context.t, update.callback_query.data or ""
    if await pressed_outside_private_chat(update, context, "export"):
        return
    try:
        if match := _PICK.fullmatch(data):
            periods = await context.services.expense_stats.periods(update.effective_user.id)
            await query.answer()
            await edit_or_send(update, context, *export_picker(
                periods, StatusFilter(match[1]), FORMATS[match[2]], t))
            return
        match = _SEND.fullmatch(data)
        period = picked_period(match[1]) if match else None
        if period is None:
            await answer_stale(query, t)
            return
        await _send(update, context, period, StatusFilter(match[2]), FORMATS[match[3]])
    except DomainError as error:
        await query.answer(refusal(t, error), show_alert=True)


def handlers() -> list:
    return [
        CommandHandler("export", show_export),
        CallbackQueryHandler(on_press, pattern=r"^xpt:"),
    ]
