"""Claims as a spreadsheet: XLSX (a sheet per breakdown and the raw rows) or CSV.

Rows are streamed from the database into openpyxl's write-only workbook (or the CSV
writer) chunk by chunk, so memory stays flat however many claims there are.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import enum
from collections.abc import Callable
from copy import copy
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, BinaryIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from core.domain.errors import DomainError
from core.domain.expense_stats import ZERO, ClaimScope, ExportRow, Line, StatusFilter
from core.domain.money import CENT
from core.ports import UnitOfWork

if TYPE_CHECKING:
    from core.expense_stats import ExpenseStatsView

CHUNK = 2000
# A cell that starts with one of these is a formula to a spreadsheet program.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
            _local(row.posted_at, zone), row.ledger_ref, row.description, row.opportunity_id]


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
    sheet = _XlsxSheets(view, zone) if view is not None else _CsvRows(target, zone)
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
    await asyncio.to_thread(sheet.close, target)
    if progress:
        progress(done, expected)
    name = f"expenses-{scope.period.label}-{status.name.lower()}.{form.value}"
    return ExportResult(name, done, summed)


def _text(value: str) -> str:
    """Text as text: no formula, no control characters a spreadsheet rejects."""
    if ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
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

    def close(self, target: BinaryIO) -> None:
        self._stream.flush()


def _csv(value: object) -> object:
    if isinstance(value, Decimal):
        return f"{value.quantize(CENT)}"
    if isinstance(value, str):
        return _text(value)
    return "" if value is None else value


class _XlsxSheets:
    """A write-only workbook: the breakdowns first (small), then the raw rows, streamed."""

    def __init__(self, view: ExpenseStatsView, zone: ZoneInfo) -> None:
        self._book = Workbook(write_only=True)
        self._claims = self._book.create_sheet("Claims")
        self._claims.freeze_panes = "A2"
        self._claims.append(_headers(zone))
        # One styled cell per format, copied: assigning a style looks it up every time.
        self._styles = {}
        for name, number_format in (("amount", "#,##0.00"), ("day", "yyyy-mm-dd")):
            template = WriteOnlyCell(self._claims)
            template.number_format = number_format
            self._styles[name] = template._style
        self._breakdown("By category", view.by_category)
        self._breakdown("By unit", view.by_unit, kinds=True)
        self._breakdown("By member", view.by_member)
        self._breakdown("By opportunity", view.by_opportunity)
        self._book.move_sheet("Claims", len(self._book.sheetnames) - 1)

    def _styled(self, sheet, value: object, style: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value)
        cell._style = copy(self._styles[style])
        return cell

    def _breakdown(self, title: str, lines: list[Line], *, kinds: bool = False) -> None:
        sheet = self._book.create_sheet(title)
        sheet.append(["Name", *(["Type"] * kinds), "Claims", "Amount"])
        for line in lines:
            sheet.append([_text(line.label), *([line.kind] * kinds), line.count,
                          self._styled(sheet, line.amount, "amount")])

    def extend(self, rows: list[list]) -> int:
        for values in rows:
            values[1] = self._styled(self._claims, values[1], "day")
            values[6] = self._styled(self._claims, values[6], "amount")
            self._claims.append([_text(v) if isinstance(v, str) else v for v in values])
        return len(rows)

    def close(self, target: BinaryIO) -> None:
        self._book.save(target)
