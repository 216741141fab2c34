"""A streaming XLSX writer: sheets one after another, rows written straight into the zip.

Only what the expense export needs: text, numbers, dates, two number formats and a frozen
header row. A row costs one formatted string, so a hundred thousand rows take a second or
two and memory stays flat; general-purpose writers spend ~10 µs a cell on bookkeeping.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import IO, BinaryIO
from xml.sax.saxutils import escape, quoteattr

# Cell styles (indexes into cellXfs below).
PLAIN, AMOUNT, DAY = 0, 1, 2
_EPOCH = date(1899, 12, 30).toordinal()  # day 0 of the 1900 date system, as used since
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0
_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")  # anything to clean or escape
_MAX_SHEET_NAME = 31

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '{sheets}</Types>')
_SHEET_TYPE = ('<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
               'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets>{sheets}</sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '{sheets}<Relationship Id="rId{styles}" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>')
_SHEET_REL = ('<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/'
              'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>')
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="#,##0.00"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
_FROZEN_HEADER = ('<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" '
                  'topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView>'
                  '</sheetViews>')


def _column(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _xml_text(text: str) -> str:
    """Most text needs nothing done: one search decides."""
    return escape(clean(text)) if _SPECIAL.search(text) else text


def clean(text: str) -> str:
    """Text without the control characters an XLSX cannot hold."""
    return _ILLEGAL.sub("", text) if _ILLEGAL.search(text) else text


class Sheet:
    """One worksheet being written; rows go out in order and cannot be revisited."""

    def __init__(self, stream: IO[bytes], styles: dict[int, int]) -> None:
        self._stream = stream
        self._styles = styles  # column -> style of numbers and dates in it
        self._row = 0
        self._columns: list[str] = []

    def append(self, values: Iterable[object]) -> None:
        """A row: str as text, int/float/Decimal as numbers, date as a date; None empty."""
        self._row += 1
        row = self._row
        cells = []
        for index, value in enumerate(values):
            if value is None:
                continue
            while index >= len(self._columns):
                self._columns.append(_column(len(self._columns)))
            ref = f"{self._columns[index]}{row}"
            if isinstance(value, str):
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">'
                             f'{_xml_text(value)}</t></is></c>')
            elif isinstance(value, date):
                cells.append(f'<c r="{ref}" s="{DAY}"><v>{value.toordinal() - _EPOCH}</v></c>')
            elif isinstance(value, int | float | Decimal):
                style = self._styles.get(index, PLAIN)
                cells.append(f'<c r="{ref}" s="{style}"><v>{value}</v></c>')
            else:
                raise TypeError(f"cannot write {type(value).__name__} to a cell")
        self._stream.write(f'<row r="{row}">{"".join(cells)}</row>'.encode())

    def extend(self, rows: Iterable[Iterable[object]]) -> None:
        for values in rows:
            self.append(values)


class XlsxWriter:
    """A workbook written to `target` sheet by sheet; close() finishes the file."""

    def __init__(self, target: BinaryIO) -> None:
        # Light compression: the export's time goes into the rows, not into deflating them.
        self._zip = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self._names: list[str] = []
        self._open: IO[bytes] | None = None

    def sheet(self, name: str, *, amounts: Iterable[int] = (),
              frozen_header: bool = False) -> Sheet:
        """Start the next sheet (ending the one before); numbers in the `amounts` columns
        are shown with thousands separators and two decimals."""
        self._end_sheet()
        self._names.append(name[:_MAX_SHEET_NAME])
        self._open = self._zip.open(f"xl/worksheets/sheet{len(self._names)}.xml", "w")
        self._open.write((_SHEET_START + (_FROZEN_HEADER if frozen_header else "")
                          + "<sheetData>").encode())
        return Sheet(self._open, dict.fromkeys(amounts, AMOUNT))

    def _end_sheet(self) -> None:
        if self._open is not None:
            self._open.write(b"</sheetData></worksheet>")
            self._open.close()
            self._open = None

    def close(self) -> None:
        self._end_sheet()
        numbers = range(1, len(self._names) + 1)
        self._zip.writestr("[Content_Types].xml", _CONTENT_TYPES.format(
            sheets="".join(_SHEET_TYPE.format(n=n) for n in numbers)))
        self._zip.writestr("_rels/.rels", _ROOT_RELS)
        self._zip.writestr("xl/workbook.xml", _WORKBOOK.format(sheets="".join(
            f'<sheet name={quoteattr(clean(name))} sheetId="{n}" r:id="rId{n}"/>'
            for n, name in zip(numbers, self._names, strict=True))))
        self._zip.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(
            sheets="".join(_SHEET_REL.format(n=n) for n in numbers),
            styles=len(self._names) + 1))
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._zip.close()
