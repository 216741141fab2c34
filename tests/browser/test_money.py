"""The Budgets tab in Chromium: the bars read back as core's figures, periods and statuses
picked on the page, the spreadsheet downloaded, and finance seeing every unit."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import load_workbook

from bot.i18n import Translator
from bot.texts import REFUSALS
from core.domain.expenses.stats import StatusFilter
from core.domain.money import format_amount
from core.domain.period import Period
from tests.service.test_expense_stats import EAST_AND_WEST, NOV, add_claims
from web.views.money import TOP, budget_label

EN = Translator("en")
SECTIONS = ("category", "unit", "member", "opportunity", "stage")


def services_of(portal):
    return portal.stage.application.bot_data["services"]


async def open_budgets(portal, user, **options):
    page = await portal.open(user, query="?view=budgets", **options)
    await page.locator(".money .stats .title, .money .refused").first.wait_for()
    return page


async def shown_budgets(page) -> list[tuple[str, str, str, str | None]]:
    """Each budget as the page shows it: name, percentage, usage, and how far over."""
    rows = []
    for row in await page.locator(".money .budget").all():
        over = row.locator(".over-by")
        rows.append((await row.locator(".label").inner_text(),
                     await row.locator(".percent").inner_text(),
                     await row.locator(".usage").inner_text(),
                     await over.inner_text() if await over.count() else None))
    return rows


def core_budgets(overview, t: Translator = EN) -> list[tuple[str, str, str, str | None]]:
    currency = overview.currency
    return [(budget_label(line, t), f"{line.percent}%",
             t("{used} of {limit}", used=format_amount(line.used, currency),
               limit=format_amount(line.budget.amount, currency)),
             t("🔴 over budget by {over}", over=format_amount(line.over, currency))
             if line.over > 0 else None) for line in overview.lines]


async def shown_chart(page, section: str) -> list[tuple[str, str, str]]:
    """The bars of one breakdown: each one's name, amount and number of claims."""
    chart = page.locator(f'.money .chart[data-section="{section}"]')
    return [(await line.locator(".label").inner_text(),
             await line.locator(".amount").inner_text(),
             await line.locator(".count").inner_text())
            for line in await chart.locator(".line").all()]


def core_chart(view, section: str) -> list[tuple[str, str, str]]:
    lines = {"category": view.by_category, "unit": view.by_unit, "member": view.by_member,
             "opportunity": view.by_opportunity, "stage": view.by_stage}[section]
    return [(line.label, format_amount(line.amount), f"Claims: {line.count}") for line in lines]


async def test_a_manager_reads_her_budgets_and_statistics_as_core_has_them(portal, cast,
                                                                         org_database):
    await add_claims(org_database, EAST_AND_WEST)
    services = services_of(portal)
    page = await open_budgets(portal, cast.erin)
    assert await page.locator(".money .budgets h2").inner_text() == "Budgets running now"
    assert await shown_budgets(page) == core_budgets(await services.budgets.overview(cast.erin.id))
    over = [row for row in await shown_budgets(page) if row[3]]
    assert over == [("All categories · East region · 2026-Q4", "169%",
                     "CNY 101,584.85 of CNY 60,000.00", "🔴 over budget by CNY 41,584.85")]
    # The bar of an overrun is full and in the danger colour.
    bar = page.locator(".money .budget .fill.over")
    assert await bar.evaluate("node => node.style.width") == "100%"
    danger = await page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--danger').trim()")
    assert danger == "#d14e4e"
    assert await bar.evaluate("node => getComputedStyle(node).backgroundColor") == \
        "rgb(209, 78, 78)"
    # The breakdowns: the figures of /stats for her, line by line.
    view = await services.expense_stats.stats(cast.erin.id, NOV, top=TOP)
    stats = page.locator(".money .stats")
    assert await stats.locator(".title").inner_text() == "Expenses 2026-11 · approved + pending"
    assert await stats.locator(".scope").inner_text() == (
        "Claims of the departments you lead, in CNY.")
    assert await stats.locator(".total .amount").inner_text() == "101,518.19"
    for section in SECTIONS:
        assert await shown_chart(page, section) == core_chart(view, section), section
    assert await shown_chart(page, "member") == [
        ("李伟", "100,000.00", "Claims: 2"), ("Carol Lin", "1,268.19", "Claims: 4"),
        ("Erin Zhao", "250.00", "Claims: 1")]
    assert "West region" not in await stats.inner_text()
    # The bars are as long as their amounts: the largest full, the others in proportion.
    widths = await page.locator('.money .chart[data-section="member"] .fill').evaluate_all(
        "nodes => nodes.map(node => node.style.width)")
    assert widths == ["100%", "1%", "1%"]
    assert await page.locator('.money .chips [aria-pressed="true"]').inner_text() == \
        "This month"
    await portal.screenshot(page, "manager")
    assert portal.page_errors() == []


