"""The Pipeline tab in Chromium: the board, win rate and funnel read back as core's figures,
a stage's opportunities and a card worked through the chat with its timeline and photos, the
goals with their progress and pace, and what a rep and a Chinese-speaking rep see."""

from __future__ import annotations

from datetime import date

from bot.funnel import step_text
from bot.handlers.goals import METRICS, pace_text
from bot.handlers.opportunities import funnel_steps
from bot.i18n import Translator
from core.domain.money import format_amount
from core.domain.period import Period
from tests.chat.test_opportunity_card import a_deal_worked_from_its_card
from tests.service.test_opportunities import create

EN, ZH = Translator("en"), Translator("zh_Hans")
Q4 = Period.parse("2026-Q4")


def services_of(portal):
    return portal.stage.application.bot_data["services"]


async def east_and_west(portal, database) -> dict[str, int]:
    """East's deals at several stages, one won and one lost this quarter; one of West's."""
    deals, clock = services_of(portal).opportunities, portal.clock
    erin, carol, li, sam = 1002, 2001, 2002, 2003
    made = {
        "fleet": await create(deals, database, title="Cold-chain fleet", amount="120000"),
        "pilot": await create(deals, database, title="Pilot", amount="40000.50",
                              customer="pudong-medical"),
        "looms": await create(deals, database, account_id=li, title="Looms", amount="50000",
                              customer="xihu-textiles"),
        "scanners": await create(deals, database, title="Scanners", amount="9999.99",
                                 customer="pudong-medical", close=date(2026, 11, 28)),
        "west": await create(deals, database, account_id=sam, title="Frozen dumplings",
                             amount="80000", customer="chengdu-foods"),
    }
    clock.advance(days=1)
    await deals.move(carol, made["fleet"].id, "proposal")
    await deals.move(li, made["looms"].id, "won")
    await deals.move(erin, made["pilot"].id, "lost", reason="went with a competitor")
    clock.advance(hours=3)
    return {key: opp.id for key, opp in made.items()}


async def open_board(portal, user, **options):
    page = await portal.open(user, query="?view=pipeline", **options)
    await page.locator(".pipeline .stages").wait_for()
    return page


async def shown_stages(page) -> list[tuple[str, str, str, str]]:
    return [tuple([await row.locator(f".{part}").inner_text()
                   for part in ("name", "count", "amount", "weighted")])
            for row in await page.locator(".pipeline button.stage").all()]


def core_stages(view, t: Translator = EN) -> list[tuple[str, str, str, str]]:
    return [(view.pipeline.get(line.stage).label(t.language), str(line.count),
             format_amount(line.amount), format_amount(line.weighted)) for line in view.lines]


async def shown_funnel(page) -> list[tuple[str, str, str]]:
    return [(await step.locator(".label").inner_text(), await step.locator(".text").inner_text(),
             await step.locator(".fill").evaluate("node => node.style.width"))
            for step in await page.locator(".pipeline .funnel .step").all()]


