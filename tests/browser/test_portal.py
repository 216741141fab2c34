"""The Mini App's frame in Chromium: who gets in, in which language and colours."""

from __future__ import annotations

from datetime import timedelta

from tests.browser.conftest import DARK

FOREIGN_TOKEN = "987654321:another-bot-entirely"


async def test_a_manager_opens_the_dashboard_as_telegram_launches_it(portal, cast):
    page = await portal.open(cast.erin)
    tabs = page.locator("#tabs button")
    await tabs.first.wait_for()
    assert await tabs.all_inner_texts() == ["Today", "Approvals", "Budgets", "My claims",
                                            "Pipeline"]
    assert await page.locator("#title").inner_text() == "Harbor Trading Co."
    await portal.screenshot(page, "manager")
    assert portal.page_errors() == []


async def test_a_rep_gets_their_own_day_and_claims(portal, cast):
    page = await portal.open(cast.carol)
    tabs = page.locator("#tabs button")
    await tabs.first.wait_for()
    assert await tabs.all_inner_texts() == ["My day", "My claims", "Pipeline"]


async def test_forged_expired_and_foreign_init_data_get_nothing(portal, cast):
    cases = {
        "forged": portal.init_data(cast.erin).replace("Erin", "Dana"),
        "foreign-bot": portal.init_data(cast.erin, token=FOREIGN_TOKEN),
        "expired": portal.init_data(cast.erin,
                                    signed_at=portal.clock.now() - timedelta(hours=2)),
        "none": "",
    }
    said = {}
    for label, init_data in cases.items():
        page = await portal.open(init_data=init_data)
        problem = page.locator("#problem")
        await problem.wait_for()
        said[label] = await problem.inner_text()
        assert await page.locator("#tabs button").count() == 0
        await portal.screenshot(page, label)
    assert said["forged"].startswith("This sign-in is not valid for this bot.")
    assert said["foreign-bot"] == said["forged"]
    assert said["expired"].startswith("This page has been open too long.")
    assert said["none"].startswith("Open this page from the bot in Telegram")


async def test_a_stranger_is_told_the_dashboard_is_for_the_team(portal, cast):
    page = await portal.open(cast.stranger)
    problem = page.locator("#problem")
    await problem.wait_for()
    assert (await problem.inner_text()).startswith("This dashboard is for members of the team.")


async def test_the_chinese_ui(portal, cast):
    page = await portal.open(cast.li)
    tabs = page.locator("#tabs button")
    await tabs.first.wait_for()
    assert await tabs.all_inner_texts() == ["我的一天", "我的报销", "销售漏斗"]
    assert await page.evaluate("document.documentElement.lang") == "zh-Hans"
    await portal.screenshot(page, "chinese")


async def test_the_dark_theme(portal, cast):
    page = await portal.open(cast.erin, theme=DARK)
    await page.locator("#tabs button").first.wait_for()
    assert await page.evaluate("document.documentElement.dataset.scheme") == "dark"
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(23, 33, 43)"
    await portal.screenshot(page, "dark")
