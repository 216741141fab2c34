"""Budgets, statistics and the export over the Mini App's JSON: the figures core computes, for
whom the chat shows them, and refusals in the member's language."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from bot.i18n import Translator
from bot.texts import REFUSALS
from core.domain.expenses.stats import Dimension, StatusFilter
from core.domain.money import format_amount
from tests.service.test_expense_stats import EAST_AND_WEST, NOV, Spent, add_claims, expected
from tests.web.conftest import CAROL, ERIN, FIONA, WALT
from web.strings import ERRORS
from web.views import money

EN = Translator("en")
FOR_MANAGERS = EN(REFUSALS["stats_for_managers"])
BAD_PERIOD = EN(REFUSALS["budget_period_format"])
EAST_TOTAL = Decimal("101518.19")


@pytest.fixture
async def claims(services, database):
    """November's claims of East and West (and some that do not count)."""
    await add_claims(database, EAST_AND_WEST)


def figures(section: dict) -> list[tuple[str, str, str, int]]:
    return [(line["label"], line["amount"], line["text"], line["count"])
            for line in section["lines"]]


def core_figures(lines) -> list[tuple[str, str, str, int]]:
    return [(line.label, str(line.amount), format_amount(line.amount), line.count)
            for line in lines]


async def test_a_manager_sees_her_units_budgets_as_core_counts_them(web, services, claims):
    answer = await web(ERIN).get("/app/api/budgets")
    assert answer.status_code == 200
    shown = answer.json()
    assert shown["title"] == "Budgets running now" and shown["period"] is None
    assert shown["note"] == "used = approved + waiting for approval"
    overview = await services.budgets.overview(ERIN)
    assert [(b["id"], b["used"], b["limit"], b["percent"]) for b in shown["lines"]] == [
        (line.budget.id, format_amount(line.used, "CNY"), format_amount(line.budget.amount, "CNY"),
         line.percent) for line in overview.lines]
    by_label = {b["label"]: b for b in shown["lines"]}
    assert set(by_label) == {"Travel · East region · 2026-11",
                             "All categories · East region · 2026-Q4",
                             "All categories · Harbor Logistics rollout · 2026",
                             "Meals · Carol Lin · 2026-11"}
    travel = by_label["Travel · East region · 2026-11"]
    # Carol's travel charged to East: 0.10 + 1,234.56 of 10,000.
    assert travel["usage"] == "CNY 1,234.66 of CNY 10,000.00"
    assert (travel["percent"], travel["width"], travel["over"]) == (12, 12, None)
    assert travel["policy"] == "warn"
    # Li's pending 99,999.99 of lodging takes East's quarter far over (with October's 100).
    quarter = by_label["All categories · East region · 2026-Q4"]
    assert quarter["usage"] == "CNY 101,584.85 of CNY 60,000.00"
    assert quarter["percent"] == 169 and quarter["width"] == 100
    assert quarter["over"] == "🔴 over budget by CNY 41,584.85"
    assert quarter["policy"] == "escalate"


async def test_finance_sees_every_unit_and_a_period_asked_for(web, services, claims):
    shown = (await web(FIONA).get("/app/api/budgets", params={"period": "2026-11"})).json()
    assert shown["title"] == "Budgets · 2026-11" and shown["period"] == "2026-11"
    labels = [b["label"] for b in shown["lines"]]
    assert "All categories · West region · 2026-11" in labels
    assert "Travel · East region · 2026-11" in labels
    assert len(labels) == len((await services.budgets.overview(FIONA, "2026-11")).lines) == 5
    west = shown["lines"][labels.index("All categories · West region · 2026-11")]
    assert west["usage"] == "CNY 512.39 of CNY 20,000.00" and west["policy"] == "block"
    nothing = (await web(FIONA).get("/app/api/budgets", params={"period": "2025"})).json()
    assert nothing["lines"] == []
    assert nothing["empty"] == "No budgets for your units in this period."


async def test_a_budget_change_is_listed_with_who_made_it(web, services, clock):
    await services.budgets.set(ERIN, "department:east", "travel", "2026-11", "12000", "block")
    shown = (await web(ERIN).get("/app/api/budgets")).json()
    assert "2026-11-26 10:00 · Erin Zhao: Travel · East region · 2026-11: amount " \
           "CNY 10,000.00 → CNY 12,000.00" in shown["changes"]
    assert "2026-11-26 10:00 · Erin Zhao: Travel · East region · 2026-11: policy warn → block" \
           in shown["changes"]