async def test_the_manager_s_board_is_what_core_counts(portal, cast, org_database):
    await east_and_west(portal, org_database)
    page = await open_board(portal, cast.erin)
    view = await services_of(portal).opportunities.stats(cast.erin.id, Q4)
    assert await page.locator(".pipeline h2.title").inner_text() == "Pipeline 2026-Q4"
    assert await shown_stages(page) == core_stages(view)
    # Counted here from the deals made above too, not only by the code under test.
    assert await shown_stages(page) == [
        ("Lead", "1", "9,999.99", "1,000.00"), ("Qualified", "0", "0.00", "0.00"),
        ("Proposal", "1", "120,000.00", "60,000.00"), ("Negotiation", "0", "0.00", "0.00"),
        ("Won", "1", "50,000.00", "50,000.00"), ("Lost", "1", "40,000.50", "0.00")]
    total = page.locator(".pipeline .stage.total")
    assert await total.inner_text() == "Open\n2\n129,999.99\n61,000.00"
    # The win rate: its words from the chat, and a bar as long as the rate.
    rate = page.locator(".pipeline .win-rate")
    assert await rate.locator(".text").inner_text() == "Win rate: 50.0% (1 won, 1 lost)"
    assert view.win_rate == 50
    assert await rate.locator(".fill").evaluate("node => node.style.width") == "50%"
    # The funnel: open stages and won, each bar as wide as its amount against the widest.
    steps = funnel_steps(view, EN)
    widest = max(step.amount for step in steps)
    assert await shown_funnel(page) == [
        (step.label, step_text(step), f"{int(step.amount * 100 / widest)}%" if step.amount
         else "0%") for step in steps]
    assert await shown_funnel(page) == [
        ("Lead", "1 · 9,999.99", "8%"), ("Qualified", "0 · 0.00", "0%"),
        ("Proposal", "1 · 120,000.00", "100%"), ("Negotiation", "0 · 0.00", "0%"),
        ("Won", "1 · 50,000.00", "41%")]
    assert await page.locator(".pipeline .days").inner_text() == \
        "Average days per stage: Lead 1.0"
    assert await page.locator(".pipeline .people tr").all_inner_texts() == [
        "Carol Lin\t2\t129,999.99\t61,000.00"]
    assert "Frozen dumplings" not in await page.locator("main").inner_text()
    await portal.screenshot(page, "board")
    # Another period: what closed then counts; a period core cannot read is refused.
    await page.get_by_role("button", name="This year").click()
    await page.get_by_text("Pipeline 2026", exact=True).wait_for()
    await page.get_by_label("Another period").fill("2026-Q3")
    await page.get_by_role("button", name="Show").click()
    await page.get_by_text("Pipeline 2026-Q3", exact=True).wait_for()
    assert await rate.locator(".text").inner_text() == "Win rate: — (0 won, 0 lost)"
    assert await shown_stages(page) == core_stages(
        await services_of(portal).opportunities.stats(cast.erin.id, Period.parse("2026-Q3")))
    await page.get_by_label("Another period").fill("2026-13")
    await page.get_by_role("button", name="Show").click()
    problem = page.locator("#problem")
    await problem.wait_for()
    assert await problem.inner_text() == "Please give a period like 2026-11, 2026-Q4 or 2026."
    assert await page.locator(".pipeline h2.title").inner_text() == "Pipeline 2026-Q3"
    assert portal.page_errors() == []


async def test_a_stage_lists_its_deals_and_a_card_shows_its_timeline(portal, stage, cast, clock,
                                                                    org_database):
    await a_deal_worked_from_its_card(stage, cast, clock)
    page = await open_board(portal, cast.erin)
    await page.locator('.pipeline button.stage[data-stage="proposal"]').click()
    listing = page.locator(".pipeline .opps")
    await listing.locator(".opp").first.wait_for()
    assert await page.locator(".pipeline h2.title").inner_text() == "Opportunities in Proposal"
    assert await listing.locator(".opp").all_inner_texts() == [
        "Cold-chain fleet\nHarbor Logistics\nCNY 120,000.00 · Proposal · Sun 20 Dec · "
        "👤 Carol Lin"]
    await portal.screenshot(page, "stage")
    await listing.get_by_role("button", name="Cold-chain fleet").click()
    await page.locator(".pipeline .timeline .entry").first.wait_for()
    assert await page.locator(".pipeline h2.title").inner_text() == "Cold-chain fleet"
    assert await page.locator(".pipeline .pill").inner_text() == "Proposal"
    assert await page.locator(".pipeline .facts p").all_inner_texts() == [
        "🏢 Harbor Logistics", "👤 Carol Lin", "💰 CNY 120,000.00 · 50% → weighted CNY 60,000.00",
        "📅 Expected close: Sun 20 Dec",
        "🧾 Expenses (approved and pending): CNY 268.00 — Meals CNY 268.00"]
    # The chat's card, line for line (see tests/chat/test_opportunity_card.py).
    assert await page.locator(".pipeline .timeline .entry").all_inner_texts() == [
        "Fri 27 Nov · Carol Lin\n🗓 planned: Visit Harbor Logistics · 🏢 Harbor Logistics ⏳",
        "Thu 26 Nov 11:50 · Carol Lin\n🧾 EXP-2026-000001 · Meals · CNY 268.00 · "
        "⏳ waiting for approval",
        "Thu 26 Nov 10:20 · Carol Lin\n📍 check-in at Harbor Logistics · 📷 1 · map",
        "Thu 26 Nov 10:00 · Carol Lin\n🔀 created at Proposal"]
    link = page.locator(".pipeline .timeline a")
    assert (await link.get_attribute("href")).startswith("https://maps.google.com/?q=31.240")
    assert await page.locator(".pipeline .pager").count() == 0
    # The visit's photo, watermarked as the chat sends it.
    await page.get_by_role("button", name="📷 Photos (1)").click()
    photo = page.locator(".pipeline .photos img")
    await photo.wait_for()
    assert await photo.evaluate("node => node.complete && node.naturalWidth") == 640
    assert await page.locator(".pipeline .photos figcaption").inner_text() == \
        "Carol Lin · 2026-11-26 10:20 (Asia/Shanghai) · Harbor Logistics"
    await portal.screenshot(page, "card")
    # More than a page of timeline: older entries a tap away, and back.
    services = services_of(portal)
    [fleet] = (await services.opportunities.listed(cast.erin.id, stage="proposal")).items
    for n in range(8):
        clock.advance(minutes=1)
        await services.opportunities.add_note(cast.erin.id, fleet.id, f"call back about {n}")
    await page.locator("#back").click()
    await listing.get_by_role("button", name="Cold-chain fleet").click()
    await page.get_by_text("📝 call back about 7").wait_for()
    assert await page.locator(".pipeline .timeline .entry").count() == 10
    await page.get_by_role("button", name="Older ▶").click()
    await page.get_by_text("Timeline (newest first) · page 2").wait_for()
    assert await page.locator(".pipeline .timeline .entry").all_inner_texts() == [
        "Thu 26 Nov 10:20 · Carol Lin\n📍 check-in at Harbor Logistics · 📷 1 · map",
        "Thu 26 Nov 10:00 · Carol Lin\n🔀 created at Proposal"]
    await page.get_by_role("button", name="◀ Newer").click()
    await page.get_by_text("Timeline (newest first)", exact=True).wait_for()
    assert portal.page_errors() == []


