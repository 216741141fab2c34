"""/stats and /export through the real bot: who sees which numbers, the chart, the files."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.chat.conftest import answers, texts
from tests.service.test_expense_stats import EAST_AND_WEST, NOV, add_claims, expected

FOR_MANAGERS = ("Statistics and exports are for managers and finance: they show the claims "
                "of the departments you lead.")
STALE = "That button is no longer valid."


@pytest.fixture
def fiona(stage):
    return stage.standin.user(3001, "Fiona", last_name="Grant", language_code="en")


def sent(entries, kind: str) -> list:
    return [e for e in entries if e.by_bot and e.kind == kind]


def file_of(stage, entry) -> bytes:
    return stage.standin.world.files.get(entry.raw["document"]["file_id"]).data


def east_total() -> Decimal:
    return expected(EAST_AND_WEST, NOV, {"approved", "pending"}, {"east"})["total"][""]


async def test_a_manager_gets_the_table_and_the_chart_of_their_team(stage, cast,
                                                                   org_database):
    await add_claims(org_database, EAST_AND_WEST)
    entries = await stage.act(cast.erin.send("/stats"))
    [text] = texts(entries)
    assert text.splitlines()[:2] == ["📊 Expenses 2026-11 · approved + pending",
                                     "Claims of the departments you lead, in CNY."]
    total_line = next(line for line in text.splitlines() if line.startswith("Total"))
    assert total_line.split() == ["Total", "7", f"{east_total():,.2f}"]
    assert east_total() == Decimal("101518.19")
    assert "Sam Okafor" not in text and "500.05" not in text  # west's
    [photo] = sent(entries, "photo")
    assert photo.raw["caption"] == "Expenses 2026-11 · approved + pending"
    message = stage.standin.bot_messages(cast.erin.id)[-2]
    assert message.buttons[0] == ["✓ This month", "Last month"]
    assert message.buttons[2] == ["✓ approved + pending", "approved"]
    # Another status: the table is edited in place, a new chart follows.
    entries = await stage.act(cast.erin.press(message, "approved"))
    assert answers(entries) == [None]
    edited = [e for e in entries if e.kind == "edit"]
    assert edited and "Expenses 2026-11 · approved" in edited[0].text
    assert "Lodging" not in edited[0].text  # Li's lodging is still pending
    assert len(sent(entries, "photo")) == 1


async def test_a_rep_is_told_stats_and_exports_are_for_managers_and_finance(stage, cast):
    assert texts(await stage.act(cast.carol.send("/stats"))) == [FOR_MANAGERS]
    entries = await stage.act(cast.carol.send("/export"))
    assert texts(entries) == [FOR_MANAGERS] and not sent(entries, "document")


async def test_forged_buttons_show_nobody_else_s_numbers(stage, cast, org_database, walt):
    await add_claims(org_database, EAST_AND_WEST)
    await stage.act(walt.send("/stats"))
    message = stage.standin.bot_messages(walt.id)[-2]
    assert "Erin Zhao" not in message.text and "Sam Okafor" in message.text
    # A forged period or filter still shows only West's claims.
    for data in ("sta:2026-11:r", "sta:2026:c", "sta:2026-Q4:a"):
        entries = await stage.act(walt.press(message, callback_data=data, forge=True))
        shown = "\n".join(texts(entries))
        assert "Carol Lin" not in shown and "East region" not in shown, data
    entries = await stage.act(walt.press(message, callback_data="xpt:2026-11:c:c",
                                         forge=True))
    rows = list(csv.DictReader(io.StringIO(file_of(stage, sent(entries, "document")[0])
                                           .decode("utf-8-sig"))))
    assert {row["Department"] for row in rows} == {"West region"}
    for data in ("sta:2026-13:c", "sta:2026-11:x", "sta:2026-11:c:1", "sta:", "xpt:2026-11:c:z",
                 "xpt:k:q:x"):
        entries = await stage.act(walt.press(message, callback_data=data, forge=True))
        assert answers(entries) == [STALE], data
    # A rep forging a manager's buttons gets the refusal, and no file.
    await stage.act(cast.carol.send("/help"))
    carol_message = stage.standin.bot_messages(cast.carol.id)[-1]
    for data in ("sta:2026-11:c", "xpt:2026-11:c:x", "xpt:k:c:x"):
        entries = await stage.act(cast.carol.press(carol_message, callback_data=data,
                                                   forge=True))
        assert answers(entries) == [FOR_MANAGERS], data
        assert not sent(entries, "document") and not sent(entries, "photo")


async def test_an_empty_period_says_so_and_a_bad_one_shows_the_format(stage, cast,
                                                                     org_database):
    await add_claims(org_database, EAST_AND_WEST)
    entries = await stage.act(cast.erin.send("/stats 2025-01"))
    assert "No claims in 2025-01 (approved + pending)." in texts(entries)[0]
    assert not sent(entries, "photo")
    entries = await stage.act(cast.erin.send("/stats 2026-13"))
    assert texts(entries) == ["Please give a period like 2026-11, 2026-Q4 or 2026."]


async def test_finance_exports_the_month_and_it_sums_to_stats(stage, org_database, fiona):
    await add_claims(org_database, EAST_AND_WEST)
    entries = await stage.act(fiona.send("/stats"))
    total = next(line for line in texts(entries)[0].splitlines() if line.startswith("Total"))
    assert total.split() == ["Total", "9", "102,030.58"]
    picker = await stage.act(fiona.send("/export"))
    assert texts(picker) == ["📥 Export claims — approved + pending, XLSX. Pick the period:"]
    message = stage.standin.bot_messages(fiona.id)[-1]
    entries = await stage.act(fiona.press(message, "This month"))
    [document] = sent(entries, "document")
    assert document.raw["document"]["file_name"] == "expenses-2026-11-committed.xlsx"
    assert document.raw["caption"] == (
        "2026-11 · approved + pending: 9 claims, total 102,030.58")
    book = load_workbook(io.BytesIO(file_of(stage, document)))
    amounts = [Decimal(repr(row[6])) for row in book["Claims"].iter_rows(min_row=2,
                                                                        values_only=True)]
    assert sum(amounts) == Decimal("102030.58")
    # CSV, by switching the format, and by /export 2026-11 csv.
    entries = await stage.act(fiona.press(message, "CSV"))
    assert [e.text for e in entries if e.kind == "edit"] == [
        "📥 Export claims — approved + pending, CSV. Pick the period:"]
    entries = await stage.act(fiona.press(message, "This month"))
    assert sent(entries, "document")[0].raw["document"]["file_name"].endswith(".csv")
    entries = await stage.act(fiona.send("/export 2026-11 csv"))
    data = file_of(stage, sent(entries, "document")[0]).decode("utf-8-sig")
    assert sum(Decimal(r["Amount"]) for r in csv.DictReader(io.StringIO(data))) == Decimal(
        "102030.58")


async def test_a_manager_exports_only_their_teams_claims(stage, cast, org_database):
    await add_claims(org_database, EAST_AND_WEST)
    entries = await stage.act(cast.erin.send("/export 2026-11"))
    book = load_workbook(io.BytesIO(file_of(stage, sent(entries, "document")[0])))
    rows = list(book["Claims"].iter_rows(min_row=2, values_only=True))
    assert {row[3] for row in rows} == {"East region"}
    assert sum(Decimal(repr(row[6])) for row in rows) == east_total()