async def test_a_rep_sees_only_their_own_units_and_no_statistics(web, services, claims):
    carol = web(CAROL)
    shown = (await carol.get("/app/api/budgets")).json()
    labels = {b["label"] for b in shown["lines"]}
    assert labels == {b["label"] for b in (await web(ERIN).get("/app/api/budgets")).json()[
        "lines"]}  # East's, the project she is on, and her own
    assert not any("West" in label for label in labels)
    assert len(labels) == len((await services.budgets.overview(CAROL)).lines)
    for path in ("/app/api/stats", "/app/api/export.xlsx?period=2026-11",
                 "/app/api/export.csv?period=2026-11"):
        answer = await carol.get(path)
        assert answer.status_code == 403, path
        assert answer.json() == {"error": "stats_for_managers", "message": FOR_MANAGERS}


async def test_the_breakdowns_are_the_figures_core_computes(web, services, claims):
    shown = (await web(ERIN).get("/app/api/stats")).json()
    view = await services.expense_stats.stats(ERIN, NOV, top=money.TOP)
    assert shown["title"] == "Expenses 2026-11 · approved + pending"
    assert shown["scope"] == "Claims of the departments you lead, in CNY."
    assert shown["empty"] is None and shown["everyone"] is False
    assert shown["total"] == {"label": "Total", "amount": "101518.19", "text": "101,518.19",
                              "count": 7}
    # Summed here from the test's own claims too, not only by the code under test.
    assert expected(EAST_AND_WEST, NOV, {"approved", "pending"}, {"east"})["total"][""] == \
        EAST_TOTAL
    sections = {s["key"]: s for s in shown["sections"]}
    assert [s["title"] for s in shown["sections"]] == [
        "By category", "By accounting unit", "By member", "By opportunity",
        "By stage on the date spent"]
    for key, lines in ((Dimension.CATEGORY, view.by_category), (Dimension.UNIT, view.by_unit),
                       (Dimension.MEMBER, view.by_member),
                       (Dimension.OPPORTUNITY, view.by_opportunity),
                       (Dimension.STAGE, view.by_stage)):
        assert figures(sections[key]) == core_figures(lines), key
        assert sum(Decimal(line["amount"]) for line in sections[key]["lines"]) == EAST_TOTAL
    assert figures(sections["member"])[0] == ("李伟", "100000.00", "100,000.00", 2)
    assert [line["width"] for line in sections["member"]["lines"]] == [100, 1, 1]
    assert [line["kind"] for line in sections["unit"]["lines"]] == [
        "department", "member", "project"]
    assert shown["periods"] == [
        {"key": "this_month", "label": "This month", "period": "2026-11", "current": True},
        {"key": "last_month", "label": "Last month", "period": "2026-10", "current": False},
        {"key": "this_quarter", "label": "This quarter", "period": "2026-Q4", "current": False},
        {"key": "this_year", "label": "This year", "period": "2026", "current": False}]
    assert [s["label"] for s in shown["statuses"]] == [
        "approved + pending", "approved", "pending", "rejected"]
    assert shown["exports"] == [
        {"label": "📥 XLSX", "path": "export.xlsx?period=2026-11&status=committed",
         "filename": "expenses-2026-11-committed.xlsx"},
        {"label": "📥 CSV", "path": "export.csv?period=2026-11&status=committed",
         "filename": "expenses-2026-11-committed.csv"}]


async def test_finance_sees_the_whole_organisation(web, services, claims):
    shown = (await web(FIONA).get("/app/api/stats")).json()
    assert shown["everyone"] is True
    assert shown["scope"] == "Claims of the whole organisation, in CNY."
    assert shown["total"]["amount"] == "102030.58" and shown["total"]["count"] == 9
    units = {line["label"] for line in shown["sections"][1]["lines"]}
    assert {"East region", "West region"} <= units


async def test_a_status_and_a_typed_period_pick_the_claims(web, services, claims):
    erin = web(ERIN)
    approved = (await erin.get("/app/api/stats", params={"status": "approved"})).json()
    assert approved["title"] == "Expenses 2026-11 · approved"
    assert "Lodging" not in {line["label"] for line in approved["sections"][0]["lines"]}
    view = await services.expense_stats.stats(ERIN, NOV, StatusFilter.APPROVED, top=money.TOP)
    assert approved["total"]["amount"] == str(view.total.amount)
    assert [s["current"] for s in approved["statuses"]] == [False, True, False, False]
    quarter = (await erin.get("/app/api/stats", params={"period": " 2026-q4 "})).json()
    assert quarter["period"] == "2026-Q4"
    assert [p["current"] for p in quarter["periods"]] == [False, False, True, False]
    # Carol's October claim of 100.00 counts in the quarter.
    assert Decimal(quarter["total"]["amount"]) == EAST_TOTAL + Decimal("100.00")
    empty = (await erin.get("/app/api/stats", params={"period": "2025-01"})).json()
    assert empty["empty"] == "No claims in 2025-01 (approved + pending)."
    assert empty["sections"] == [] and empty["total"]["count"] == 0


