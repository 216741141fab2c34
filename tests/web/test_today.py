"""Today, a person's month and days over the Mini App's JSON: whom a manager sees (their
subtree, as /team), what a day holds (as /calendar), watermarked photos, and bad input refused
in the member's language, on each backend."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import event

from bot.i18n import Translator
from bot.texts import REFUSALS
from storage.photos import PhotoStore
from tests.days import checked_in, logged_day, planned_items, visit_photo
from tests.example_org import shanghai
from tests.pictures import jpeg, scene
from tests.web.conftest import CAROL, DANA, ERIN, FIONA, LI, SAM
from web.views.today import BAD_DAY, BAD_MONTH

EN = Translator("en")
THU = date(2026, 11, 26)  # the test clock's day in Shanghai
PUDONG = (31.2304, 121.5370)  # Pudong Medical Supplies' site in the example org


@pytest.fixture
async def ids(services, database) -> dict[str, int]:
    async with database.uow(read_only=True) as uow:
        return {m.key: m.id for m in await uow.members.all()}


@pytest.fixture
async def east_today(services, database) -> dict[str, int]:
    """Carol planned, visited Harbor Logistics and logged; Li checked in at a map-picked,
    inaccurate point; Sam (West) checked in too. The check-ins' ids by person."""
    await planned_items(database, "carol", THU, [("Visit Harbor", "done"),
                                                 ("Call Pudong", "not_done")],
                        customer="harbor-logistics")
    carol = await checked_in(database, "carol", shanghai(26, 9, 30),
                             customer="harbor-logistics")
    await logged_day(database, "carol", THU, ("Walk-in at Xihu",), note="Busy morning")
    li = await checked_in(database, "li", shanghai(26, 9, 40), lat=PUDONG[0], lon=PUDONG[1],
                          flags="map_picked,low_accuracy")
    sam = await checked_in(database, "sam", shanghai(26, 8, 15), customer="pudong-medical",
                           lat=PUDONG[0], lon=PUDONG[1])
    return {"carol": carol, "li": li, "sam": sam}


def refusal(code: str, t: Translator = EN) -> str:
    return t(REFUSALS[code])


async def test_a_manager_sees_exactly_her_subtree_flagged_first(web, east_today):
    answer = await web(ERIN).get("/app/api/today")
    assert answer.status_code == 200
    today = answer.json()
    assert today["title"] == "Your team today — Thu 26 Nov"
    assert today["legend"] == "plan / check-ins / log · this week's execution"
    assert [(r["name"], r["planned"], r["check_ins"], r["flagged"], r["logged"], r["week"])
            for r in today["rows"]] == [("李伟", False, 1, 1, False, "—"),
                                        ("Carol Lin", True, 1, 0, True, "50%")]
    assert [d["name"] for d in today["departments"]] == ["East region"]
    assert {r["department"] for r in today["rows"]} == {today["departments"][0]["id"]}
    assert today["flag_note"].startswith("⚠ a check-in today carries a trust flag")
    # Sam's check-in is West's: not on Erin's map, nor his customer's site.
    assert [(c["id"], c["time"], c["place"], c["flags"]) for c in today["check_ins"]] == [
        (east_today["carol"], "09:30", "Harbor Logistics", ""),
        (east_today["li"], "09:40", "no customer's site", "low accuracy, picked on the map")]
    assert today["check_ins"][1]["lat"] == PUDONG[0] and today["check_ins"][1]["lon"] == PUDONG[1]
    assert [(s["name"], s["lat"], s["lon"], s["radius"]) for s in today["sites"]] == [
        ("Harbor Logistics", 31.24, 121.49, 150)]


async def test_the_head_sees_every_department_as_a_tree(web, east_today):
    today = (await web(DANA).get("/app/api/today")).json()
    departments = {d["name"]: d for d in today["departments"]}
    # Dana is an admin as well: Finance is hers to see too.
    assert [(d["name"], d["depth"]) for d in today["departments"]] == [
        ("Finance", 0), ("Sales", 0), ("East region", 1), ("West region", 1)]
    assert sorted(departments["Sales"]["within"]) == sorted(
        departments[name]["id"] for name in ("Sales", "East region", "West region"))
    assert departments["East region"]["within"] == [departments["East region"]["id"]]
    names = [r["name"] for r in today["rows"]]
    assert names[0] == "李伟" and "Dana Whitfield" not in names
    assert {"Sam Okafor", "Fiona Grant", "Walt Moreno", "Erin Zhao"} <= set(names)
    assert {s["name"] for s in today["sites"]} == {"Harbor Logistics", "Pudong Medical Supplies"}


