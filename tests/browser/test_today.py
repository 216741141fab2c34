"""Today in Chromium: the team's day made through the chat, flagged people first, the filter,
the search and the map (with no tiles to be had), a person's month and day with a visit
photo, and the rep's own day."""

from __future__ import annotations

import pytest

from tests.chat.conftest import last
from tests.chat.conftest import same_time as same_time  # the stand-in dates by the test's clock
from tests.pictures import jpeg, scene

HARBOR = (31.2400, 121.4900)
PUDONG = (31.2304, 121.5370)

pytestmark = pytest.mark.usefixtures("same_time")


async def press(stage, user, label: str) -> None:
    await stage.act(user.press(last(stage, user), label))


async def team_day(stage, cast) -> None:
    """Thursday 10:00 in the chat: Carol plans a visit to Harbor Logistics, checks in there
    with a photo and logs it; Li checks in at a point picked on the map; Sam (West) checks in
    at Pudong Medical."""
    carol = cast.carol
    await stage.act(carol.send("/plan today"))
    await stage.act(carol.send("Visit Harbor"))
    await press(stage, carol, "Harbor Logistics")
    await press(stage, carol, "⏭ No set time")
    await press(stage, carol, "✅ Save plan")
    await stage.act(carol.share_location(*HARBOR, horizontal_accuracy=10))
    await stage.act(carol.send_photo(jpeg(scene(3))))
    await stage.act(carol.send("/log"))
    await press(stage, carol, "✅ 1")
    await press(stage, carol, "✔️ Finish")
    await stage.act(cast.li.share_location(*PUDONG))  # no accuracy: picked on the map
    await stage.act(cast.sam.share_location(*PUDONG, horizontal_accuracy=10))


async def no_tiles(page) -> None:
    """This machine has no internet: tile requests fail at once rather than hang."""
    await page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())


async def open_today(portal, user):
    page = await portal.open(user)
    await no_tiles(page)
    await page.locator("[data-member]").first.wait_for()
    return page


async def people(page) -> list[str]:
    return await page.locator("[data-member]:visible .name").all_inner_texts()


async def test_erin_sees_her_team_flagged_first_with_the_map(portal, cast):
    await team_day(portal.stage, cast)
    page = await open_today(portal, cast.erin)
    view = page.locator(".today-view")
    assert await view.locator("h2").inner_text() == "Your team today — Thu 26 Nov"
    assert await people(page) == ["李伟", "Carol Lin"]  # Sam is West's
    rows = page.locator("[data-member]")
    assert await rows.nth(0).locator(".marks").inner_text() == "Plan ❌ · Check-ins 1 ⚠ · Log ❌"
    assert await rows.nth(1).locator(".marks").inner_text() == "Plan ✅ · Check-ins 1 · Log ✅"
    assert await rows.nth(1).locator(".week").inner_text() == "100%"
    assert await page.locator(".count").inner_text() == "Shown: 2 of 2"
    assert (await view.locator(".flag").last.inner_text()).startswith(
        "⚠ a check-in today carries a trust flag")
    # The map is there, drawn by Leaflet, with its attribution as text; its tiles never come.
    area = page.locator(".map.leaflet-container")
    await area.wait_for()
    assert (await area.bounding_box())["height"] >= 200
    await page.locator(".map .leaflet-overlay-pane canvas").wait_for(state="attached")
    assert await page.locator(".attribution").inner_text() == "© OpenStreetMap contributors"
    assert await page.locator("select[name=department]").count() == 0  # one department
    await portal.screenshot(page, "today")
    assert portal.page_errors() == []


async def test_search_narrows_the_list_and_says_when_nobody_matches(portal, cast):
    await team_day(portal.stage, cast)
    page = await open_today(portal, cast.erin)
    search = page.locator("input[name=search]")
    await search.fill("caro")
    assert await people(page) == ["Carol Lin"]
    assert await page.locator(".count").inner_text() == "Shown: 1 of 2"
    await search.fill("李")
    assert await people(page) == ["李伟"]
    await search.fill("nobody by this name")
    assert await people(page) == []
    assert await page.locator(".nobody").is_visible()
    await portal.screenshot(page, "nobody")
    await search.fill("")
    assert await people(page) == ["李伟", "Carol Lin"]
    assert not await page.locator(".nobody").is_visible()
    assert portal.page_errors() == []


async def test_the_head_filters_by_department_with_the_ones_below_it(portal, cast):
    await team_day(portal.stage, cast)
    page = await open_today(portal, cast.dana)
    department = page.locator("select[name=department]")
    options = await department.locator("option").all_inner_texts()
    assert [o.strip() for o in options] == ["All departments", "Finance", "Sales",
                                            "East region", "West region"]
    everyone = await people(page)
    assert everyone[:2] == ["李伟", "Carol Lin"]  # flagged first, then by name
    assert "Fiona Grant" in everyone and "Sam Okafor" in everyone
    await department.select_option(label="\u00a0\u00a0West region")
    assert await people(page) == ["Sam Okafor", "Walt Moreno", "王梅"]
    await department.select_option(label="Sales")
    assert set(await people(page)) == set(everyone) - {"Fiona Grant"}
    await page.locator("input[name=search]").fill("erin")
    assert await people(page) == ["Erin Zhao"]
    await portal.screenshot(page, "filtered")
    assert portal.page_errors() == []


