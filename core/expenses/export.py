"""Claims as a spreadsheet: XLSX (a sheet per breakdown and the raw rows) or CSV.

Rows are streamed from the database into the zip of the workbook (xlsx.py beside it: each row
is compressed as soon as it is written) or the CSV writer, chunk by chunk, so memory
stays flat however many claims there are.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, BinaryIO
from zoneinfo import ZoneInfo

from core.domain.errors import DomainError
from core.domain.expenses.stats import ZERO, ClaimScope, ExportRow, Line, StatusFilter
from core.domain.money import CENT
from core.expenses.xlsx import XlsxWriter, clean
from core.ports import UnitOfWork

if TYPE_CHECKING:
    from core.expenses.stats import ExpenseStatsView

CHUNK = 2000
# A cell that starts with one of these is a formula to a spreadsheet program.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
AMOUNT_COLUMN = 6


class ExportFormat(enum.StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


@dataclass(frozen=True)
class ExportResult:
    filename: str
    rows: int
    total: Decimal  # the sum of the amount column


def _headers(zone: ZoneInfo) -> list[str]:
    return ["Number", "Date", "Member", "Department", "Category", "Unit",
            "Amount", "Currency", "Status", f"Submitted ({zone.key})",
            f"Decided ({zone.key})", f"Posted ({zone.key})", "Ledger ref", "Description",
            "Opportunity"]


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """The team's wall-clock time as text (the header names the zone): spreadsheets know
    no time zones, and text costs a fraction of a styled date cell per row."""
    return None if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _values(row: ExportRow, zone: ZoneInfo, categories: dict[str, str]) -> list:
    return [row.number, row.spent_on, row.member, row.department,
            categories.get(row.category, row.category) if row.category else None,
            row.unit, row.amount, row.currency, row.status,
            _local(row.submitted_at, zone), _local(row.decided_at, zone),
            _local(row.posted_at, zone), row.ledger_ref, row.description, row.opportunity]


async def write_export(uow: UnitOfWork, scope: ClaimScope, status: StatusFilter,
                       view: ExpenseStatsView | None, form: ExportFormat, target: BinaryIO,
                       zone: ZoneInfo, categories: dict[str, str], limit: int | None,
                       progress: Callable[[int, int], None] | None) -> ExportResult:
    """Stream the scope's claims into `target`; `progress(done, total)` after each chunk.

    Each chunk is written in a worker thread, so a large export does not stall the bot's
    other chats while the spreadsheet is being built.
    """
    expected = await uow.expense_stats.count(scope)
    if limit is not None and expected > limit:
        raise DomainError("export_too_large", rows=expected, limit=limit)
    sheet = _XlsxSheets(view, zone, target) if view is not None else _CsvRows(target, zone)
    done, summed, chunk = 0, ZERO, []
    async for row in uow.expense_stats.rows(scope, CHUNK):
        chunk.append(_values(row, zone, categories))
        summed += row.amount
        if len(chunk) == CHUNK:
            done += await asyncio.to_thread(sheet.extend, chunk)
            chunk = []
            if progress:
                progress(done, expected)
    done += await asyncio.to_thread(sheet.extend, chunk)
    await asyncio.to_thread(sheet.close)
    if progress:
        progress(done, expected)
    name = f"expenses-{scope.period.label}-{status.name.lower()}.{form.value}"
    return ExportResult(name, done, summed)


def _text(value: str) -> str:
    """Text as text: no formula, no control characters a spreadsheet rejects."""
    value = clean(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


class _CsvRows:
    """The raw rows as UTF-8 CSV with a byte-order mark (spreadsheets then read Chinese)."""

    def __init__(self, target: BinaryIO, zone: ZoneInfo) -> None:
        target.write(codecs.BOM_UTF8)
        self._stream = codecs.getwriter("utf-8")(target)
        self._writer = csv.writer(self._stream, lineterminator="\r\n")
        self._writer.writerow(_headers(zone))

    def extend(self, rows: list[list]) -> int:
        self._writer.writerows([_csv(v) for v in values] for values in rows)
        return len(rows)

    def close(self) -> None:
        self._stream.flush()


def _csv(value: object) -> object:
    if isinstance(value, Decimal):
        return f"{value.quantize(CENT)}"
    if isinstance(value, str):
        return _text(value)
    return "" if value is None else value


class _XlsxSheets:
    """The breakdowns first (small), then the raw rows, streamed. Every cell is written
    with its type known: text stays text (never a formula or a link), amounts are numbers
    shown with two decimals, dates are dates."""

    def __init__(self, view: ExpenseStatsView, zone: ZoneInfo, target: BinaryIO) -> None:
        self._book = XlsxWriter(target)
        self._breakdown("By category", view.by_category)
        self._breakdown("By unit", view.by_unit, kinds=True)
        self._breakdown("By member", view.by_member)
        self._breakdown("By opportunity", view.by_opportunity)
        self._breakdown("By stage", view.by_stage)
        self._claims = self._book.sheet("Claims", amounts=[AMOUNT_COLUMN], frozen_header=True)
        self._claims.append(_headers(zone))

    def _breakdown(self, title: str, lines: list[Line], *, kinds: bool = False) -> None:
        sheet = self._book.sheet(title, amounts=[2 + kinds])
        sheet.append(["Name", *(["Type"] * kinds), "Claims", "Amount"])
        sheet.extend([_text(line.label), *([line.kind] * kinds), line.count, line.amount]
                     for line in lines)

    def extend(self, rows: list[list]) -> int:
        self._claims.extend([_text(v) if isinstance(v, str) else v for v in values]
                            for values in rows)
        return len(rows)

    def close(self) -> None:
        self._book.close()