async def test_lines_past_the_largest_are_summed_into_one(web, services, database):
    deals = [Spent("carol", f"{100 + n}.00", opportunity=100 + n) for n in range(money.TOP + 3)]
    await add_claims(database, deals)
    shown = (await web(ERIN).get("/app/api/stats")).json()
    view = await services.expense_stats.stats(ERIN, NOV, top=money.TOP)
    lines = shown["sections"][3]["lines"]
    assert len(lines) == money.TOP + 1
    rest = view.left_out[Dimension.OPPORTUNITY]
    assert lines[-1] == {"label": "… 3 more", "kind": "", "amount": str(rest.amount),
                         "text": format_amount(rest.amount), "count": 3,
                         "width": lines[-1]["width"], "rest": True}
    assert rest.amount == Decimal("303.00")  # 100 + 101 + 102
    assert sum(Decimal(line["amount"]) for line in lines) == Decimal(shown["total"]["amount"])


@pytest.mark.parametrize("path", ["/app/api/stats", "/app/api/budgets",
                                  "/app/api/export.xlsx"])
async def test_a_period_core_cannot_read_is_refused_in_the_member_s_language(web, path):
    for period in ("2026-13", "November", "0000"):
        answer = await web(ERIN).get(path, params={"period": period})
        assert answer.status_code == 409, period
        assert answer.json() == {"error": "budget_period_format", "message": BAD_PERIOD}
    chinese = (await web(ERIN, language="zh-hans").get(path, params={"period": "2026-13"}))
    assert chinese.json()["message"] == (
        "无法识别该期间。请使用月份（如 2026-12）、季度（如 2026-Q4）或年份（如 2026）。")


@pytest.mark.parametrize("path, params", [
    ("/app/api/stats", {"status": "everything"}),
    ("/app/api/stats", {"period": "2026-11" * 10}),
    ("/app/api/stats", {"department": "west"}),
    ("/app/api/budgets", {"page": "-1"}),
    ("/app/api/budgets", {"page": "many"}),
    ("/app/api/export.xlsx", {}),
    ("/app/api/export.pdf", {"period": "2026-11"}),
])
async def test_what_the_page_never_sends_is_refused(web, path, params):
    answer = await web(FIONA).get(path, params=params)
    assert answer.status_code == 400
    assert answer.json() == {"error": "bad_request", "message": ERRORS["bad_request"]}


async def test_the_xlsx_is_the_one_core_writes_for_the_manager(web, claims):
    answer = await web(ERIN).get("/app/api/export.xlsx",
                                 params={"period": "2026-11", "status": "committed"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == money.MEDIA_TYPES["xlsx"]
    assert answer.headers["content-disposition"] == (
        'attachment; filename="expenses-2026-11-committed.xlsx"')
    book = load_workbook(io.BytesIO(answer.content))
    rows = list(book["Claims"].iter_rows(min_row=2, values_only=True))
    assert {row[3] for row in rows} == {"East region"}  # none of West's
    assert sum(Decimal(repr(row[6])) for row in rows) == EAST_TOTAL
    assert any(row[1].date() == date(2026, 11, 10) and row[2] == "Carol Lin"
               and row[4] == "Travel" and Decimal(repr(row[6])) == Decimal("1234.56")
               for row in rows)


async def test_the_csv_of_finance_holds_every_department(web, claims):
    answer = await web(FIONA).get("/app/api/export.csv",
                                  params={"period": "2026-11", "status": "approved"})
    assert answer.headers["content-disposition"] == (
        'attachment; filename="expenses-2026-11-approved.csv"')
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert {row["Department"] for row in rows} == {"East region", "West region"}
    assert sum(Decimal(row["Amount"]) for row in rows) == expected(
        EAST_AND_WEST, NOV, {"approved"})["total"][""]


async def test_an_export_too_large_is_refused_with_core_s_words(web, claims, monkeypatch):
    monkeypatch.setattr(money, "MAX_CHAT_ROWS", 3)
    answer = await web(ERIN).get("/app/api/export.xlsx", params={"period": "2026-11"})
    assert answer.status_code == 409
    assert answer.json() == {"error": "export_too_large",
                             "message": EN(REFUSALS["export_too_large"])}
    # West's manager has two claims that month: within the limit.
    assert (await web(WALT).get("/app/api/export.xlsx",
                                params={"period": "2026-11"})).status_code == 200


def test_every_status_the_page_sends_is_core_s():
    assert {money.STATUSES[name] for name in money.StatusName.__args__} == set(StatusFilter)
