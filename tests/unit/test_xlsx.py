"""The streaming XLSX writer, read back by openpyxl as a spreadsheet program would."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

from openpyxl import load_workbook

from core.expenses.xlsx import XlsxWriter


def written(build) -> object:
    target = io.BytesIO()
    book = XlsxWriter(target)
    build(book)
    book.close()
    target.seek(0)
    return load_workbook(target)


def test_text_numbers_dates_and_formats_read_back_as_written():
    def build(book):
        first = book.sheet("By category", amounts=[2])
        first.append(["Name", "Claims", "Amount"])
        first.append(["差旅 & <meals>", 3, Decimal("1234.56")])
        claims = book.sheet("Claims", amounts=[1], frozen_header=True)
        claims.append(["Date", "Amount", "Note", "Ledger"])
        claims.extend([[date(2026, 11, 10), Decimal("0.10"), '=HYPERLINK("x")', None],
                       [date(2026, 1, 1), 99999.99, "tab\tand\x07bell", "L-1"]])

    book = written(build)
    assert book.sheetnames == ["By category", "Claims"]
    category = book["By category"]
    assert list(category.iter_rows(values_only=True)) == [
        ("Name", "Claims", "Amount"), ("差旅 & <meals>", 3, 1234.56)]
    assert category["C2"].number_format == "#,##0.00"
    assert category["B2"].number_format == "General"
    claims = book["Claims"]
    assert claims.freeze_panes == "A2"
    assert list(claims.iter_rows(min_row=2, values_only=True)) == [
        (datetime(2026, 11, 10), 0.1, '=HYPERLINK("x")', None),
        (datetime(2026, 1, 1), 99999.99, "tab\tandbell", "L-1")]
    assert claims["A2"].is_date and claims["A2"].number_format == "yyyy-mm-dd"
    # A formula-looking text is a string cell, never a formula.
    assert claims["C2"].data_type == "s"


def test_columns_past_z_and_an_empty_sheet():
    def build(book):
        book.sheet("Empty")
        wide = book.sheet("Wide")
        wide.append(list(range(30)))

    book = written(build)
    assert book["Empty"].max_row == 1 and book["Empty"]["A1"].value is None
    assert book["Wide"]["AD1"].value == 29