async def test_goals_show_progress_and_the_pace_still_needed(portal, cast, org_database):
    services = services_of(portal)
    await east_and_west(portal, org_database)
    await services.goals.set(cast.erin.id, "member:carol", "new", "2026-11", "4")
    await services.goals.set(cast.erin.id, "member:li", "won", "2026-11", "40000")
    page = await open_board(portal, cast.erin)
    await page.get_by_role("button", name="Goals").click()
    await page.locator(".pipeline .goals.team .goal").first.wait_for()
    view = await services.goals.view(cast.erin.id)
    goals = page.locator(".pipeline .goals.team .goal")
    shown = [tuple([await goal.locator(f".{part}").inner_text()
                    for part in ("label", "percent", "figures", "pace")])
             for goal in await goals.all()]
    assert [(label, percent, pace) for label, percent, _, pace in shown] == [
        (f"{line.unit_name} · {EN(METRICS[line.progress.goal.metric])} · "
         f"{line.progress.goal.period.label}", f"{line.progress.percent}%",
         pace_text(line, "CNY", EN)) for line in view.team]
    by_label = {label: (percent, figures, pace) for label, percent, figures, pace in shown}
    assert by_label["李伟 · Won amount · 2026-11"] == ("125%", "CNY 50,000.00 / CNY 40,000.00",
                                                     "✅ Reached")
    assert by_label["Carol Lin · New opportunities · 2026-11"] == (
        "75%", "3 / 4", "1 more opportunity, about 1 per working day")
    assert by_label["East region · Won amount · 2026-Q4"][:2] == (
        "10%", "CNY 50,000.00 / CNY 500,000.00")
    widths = await goals.locator(".fill").evaluate_all("nodes => nodes.map(n => n.style.width)")
    assert widths == [f"{min(100, line.progress.percent)}%" for line in view.team]
    reached = page.locator(".pipeline .goal.reached .fill")
    assert await reached.evaluate("node => getComputedStyle(node).backgroundColor") == \
        "rgb(49, 162, 76)"
    assert await page.get_by_text("No goals for you in this period.").is_visible()
    await portal.screenshot(page, "goals")
    await page.get_by_role("button", name="This month").click()
    await page.locator('.pipeline .chips [aria-pressed="true"]').get_by_text(
        "This month").wait_for()
    assert await goals.locator(".label").all_inner_texts() == [
        "李伟 · Won amount · 2026-11", "Carol Lin · New opportunities · 2026-11"]
    assert portal.page_errors() == []