async def test_a_tap_on_a_person_opens_their_month_then_a_day_with_its_photo(portal, cast):
    await team_day(portal.stage, cast)
    page = await open_today(portal, cast.erin)
    await page.locator("[data-member]", has_text="Carol Lin").click()
    month = page.locator("[data-screen=month] .calendar")
    await month.wait_for()
    assert await month.locator("h2").inner_text() == "Carol Lin — Nov 2026"
    assert await month.locator(".weekday").all_inner_texts() == [
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    today = month.locator("[data-day='2026-11-26']")
    assert await today.inner_text() == "26\n✓"
    assert "today" in await today.get_attribute("class")
    assert await month.locator(".summary").inner_text() == (
        "Days with a plan: 1 · with a log: 1 · check-ins: 1")
    assert "null" not in await month.inner_text()
    await portal.screenshot(page, "month")
    await today.click()
    day = page.locator("[data-screen=day] .today-view.day")
    await day.wait_for()
    assert await day.locator("h2").inner_text() == "Carol Lin — Thu 26 Nov"
    assert await day.locator(".plan li").all_inner_texts() == [
        "✅ Visit Harbor — Harbor Logistics (visit verified)"]
    assert await day.locator(".visits li").inner_text() == "📍 10:00 Harbor Logistics · map · 📷 1"
    image = day.locator(".photos img")
    await image.wait_for()
    assert (await image.get_attribute("src")).startswith("blob:")
    # Loaded and decoded: the watermarked JPEG as the server sent it.
    assert await image.evaluate(
        "img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])") == [800, 600]
    await portal.screenshot(page, "day")
    await page.locator("#back").click()
    await month.wait_for()
    assert await month.locator("h2").inner_text() == "Carol Lin — Nov 2026"
    await page.locator("#back").click()
    await page.locator("[data-member]").first.wait_for()
    assert portal.page_errors() == []


async def test_carols_my_day_shows_her_today_and_her_month(portal, cast):
    await team_day(portal.stage, cast)
    page = await portal.open(cast.carol)
    day = page.locator("[data-screen=mine] .today-view.day")
    await day.wait_for()
    assert await day.locator("h2").inner_text() == "My day — Thu 26 Nov"
    assert await day.locator(".plan p").first.inner_text() == "Done 1 of 1 (100%), verified 100%"
    assert await day.locator(".log p").all_inner_texts() == [
        "Written; no unplanned work or notes."]
    await day.locator(".photos img").wait_for()
    month = page.locator("[data-screen=mine] .calendar")
    assert await month.locator("h2").inner_text() == "My schedule — Nov 2026"
    await portal.screenshot(page, "my-day")
    await month.get_by_role("button", name="Next month").click()
    turned = page.locator("[data-screen=mine] .calendar h2")
    await turned.filter(has_text="Dec 2026").wait_for()
    assert await page.locator("[data-day='2026-12-01']").count() == 1
    await page.locator("[data-day='2026-12-03']").click()
    other = page.locator("[data-screen=day] .today-view.day h2")
    await other.wait_for()
    assert await other.inner_text() == "My day — Thu 3 Dec"
    assert await page.locator("[data-screen=day] .plan p").all_inner_texts() == [
        "No plan for this day."]
    await page.locator("#back").click()
    # Back to the month it was turned to.
    await page.locator("[data-screen=mine] .calendar h2").filter(has_text="Dec 2026").wait_for()
    assert portal.page_errors() == []


@pytest.mark.parametrize("config_sections", [{"web": {"tile_url": ""}}])
async def test_no_tiles_configured_means_no_map_and_the_list_stays(portal, cast):
    await team_day(portal.stage, cast)
    page = await open_today(portal, cast.erin)
    assert await people(page) == ["李伟", "Carol Lin"]
    assert await page.locator(".map").count() == 0
    assert portal.page_errors() == []


async def test_a_team_with_no_check_ins_yet(portal, cast):
    page = await open_today(portal, cast.erin)
    assert await people(page) == ["Carol Lin", "李伟"]
    assert await page.locator(".map").count() == 0
    assert await page.locator(".today-view").get_by_text("No check-ins today yet.").is_visible()
    assert portal.page_errors() == []


async def test_li_reads_her_day_in_chinese(portal, cast):
    await team_day(portal.stage, cast)
    page = await portal.open(cast.li)
    day = page.locator("[data-screen=mine] .today-view.day")
    await day.wait_for()
    assert await day.locator("h2").inner_text() == "我的一天 — 11月26日 周四"
    assert await day.locator("h3").all_inner_texts() == ["计划", "日志", "签到"]
    assert await day.locator(".visits li").inner_text() == (
        "📍 10:00 Pudong Medical Supplies ⚠ 地图选点 · 地图")
    month = page.locator("[data-screen=mine] .calendar")
    assert await month.locator("h2").inner_text() == "我的日程 — 2026年11月"
    assert await month.get_by_role("button", name="下个月").count() == 1
    await portal.screenshot(page, "chinese")
    assert portal.page_errors() == []