async def test_today_reads_the_same_few_queries_however_many_check_ins(web, services, database,
                                                                      east_today):
    statements = []

    def counted(*args) -> None:
        statements.append(args[2])

    client = web(ERIN)
    await client.get("/app/api/today")  # whatever the first call reads once
    event.listen(database.engine.sync_engine, "before_cursor_execute", counted)
    try:
        await client.get("/app/api/today")
        few = len(statements)
        for minute in range(40):
            await checked_in(database, "carol" if minute % 2 else "li", shanghai(26, 8, minute),
                             customer="pudong-medical" if minute % 3 else "harbor-logistics")
        statements.clear()
        today = (await client.get("/app/api/today")).json()
        many = len(statements)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", counted)
    assert len(today["check_ins"]) == 42 and len(today["sites"]) == 2
    assert 0 < many == few


async def test_a_rep_is_refused_the_team(web, east_today):
    answer = await web(CAROL).get("/app/api/today")
    assert answer.status_code == 403
    assert answer.json() == {"error": "team_managers_only",
                             "message": refusal("team_managers_only")}


async def test_a_persons_month_has_the_calendars_marks(web, ids, east_today, database):
    await checked_in(database, "carol", shanghai(23, 15), flags="map_picked")
    await planned_items(database, "carol", date(2026, 11, 25), [("Call Pudong", "open")])
    answer = await web(ERIN).get(f"/app/api/people/{ids['carol']}/month",
                                 params={"month": "2026-11"})
    assert answer.status_code == 200
    month = answer.json()
    assert month["title"] == "Carol Lin — Nov 2026" and month["own"] is False
    assert (month["month"], month["previous"], month["next"]) == ("2026-11", "2026-10",
                                                                   "2026-12")
    assert month["weekdays"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert month["lead"] == 6  # 1 Nov 2026 is a Sunday
    assert month["today"] == "2026-11-26"
    marks = {d["n"]: d["mark"] for d in month["days"]}
    assert [marks[n] for n in (23, 24, 25, 26, 27)] == ["⚠", "", "•", "✓", ""]
    assert len(month["days"]) == 30
    assert month["summary"] == "Days with a plan: 2 · with a log: 1 · check-ins: 2"
    assert month["note"] is None


async def test_ones_own_month_and_a_month_beyond_the_calendar(web, ids):
    month = (await web(CAROL).get(f"/app/api/people/{ids['carol']}/month")).json()
    assert month["title"] == "My schedule — Nov 2026" and month["own"] is True
    far = (await web(CAROL).get(f"/app/api/people/{ids['carol']}/month",
                                params={"month": "2031-01"})).json()
    assert (far["month"], far["next"], far["previous"]) == ("2027-02", None, "2027-01")
    assert far["note"] == "That is as far as the calendar goes."


@pytest.mark.parametrize("who, whose", [(ERIN, "sam"), (CAROL, "li"), (FIONA, "carol"),
                                        (SAM, "carol")])
async def test_someone_elses_person_is_not_shown(web, ids, east_today, who, whose):
    member = ids[whose]
    client = web(who)
    for path in (f"people/{member}/month", f"people/{member}/days/2026-11-26",
                 f"people/{member}/days/2026-11-26/photos/0"):
        answer = await client.get(f"/app/api/{path}")
        assert answer.status_code == 404, path
        assert answer.json() == {"error": "member_not_visible",
                                 "message": refusal("member_not_visible")}


async def test_a_day_in_full_as_the_calendar_shows_it(web, ids, east_today):
    answer = await web(ERIN).get(f"/app/api/people/{ids['carol']}/days/2026-11-26")
    assert answer.status_code == 200
    day = answer.json()
    assert day["title"] == "Carol Lin — Thu 26 Nov" and day["month"] == "2026-11"
    assert day["plan"]["summary"] == "Done 1 of 2 (50%), verified 0%"
    assert [(i["icon"], i["text"], i["customer"]) for i in day["plan"]["items"]] == [
        ("✅", "Visit Harbor", "Harbor Logistics"), ("❌", "Call Pudong", "Harbor Logistics")]
    assert day["log"]["written"] is True
    assert day["log"]["entries"] == [{"text": "Walk-in at Xihu", "customer": None}]
    assert day["log"]["note"] == "Note: Busy morning"
    [visit] = day["check_ins"]
    assert (visit["time"], visit["place"], visit["flags"], visit["photos"]) == (
        "09:30", "Harbor Logistics", "", 0)
    assert visit["map"] == "https://maps.google.com/?q=31.240000,121.490000"
    assert day["photos"] == [] and day["no_check_ins"] is None


async def test_an_empty_day_says_so(web, ids):
    day = (await web(CAROL).get(f"/app/api/people/{ids['carol']}/days/2026-11-20")).json()
    assert day["title"] == "My day — Fri 20 Nov"
    assert day["plan"] == {"summary": None, "items": [], "empty": "No plan for this day."}
    assert day["log"]["empty"] == "No work log for this day."
    assert day["no_check_ins"] == "No check-ins on this day."


async def test_the_days_photos_come_watermarked(web, ids, east_today, database, tmp_path):
    store = PhotoStore(tmp_path / "photos")
    originals = [jpeg(scene(1)), jpeg(scene(2))]
    for data in originals:
        await visit_photo(database, "li", east_today["li"], store.save(data).sha256)
    client = web(ERIN)
    day = (await client.get(f"/app/api/people/{ids['li']}/days/2026-11-26")).json()
    assert day["check_ins"][0]["photos"] == 2
    assert day["photos"] == [f"people/{ids['li']}/days/2026-11-26/photos/{n}" for n in (0, 1)]
    for path, original in zip(day["photos"], originals, strict=True):
        answer = await client.get(f"/app/api/{path}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/jpeg"
        assert answer.headers["cache-control"] == "no-store"
        shown = Image.open(io.BytesIO(answer.content))
        assert shown.format == "JPEG" and shown.size == (800, 600)
        assert answer.content != original  # the watermark is drawn on it
    past = await client.get(f"/app/api/people/{ids['li']}/days/2026-11-26/photos/2")
    assert past.status_code == 404 and past.json()["error"] == "not_found"


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "0000-05", "26-11", "2026-1",
                                   "november", "2026-11-01", "２０２６-11"])
