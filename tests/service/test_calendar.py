"""My schedule and the team view against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from PIL import Image

from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.schedule.calendar import Month
from core.schedule.calendar import CalendarService, TeamService
from storage.photos import PhotoStore
from tests.days import checked_in, logged_day, notification_rows, planned_items, visit_photo
from tests.example_org import DEFAULTS, shanghai

CAROL, LI, SAM, ERIN, WALT, DANA = 2001, 2002, 2003, 1002, 1003, 1001
THU = date(2026, 11, 26)  # the test clock's day on the team's clock (10:00 in Shanghai)


def calendar(database, clock, photos=None) -> CalendarService:
    return CalendarService(database.uow, clock, DEFAULTS, photos)


def team(database, clock) -> TeamService:
    return TeamService(database.uow, clock, DEFAULTS)


async def test_month_marks_plan_log_and_check_ins_on_the_teams_days(org, clock):
    await planned_items(org, "carol", date(2026, 11, 25), [("Visit Harbor", "done")])
    await logged_day(org, "carol", date(2026, 11, 25))
    # 23:30 UTC on the 24th is already the 25th in Shanghai.
    await checked_in(org, "carol", datetime(2026, 11, 24, 23, 30, tzinfo=UTC),
                     customer="harbor-logistics")
    await checked_in(org, "carol", shanghai(26, 9), flags="map_picked")
    await planned_items(org, "li", date(2026, 11, 24), [("Li's own", "open")])
    view = await calendar(org, clock).month(CAROL)
    assert view.month == Month(2026, 11) and view.own and view.today == THU
    wed = view.days[date(2026, 11, 25)]
    assert (wed.planned, wed.logged, wed.check_ins, wed.flagged) == (True, True, 1, False)
    thu = view.days[THU]
    assert (thu.planned, thu.logged, thu.check_ins, thu.flagged) == (False, False, 1, True)
    assert view.days[date(2026, 11, 24)].empty  # Li's plan is not Carol's
    assert len(view.days) == 30


async def test_month_far_out_of_range_is_clamped(org, clock):
    service = calendar(org, clock)
    past = await service.month(CAROL, Month(1999, 1))
    assert past.clamped and past.month == Month(2024, 11) and not past.has_previous
    future = await service.month(CAROL, Month(2090, 12))
    assert future.clamped and future.month == Month(2027, 2) and not future.has_next


async def test_day_shows_items_with_outcomes_log_entries_and_check_ins(org, clock):
    await planned_items(org, "carol", THU, [("Visit Harbor", "done"), ("Call Pudong", "moved"),
                                            ("Quote", "not_done")], customer="harbor-logistics")
    await logged_day(org, "carol", THU, ("Walk-in at Xihu",), note="Long day")
    check_in = await checked_in(org, "carol", shanghai(26, 9, 30), customer="harbor-logistics",
                                lat=31.24, lon=121.49, flags="low_accuracy")
    await visit_photo(org, "carol", check_in, "a" * 64)
    day = await calendar(org, clock).day(CAROL, THU)
    assert [(i.text, i.outcome, i.customer) for i in day.items] == [
        ("Visit Harbor", "done", "Harbor Logistics"), ("Call Pudong", "moved", "Harbor Logistics"),
        ("Quote", "not_done", "Harbor Logistics")]
    assert day.execution.planned == 3 and day.execution.done == 1
    assert day.log.note == "Long day" and [e.text for e in day.entries] == ["Walk-in at Xihu"]
    [visit] = day.check_ins
    assert visit.customer == "Harbor Logistics" and visit.photos == 1 and day.photos == 1
    assert visit.map_link == "https://maps.google.com/?q=31.240000,121.490000"
    assert {f.value for f in visit.flags} == {"low_accuracy"}
    assert not day.can_rate  # nobody rates their own day


async def test_manager_sees_a_teammates_calendar_as_they_see_it(org, clock, ids):
    await planned_items(org, "carol", THU, [("Visit Harbor", "open")])
    await logged_day(org, "carol", THU)
    view = await calendar(org, clock).month(ERIN, member_id=ids["carol"])
    assert view.member.name == "Carol Lin" and not view.own and view.days[THU].planned
    day = await calendar(org, clock).day(ERIN, THU, member_id=ids["carol"])
    assert day.can_rate and [i.text for i in day.items] == ["Visit Harbor"]


async def test_manager_of_another_department_sees_nothing_of_this_team(org, clock, ids):
    await planned_items(org, "carol", THU, [("Visit Harbor", "open")])
    service = calendar(org, clock)
    with pytest.raises(NotFound):
        await service.month(WALT, member_id=ids["carol"])
    with pytest.raises(NotFound):
        await service.day(WALT, THU, member_id=ids["carol"])
    with pytest.raises(NotFound):
        await service.photos(WALT, ids["carol"], THU)
    with pytest.raises(NotFound):
        await team(org, clock).rate(WALT, ids["carol"], THU, 5)


async def test_rep_cannot_look_at_a_colleagues_calendar(org, clock, ids):
    with pytest.raises(NotFound):
        await calendar(org, clock).month(CAROL, member_id=ids["li"])


async def test_team_today_lists_the_subtree_with_flagged_check_ins_first(org, clock):
    await planned_items(org, "carol", THU, [("Visit Harbor", "done")])
    await checked_in(org, "carol", shanghai(26, 9))
    await planned_items(org, "li", date(2026, 11, 23), [("A", "done"), ("B", "not_done")])
    await planned_items(org, "li", THU, [("C", "done")])
    await logged_day(org, "li", THU)
    await checked_in(org, "li", shanghai(26, 9, 10), flags="map_picked")
    await planned_items(org, "li", date(2026, 11, 27), [("Tomorrow", "open")])
    today = await team(org, clock).today(ERIN)
    assert today.today == THU
    assert [r.member.name for r in today.rows] == ["李伟", "Carol Lin"]
    li, carol = today.rows[0], today.rows[1]
    assert (li.planned, li.logged, li.check_ins, li.flagged) == (True, True, 1, 1)
    assert (li.week.planned, li.week.done) == (3, 2)  # tomorrow's plan does not count yet
    assert (carol.planned, carol.logged, carol.check_ins, carol.flagged) == (True, False, 1, 0)


async def test_head_of_sales_sees_both_regions_and_a_rep_no_team(org, clock):
    names = {r.member.name for r in (await team(org, clock).today(DANA)).rows}
    assert {"Carol Lin", "李伟", "Sam Okafor", "Erin Zhao", "Walt Moreno"} <= names
    with pytest.raises(NotAllowed):
        await team(org, clock).today(CAROL)


async def test_rating_a_log_stores_it_and_notifies_the_rep(org, clock, ids):
    await logged_day(org, "carol", THU)
    rated = await team(org, clock).rate(ERIN, ids["carol"], THU, 4)
    assert rated.rating == 4
    clock.advance(minutes=1)
    await team(org, clock).comment(ERIN, ids["carol"], THU, "  Good visits  ")
    day = await calendar(org, clock).day(ERIN, THU, member_id=ids["carol"])
    assert (day.log.rating, day.log.rating_comment, day.rated_by) == (4, "Good visits",
                                                                      "Erin Zhao")
    [notice] = [n for n in await notification_rows(org) if n.key.startswith("log_rated:")]
    assert notice.member_id == ids["carol"] and notice.version == 2
    assert notice.payload == {"event": "log_rated", "day": "2026-11-26", "rating": 4,
                              "comment": "Good visits", "by": "Erin Zhao"}


@pytest.mark.parametrize("rating", [0, 6, -1, 100])
async def test_rating_outside_one_to_five_changes_nothing(org, clock, ids, rating):
    await logged_day(org, "carol", THU)
    with pytest.raises(DomainError) as refused:
        await team(org, clock).rate(ERIN, ids["carol"], THU, rating)
    assert refused.value.code == "rating_out_of_range"
    assert (await calendar(org, clock).day(CAROL, THU)).log.rating is None
    assert not [n for n in await notification_rows(org) if n.key.startswith("log_rated:")]


async def test_rating_a_day_without_a_log_is_refused(org, clock, ids):
    with pytest.raises(NotFound) as refused:
        await team(org, clock).rate(ERIN, ids["carol"], THU, 3)
    assert refused.value.code == "no_log_to_rate"


async def test_nobody_rates_their_own_log(org, clock, ids):
    await logged_day(org, "erin", THU)
    with pytest.raises(NotAllowed):
        await team(org, clock).rate(ERIN, ids["erin"], THU, 5)


def _jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (640, 480), (40, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def test_manager_gets_the_days_photos_watermarked(org, clock, ids, tmp_path):
    store = PhotoStore(tmp_path / "photos")
    saved = store.save(_jpeg_with_exif())
    check_in = await checked_in(org, "li", shanghai(26, 9, 30), customer="harbor-logistics")
    await visit_photo(org, "li", check_in, saved.sha256)
    [photo] = await calendar(org, clock, store).photos(ERIN, ids["li"], THU)
    assert photo.caption == "李伟 · 2026-11-26 09:30 (Asia/Shanghai) · Harbor Logistics"
    shown = Image.open(io.BytesIO(photo.data))
    assert shown.size == (640, 480) and not shown.getexif()
