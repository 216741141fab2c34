"""/export for managers and finance: the claims they may see as XLSX or CSV."""

from __future__ import annotations

import io

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import CommandHandler

from bot.callbacks import ExportChoice, ExportFile
from bot.commands import picked_period
from bot.context import CrmContext
from bot.handlers.gate import private_press
from bot.handlers.inbox import edit_or_send
from bot.handlers.stats import PERIOD_LABELS, STATUS_LABELS
from bot.i18n import Translator
from bot.keyboards import ButtonHandler
from bot.texts import refusal
from core.domain.errors import DomainError
from core.domain.expenses.stats import StatusFilter
from core.domain.money import format_amount
from core.domain.period import Period
from core.expenses.export import ExportFormat

MAX_CHAT_ROWS = 100_000  # larger exports are for `crmbot export`


def export_picker(periods: dict[str, Period], status: StatusFilter, form: ExportFormat,
                  t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    """Which claims and which format; a period button sends the file."""
    text = t("📥 <b>Export claims</b> — {status}, {format}. Pick the period:",
             status=t(STATUS_LABELS[status]), format=form.value.upper())
    periods_row = [InlineKeyboardButton(t(PERIOD_LABELS[key]),
                                        callback_data=ExportFile(p, status, form).encode())
                   for key, p in periods.items()]
    statuses = [InlineKeyboardButton(("✓ " if s is status else "") + t(STATUS_LABELS[s]),
                                     callback_data=ExportChoice(s, form).encode())
                for s in StatusFilter]
    formats = [InlineKeyboardButton(("✓ " if f is form else "") + f.value.upper(),
                                    callback_data=ExportChoice(status, f).encode())
               for f in (ExportFormat.XLSX, ExportFormat.CSV)]
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


@private_press("export")
async def change_choice(update: Update, context: CrmContext) -> None:
    """Another status or format: the picker again."""
    press = ExportChoice.of(update)
    periods = await context.services.expense_stats.periods(update.effective_user.id)
    await update.callback_query.answer()
    await edit_or_send(update, context, *export_picker(periods, press.status, press.form,
                                                       context.t))


@private_press("export")
async def send_file(update: Update, context: CrmContext) -> None:
    """The file of the pressed period; rights are checked again."""
    press = ExportFile.of(update)
    await _send(update, context, press.period, press.status, press.form)


def handlers() -> list:
    return [
        CommandHandler("export", show_export),
        ButtonHandler(ExportChoice, change_choice),
        ButtonHandler(ExportFile, send_file),
    ]