async def test_a_month_that_is_no_month_is_refused(web, ids, month):
    answer = await web(ERIN).get(f"/app/api/people/{ids['carol']}/month",
                                 params={"month": month})
    assert answer.status_code == 400
    assert answer.json() == {"error": "bad_month", "message": EN(BAD_MONTH)}


@pytest.mark.parametrize("day", ["2026-02-30", "2026-11-31", "yesterday", "20261126",
                                 "2026-11-26T00:00", "2026-1-5"])
async def test_a_day_that_is_no_day_is_refused(web, ids, day):
    for path in (f"days/{day}", f"days/{day}/photos/0"):
        answer = await web(ERIN).get(f"/app/api/people/{ids['carol']}/{path}")
        assert answer.status_code == 400, path
        assert answer.json() == {"error": "bad_day", "message": EN(BAD_DAY)}


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2024-10-31", "2027-03-01"])
async def test_a_day_beyond_the_calendar_is_refused(web, ids, day):
    for path in ("", "/photos/0"):
        answer = await web(CAROL).get(f"/app/api/people/{ids['carol']}/days/{day}{path}")
        assert answer.status_code == 409
        assert answer.json() == {"error": "day_out_of_range",
                                 "message": "That day is outside the calendar."}


@pytest.mark.parametrize("path", ["people/0/month", "people/-1/month", "people/me/month",
                                  "people/2147483648/month", "people/1/days/2026-11-26/photos/-1",
                                  "people/1/days/2026-11-26/photos/10000"])
async def test_ids_out_of_bounds_are_refused(web, path):
    answer = await web(ERIN).get(f"/app/api/{path}")
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


async def test_a_month_with_more_than_asked_is_refused(web, ids):
    answer = await web(ERIN).get(f"/app/api/people/{ids['carol']}/month",
                                 params={"month": "2026-11", "member": "1"})
    assert answer.status_code == 400


async def test_a_chinese_rep_reads_her_day_and_refusals_in_chinese(web, ids, east_today):
    client = web(LI, language="zh-hans")
    day = (await client.get(f"/app/api/people/{ids['li']}/days/2026-11-26")).json()
    assert day["title"] == "我的一天 — 11月26日 周四"
    assert day["check_ins"][0]["flags"] == "精度低、地图选点"
    assert day["check_ins"][0]["place"] == "不在客户地点"
    refused = await client.get("/app/api/today")
    assert refused.json()["message"] == refusal("team_managers_only", Translator("zh_Hans"))
    assert refused.json()["message"] != refusal("team_managers_only")
