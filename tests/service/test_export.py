"""/export and `crmbot export` against a real database: what the files hold and sum to."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from core.domain.errors import DomainError, NotAllowed
from core.domain.expenses.stats import StatusFilter
from core.expenses.export import ExportFormat
from tests.conftest import EXAMPLE_ORG
from tests.service.test_expense_stats import (
    CAROL,
    EAST_AND_WEST,
    ERIN,
    FIONA,
    HARBOR,
    NOV,
    WALT,
    Spent,
    add_claims,
    add_deal,
    expected,
    service,
)


async def xlsx(database, clock, account_id, status=StatusFilter.COMMITTED, **options):
    target = io.BytesIO()
    result = await service(database, clock).export(account_id, NOV, status, ExportFormat.XLSX,
                                                   target, **options)
    target.seek(0)
    return result, load_workbook(target)


def claims_sheet(book) -> list[dict[str, object]]:
    rows = list(book["Claims"].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def test_the_xlsx_sums_to_what_stats_says(org, clock):
    await add_claims(org, EAST_AND_WEST)
    stats = await service(org, clock).stats(FIONA, NOV)
    result, book = await xlsx(org, clock, FIONA)
    assert book.sheetnames == ["By category", "By unit", "By member", "By opportunity",
                               "By stage", "Claims"]
    rows = claims_sheet(book)
    amounts = [Decimal(repr(row["Amount"])) for row in rows]
    assert sum(amounts) == stats.total.amount == result.total == Decimal("102030.58")
    assert len(rows) == result.rows == stats.total.count == 9
    # Amounts are numbers shown with two decimals, dates are dates.
    sheet = book["Claims"]
    assert {sheet.cell(row=r, column=7).number_format for r in range(2, 11)} == {"#,##0.00"}
    assert {sheet.cell(row=r, column=2).is_date for r in range(2, 11)} == {True}
    for title, lines in (("By category", stats.by_category), ("By member", stats.by_member),
                         ("By opportunity", stats.by_opportunity),
                         ("By stage", stats.by_stage)):
        sheet_rows = list(book[title].iter_rows(values_only=True))[1:]
        assert [(name, count, Decimal(repr(amount))) for name, count, amount in sheet_rows] == [
            (line.label, line.count, line.amount) for line in lines]
    units = list(book["By unit"].iter_rows(values_only=True))
    assert units[0] == ("Name", "Type", "Claims", "Amount")
    assert ("Carol Lin", "member", 1, 33.33) in units
    assert result.filename == "expenses-2026-11-committed.xlsx"


async def test_the_raw_rows_say_who_what_where_in_the_teams_time(org, clock):
    harbor = await add_deal(org, HARBOR)
    await add_claims(org, [Spent("li", "88.50", "meals", unit=("project", "harbor-rollout"),
                                 opportunity=harbor, description="午餐 with Harbor",
                                 submitted_at=datetime(2026, 11, 10, 17, 30, tzinfo=UTC))])
    _, book = await xlsx(org, clock, FIONA)
    [row] = claims_sheet(book)
    assert row["Number"].startswith("EXP-2026-")
    assert row["Date"] == datetime(2026, 11, 10)
    assert (row["Member"], row["Department"], row["Category"], row["Unit"]) == (
        "李伟", "East region", "Meals", "Harbor Logistics rollout")
    assert (row["Amount"], row["Currency"], row["Status"]) == (88.5, "CNY", "approved")
    # 17:30 UTC is 01:30 the next day in Shanghai, the team's zone (from examples/org.toml).
    assert row["Submitted (Asia/Shanghai)"] == "2026-11-11 01:30"
    assert row["Decided (Asia/Shanghai)"] == "2026-11-11 01:30"
    assert row["Posted (Asia/Shanghai)"] is None and row["Ledger ref"] is None
    assert (row["Description"], row["Opportunity"]) == (
        "午餐 with Harbor", "Harbor Logistics · Cold-chain fleet")


async def test_a_manager_exports_only_their_departments_claims(org, clock):
    await add_claims(org, EAST_AND_WEST)
    _, east = await xlsx(org, clock, ERIN)
    assert {row["Department"] for row in claims_sheet(east)} == {"East region"}
    want = expected(EAST_AND_WEST, NOV, {"approved", "pending"}, {"east"})["total"][""]
    assert sum(Decimal(repr(row["Amount"])) for row in claims_sheet(east)) == want
    _, west = await xlsx(org, clock, WALT, StatusFilter.APPROVED)
    assert [(row["Member"], row["Amount"]) for row in claims_sheet(west)] == [
        ("Sam Okafor", 500.05)]
    assert [row[0] for row in west["By member"].iter_rows(values_only=True)] == [
        "Name", "Sam Okafor"]
    with pytest.raises(NotAllowed):
        await xlsx(org, clock, CAROL)


async def test_csv_sums_the_same_and_text_never_becomes_a_formula(org, clock):
    await add_claims(org, [*EAST_AND_WEST,
                           Spent("carol", "1.00", description='=HYPERLINK("http://x","y")')])
    target = io.BytesIO()
    result = await service(org, clock).export(FIONA, NOV, StatusFilter.COMMITTED,
                                              ExportFormat.CSV, target)
    data = target.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert sum(Decimal(row["Amount"]) for row in rows) == result.total == Decimal("102031.58")
    assert result.filename == "expenses-2026-11-committed.csv"
    assert '\'=HYPERLINK("http://x","y")' in {row["Description"] for row in rows}
    _, book = await xlsx(org, clock, FIONA)
    cell = next(c for c in book["Claims"]["N"] if str(c.value).endswith('"y")'))
    assert cell.data_type == "s"


async def test_too_many_claims_for_the_chat_are_refused(org, clock):
    await add_claims(org, EAST_AND_WEST)
    with pytest.raises(DomainError) as refused:
        await xlsx(org, clock, FIONA, limit=8)
    assert refused.value.code == "export_too_large"
    result, _ = await xlsx(org, clock, FIONA, limit=9)
    assert result.rows == 9


async def test_an_empty_period_gives_headers_only(org, clock):
    result, book = await xlsx(org, clock, FIONA)
    assert (result.rows, result.total) == (0, Decimal("0.00"))
    assert len(list(book["Claims"].iter_rows())) == 1


def test_crmbot_export_writes_every_claim_with_a_progress_bar(tmp_path):
    from tests.service.test_cli import crmbot, write_config

    config = write_config(tmp_path)
    assert crmbot("--config", str(config), "org", "import", str(EXAMPLE_ORG),
                  cwd=tmp_path).returncode == 0
    seed = subprocess.run([sys.executable, "-c", _SEED, str(tmp_path / "crm.db")],
                          capture_output=True, text=True, cwd=Path(__file__).parents[2],
                          timeout=120)
    assert seed.returncode == 0, seed.stderr
    output = tmp_path / "nov.csv"
    done = crmbot("export", "--config", str(config), "--period", "2026-11", "--status",
                  "approved", "--format", "csv", "--output", str(output), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 claims, total 1234.66, written to" in done.stdout
    assert "claims" in done.stderr and "100%" in done.stderr  # the progress bar
    rows = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8-sig"))))
    assert sorted(row["Amount"] for row in rows) == ["0.10", "1234.56"]
    assert not (tmp_path / "nov.csv.part").exists()
    bad = crmbot("export", "--config", str(config), "--period", "2026-13", "--output",
                 str(output), cwd=tmp_path)
    assert bad.returncode == 2 and "--period 2026-13" in bad.stderr


_SEED = """
import asyncio, sys
from tests.service.test_expense_stats import Spent, add_claims
from storage.database import Database

async def main():
    database = Database.connect("sqlite+aiosqlite:///" + sys.argv[1])
    await add_claims(database, [Spent("carol", "0.10"), Spent("carol", "1234.56"),
                                Spent("li", "7.00", status="pending")])
    await database.dispose()

asyncio.run(main())
"""