async def test_a_period_and_a_status_picked_on_the_page(portal, cast, org_database):
    await add_claims(org_database, EAST_AND_WEST)
    services = services_of(portal)
    page = await open_budgets(portal, cast.erin)
    title = page.locator(".money .stats .title")
    await page.get_by_role("button", name="This quarter").click()
    await page.get_by_text("Expenses 2026-Q4 · approved + pending").wait_for()
    assert await page.locator(".money .budgets h2").inner_text() == "Budgets · 2026-Q4"
    assert await shown_budgets(page) == core_budgets(
        await services.budgets.overview(cast.erin.id, "2026-Q4"))
    quarter = await services.expense_stats.stats(cast.erin.id, Period.parse("2026-Q4"),
                                                 top=TOP)
    assert await page.locator(".money .total .amount").inner_text() == format_amount(
        quarter.total.amount) == "101,618.19"
    await page.locator('select[name="status"]').select_option(label="approved")
    await page.get_by_text("Expenses 2026-Q4 · approved", exact=True).wait_for()
    approved = await services.expense_stats.stats(cast.erin.id, Period.parse("2026-Q4"),
                                                  StatusFilter.APPROVED, top=TOP)
    assert await shown_chart(page, "category") == core_chart(approved, "category")
    assert "Lodging" not in [label for label, *_ in await shown_chart(page, "category")]
    # A typed period; then one core cannot read: refused in words, the screen stays.
    await page.get_by_label("Another period").fill("2026-10")
    await page.get_by_role("button", name="Show").click()
    await page.get_by_text("Expenses 2026-10 · approved", exact=True).wait_for()
    assert await shown_chart(page, "member") == [("Carol Lin", "100.00", "Claims: 1")]
    await page.get_by_label("Another period").fill("2026-13")
    await page.get_by_role("button", name="Show").click()
    problem = page.locator("#problem")
    await problem.wait_for()
    assert await problem.inner_text() == EN(REFUSALS["budget_period_format"])
    assert await title.inner_text() == "Expenses 2026-10 · approved"
    await portal.screenshot(page, "refused-period")
    await page.get_by_label("Another period").fill("2025-01")
    await page.get_by_role("button", name="Show").click()
    await page.get_by_text("No claims in 2025-01 (approved).").wait_for()
    assert await problem.is_hidden()
    assert await page.locator(".money .chart").count() == 0
    assert portal.page_errors() == []


async def test_the_export_downloads_the_manager_s_spreadsheet(portal, cast, org_database):
    await add_claims(org_database, EAST_AND_WEST)
    page = await open_budgets(portal, cast.erin)
    async with page.expect_download() as started:
        await page.get_by_role("button", name="📥 XLSX").click()
    download = await started.value
    assert download.suggested_filename == "expenses-2026-11-committed.xlsx"
    book = load_workbook(io.BytesIO((await download.path()).read_bytes()))
    rows = list(book["Claims"].iter_rows(min_row=2, values_only=True))
    assert {row[3] for row in rows} == {"East region"}
    assert sum(Decimal(repr(row[6])) for row in rows) == Decimal("101518.19")
    lodging = [row for row in rows if row[4] == "Lodging"]
    assert [(row[2], Decimal(repr(row[6])), row[8]) for row in lodging] == [
        ("李伟", Decimal("99999.99"), "pending")]
    by_category = {row[0]: row[1:] for row in book["By category"].iter_rows(values_only=True)}
    assert by_category["Lodging"][0] == 1
    assert Decimal(repr(by_category["Lodging"][1])) == Decimal("99999.99")
    assert portal.page_errors() == []