async def test_a_rep_sees_only_her_own_deals_and_goals(portal, cast, org_database):
    deals = await east_and_west(portal, org_database)
    await services_of(portal).goals.set(cast.erin.id, "member:carol", "visits", "2026-11", "5")
    await services_of(portal).goals.set(cast.erin.id, "member:li", "visits", "2026-11", "5")
    portal.clock.advance(days=2)  # the scanners were to close yesterday
    page = await open_board(portal, cast.carol)
    view = await services_of(portal).opportunities.stats(cast.carol.id, Q4)
    assert await shown_stages(page) == core_stages(view)
    assert [count for _, count, _, _ in await shown_stages(page)] == ["1", "0", "1", "0", "0",
                                                                       "1"]
    assert await page.locator(".pipeline .people").count() == 0
    assert (await page.locator(".pipeline .scope").inner_text()).startswith(
        "Opportunities of yours,")
    await page.get_by_role("button", name="All opportunities").click()
    await page.locator(".pipeline .opps .opp").first.wait_for()
    titles = await page.locator(".pipeline .opps .opp .name").all_inner_texts()
    assert titles == ["⚠️ Scanners", "Cold-chain fleet", "Pilot"]
    assert await page.locator(".pipeline .opp.overdue").count() == 1
    assert await page.get_by_text("⚠️ past its expected close date and still open.").is_visible()
    # Li's won looms are not hers: the card is refused in words, as the chat refuses it.
    answer = await page.evaluate(
        """async (id) => {
             const response = await fetch(`api/opportunities/${id}`, { headers: {
               Authorization: `tma ${window.Telegram.WebApp.initData}` } });
             return [response.status, (await response.json()).message];
           }""", deals["looms"])
    assert answer == [404, "I could not find that opportunity, or it is not one you can see."]
    await page.locator("#back").click()
    await page.get_by_role("button", name="Goals").click()
    await page.locator(".pipeline .goals.mine .goal").first.wait_for()
    assert await page.locator(".pipeline .goals .label").all_inner_texts() == ["Visits · 2026-11"]
    assert await page.locator(".pipeline .goals .figures").all_inner_texts() == ["0 / 5"]
    assert await page.locator(".pipeline .goals.team").count() == 0
    await portal.screenshot(page, "rep-goals")
    assert portal.page_errors() == []


async def test_a_chinese_rep_sees_the_stages_and_the_chat_s_words_in_chinese(portal, cast,
                                                                            org_database):
    await east_and_west(portal, org_database)
    page = await open_board(portal, cast.li)
    assert [name for name, *_ in await shown_stages(page)] == [
        "线索", "已确认", "方案报价", "商务谈判", "赢单", "输单"]
    assert await page.locator(".pipeline .win-rate .text").inner_text() == ZH(
        "Win rate: {rate} ({won} won, {lost} lost)", rate="100.0%", won=1, lost=0)
    assert await page.locator(".pipeline .title").first.inner_text() == ZH(
        "Pipeline {period}", period="2026-Q4")
    await page.locator('.pipeline button.stage[data-stage="won"]').click()
    await page.locator(".pipeline .opps .opp").first.wait_for()
    await page.locator(".pipeline .opps .opp").first.click()
    await page.locator(".pipeline .timeline .entry").first.wait_for()
    assert await page.locator(".pipeline .timeline .text").first.inner_text() == "🔀 线索 → 赢单"
    await portal.screenshot(page, "chinese-card")
    assert portal.page_errors() == []


async def test_the_pipeline_s_own_words_in_chinese(portal, cast, org_database):
    await east_and_west(portal, org_database)
    page = await open_board(portal, cast.li)
    assert await page.locator(".pipeline .win-rate h3").inner_text() == "赢单率"
    assert await page.locator(".pipeline .funnel h3").inner_text() == "漏斗图"
    assert await page.locator(".pipeline .stage.total .name").inner_text() == "进行中"
    await page.get_by_role("button", name="目标").click()
    await page.get_by_text("🎯 我的目标").wait_for()
    assert await page.get_by_text("本期间你没有目标。").is_visible()
    assert await page.locator(".pipeline h2.title").inner_text() == "目标"
    await portal.screenshot(page, "chinese-goals")
    assert portal.page_errors() == []