async def test_finance_sees_every_unit_page_by_page(portal, cast, org_database):
    await add_claims(org_database, EAST_AND_WEST)
    services = services_of(portal)
    # Twenty more budgets: more than a page of them.
    for member in ("carol", "li", "sam", "mei"):
        for category in ("travel", "lodging", "entertainment", "office", "meals"):
            if (member, category) != ("carol", "meals"):
                await services.budgets.set(cast.fiona.id, f"member:{member}", category,
                                           "2026-11", "3000")
    page = await open_budgets(portal, cast.fiona)
    overview = await services.budgets.overview(cast.fiona.id)
    assert overview.pages.count == 2
    assert await shown_budgets(page) == core_budgets(overview)
    labels = [label for label, *_ in await shown_budgets(page)]
    assert labels[:3] == ["All categories · East region · 2026-Q4",
                          "Travel · East region · 2026-11",
                          "All categories · West region · 2026-11"]
    assert await page.locator(".money .pager").inner_text() == "◀\n1/2\n▶"
    await page.get_by_role("button", name="Next page").click()
    await page.locator(".money .pager").get_by_text("2/2").wait_for()
    assert await shown_budgets(page) == core_budgets(
        await services.budgets.overview(cast.fiona.id, page=1))
    assert await page.get_by_role("button", name="Next page").is_disabled()
    stats = page.locator(".money .stats")
    assert await stats.locator(".scope").inner_text() == (
        "Claims of the whole organisation, in CNY.")
    units = [label for label, *_ in await shown_chart(page, "unit")]
    assert {"East region", "West region"} <= set(units)
    view = await services.expense_stats.stats(cast.fiona.id, NOV, top=TOP)
    assert await shown_chart(page, "unit") == core_chart(view, "unit")
    assert await stats.locator(".total .amount").inner_text() == "102,030.58"
    await portal.screenshot(page, "finance")
    assert portal.page_errors() == []


async def test_in_chinese_with_the_bot_s_words(portal, cast, org_database):
    await add_claims(org_database, EAST_AND_WEST)
    page = await open_budgets(portal, cast.erin, language="zh-hans")
    assert await page.locator('#tabs [aria-selected="true"]').inner_text() == "预算"
    stats = page.locator(".money .stats")
    assert await stats.locator(".title").inner_text() == "费用 2026-11 · 已批准 + 待审批"
    assert await stats.locator(".scope").inner_text() == "您负责的部门的报销，单位 CNY。"
    assert [await h.inner_text() for h in await stats.locator("h3").all()] == [
        "按类别", "按核算单位", "按成员", "按商机", "按消费当日的商机阶段"]
    assert ("差旅", "1,234.66") in [
        (label, amount) for label, amount, _ in await shown_chart(page, "category")]
    assert await page.locator(".money .budgets .small.muted").first.inner_text() == (
        "已用 = 已批准 + 待审批")
    assert "差旅 · East region · 2026-11" in [
        label for label, *_ in await shown_budgets(page)]
    assert await page.locator('.money .chips [aria-pressed="true"]').inner_text() == "本月"
    await portal.screenshot(page, "chinese")
    assert portal.page_errors() == []


async def test_the_page_s_own_words_in_chinese(portal, cast, org_database):
    await add_claims(org_database, EAST_AND_WEST)
    page = await open_budgets(portal, cast.erin, language="zh-hans")
    assert await page.locator(".money .budgets h2").inner_text() == "当前预算"
    assert await page.get_by_role("button", name="查看").count() == 1
    assert await page.locator(".money .total .count").inner_text() == "共 7 笔"
    assert await page.get_by_label("其他期间").count() == 1
    await portal.screenshot(page, "chinese-own-words")
    assert portal.page_errors() == []
