"""/team through the real bot: today's status, a person's days, rating, and forged buttons."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image

from storage.photos import PhotoStore
from tests.chat.conftest import answers, last, texts
from tests.days import checked_in, logged_day, notification_rows, planned_items, visit_photo
from tests.example_org import shanghai

THU = date(2026, 11, 26)
NOT_IN_TEAM = "That person is not in your team, so I cannot show their schedule."


@pytest.fixture
async def ids(org_database) -> dict[str, int]:
    async with org_database.uow(read_only=True) as uow:
        return {m.key: m.id for m in await uow.members.all()}


async def east_today(database) -> None:
    await planned_items(database, "carol", THU, [("Visit Harbor", "done")],
                        customer="harbor-logistics")
    await checked_in(database, "carol", shanghai(26, 9, 30), customer="harbor-logistics")
    await logged_day(database, "carol", THU, ("Walk-in at Xihu",))
    await checked_in(database, "li", shanghai(26, 9, 40), flags="map_picked")


async def test_team_lists_todays_status_with_flagged_check_ins_first(stage, cast, org_database):
    await east_today(org_database)
    entries = await stage.act(cast.erin.send("/team"))
    text = texts(entries)[0]
    assert text.splitlines()[:2] == ["👥 Your team today — Thu 26 Nov",
                                     "plan / check-ins / log · this week's execution"]
    assert text.splitlines()[2:4] == ["❌ 1 ⚠ ❌ · —  李伟", "✅ 1 ✅ · 100%  Carol Lin"]
    assert last(stage, cast.erin).buttons == [["李伟 ⚠"], ["Carol Lin"]]


async def test_team_button_works_and_a_rep_is_refused(stage, cast):
    entries = await stage.act(cast.erin.send("👥 Team"))
    assert texts(entries)[0].startswith("👥 Your team today")
    refused = await stage.act(cast.carol.send("/team"))
    assert texts(refused) == [
        "The team view is for managers: it shows the people of the departments you lead."]


async def test_manager_opens_a_persons_calendar_and_day_as_they_see_it(stage, cast,
                                                                      org_database):
    await east_today(org_database)
    await stage.act(cast.erin.send("/team"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "Carol Lin"))
    month = last(stage, cast.erin)
    assert month.text.startswith("📅 Carol Lin — Nov 2026")
    assert month.buttons[-1] == ["« Team"]
    await stage.act(cast.erin.press(month, "[26✓]"))
    day = last(stage, cast.erin)
    assert day.text.splitlines()[0] == "📅 Carol Lin — Thu 26 Nov"
    assert "✅ Visit Harbor — Harbor Logistics" in day.text
    assert day.buttons == [["⭐ Rate this log"], ["« Month"]]


async def test_rating_a_day_then_commenting_notifies_the_rep(stage, cast, org_database, ids):
    await east_today(org_database)
    await stage.act(cast.erin.send("/team"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "Carol Lin"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "[26✓]"))
    day = last(stage, cast.erin)
    await stage.act(cast.erin.press(day, "⭐ Rate this log"))
    assert last(stage, cast.erin).buttons[0] == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
    entries = await stage.act(cast.erin.press(day, "4 ★"))
    assert answers(entries) == ["Rated 4 ★"]
    question = last(stage, cast.erin)
    assert question.text.startswith("💬 A comment for Carol Lin on Thu 26 Nov?")
    notice = await stage.standin.next_bot_message(cast.carol.id)
    assert notice.text.startswith("⭐ Erin Zhao rated your work log of Thu 26 Nov: ★★★★☆")
    entries = await stage.act(cast.erin.send("Good visits, keep it up", reply_to=question))
    assert texts(entries) == ["Saved: ★★★★☆ with your comment. Carol Lin will see it."]
    await stage.standin.wait_for(lambda e: e.kind == "edit" and e.chat_id == cast.carol.id
                                 and "Comment: Good visits" in (e.text or ""))
    carol_view = await stage.act(cast.carol.send("/calendar"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "[26✓]"))
    assert "Rating: ★★★★☆ by Erin Zhao — “Good visits, keep it up”" in last(
        stage, cast.carol).text
    assert carol_view
    [row] = [n for n in await notification_rows(org_database) if n.key.startswith("log_rated")]
    assert row.member_id == ids["carol"]


async def test_manager_of_another_department_sees_nothing_of_this_team(stage, cast,
                                                                       org_database, ids):
    await east_today(org_database)
    walt = stage.standin.user(1003, "Walt", last_name="Moreno", language_code="en")
    entries = await stage.act(walt.send("/team"))
    assert "Carol Lin" not in texts(entries)[0] and "李伟" not in texts(entries)[0]
    message = last(stage, walt)
    carol = ids["carol"]
    for data in (f"cal:m:{carol}:202611", f"cal:d:{carol}:20261126",
                 f"cal:p:{carol}:20261126", f"team:r:{carol}:20261126",
                 f"team:s:{carol}:20261126:5"):
        pressed = await stage.act(walt.press(message, callback_data=data, forge=True))
        assert answers(pressed) == [NOT_IN_TEAM], data
    shown = "\n".join(texts(stage.standin.transcript(walt.id)))
    assert "Visit Harbor" not in shown and "Walk-in" not in shown
    async with org_database.uow(read_only=True) as uow:
        assert not [log for log in await uow.calendar.logs([carol], THU, THU) if log.rating]


async def test_a_rep_pressing_a_forged_team_button_changes_nothing(stage, cast, org_database,
                                                                  ids):
    await east_today(org_database)
    await stage.act(cast.carol.send("/calendar"))
    message = last(stage, cast.carol)
    for data, answer in (
            ("team:l", "The team view is for managers: it shows the people of the "
                       "departments you lead."),
            (f"team:s:{ids['carol']}:20261126:5",
             "Only a manager above this person can rate their log, and nobody rates their "
             "own."),
            (f"team:s:{ids['li']}:20261126:5", NOT_IN_TEAM)):
        pressed = await stage.act(cast.carol.press(message, callback_data=data, forge=True))
        assert answers(pressed) == [answer], data
    async with org_database.uow(read_only=True) as uow:
        assert not [log for log in await uow.calendar.logs([ids["carol"]], THU, THU)
                    if log.rating]


@pytest.mark.parametrize("score", ["0", "6", "-1", "99"])
async def test_a_forged_rating_out_of_one_to_five_is_refused(stage, cast, org_database, ids,
                                                            score):
    await east_today(org_database)
    await stage.act(cast.erin.send("/team"))
    pressed = await stage.act(cast.erin.press(
        last(stage, cast.erin), callback_data=f"team:s:{ids['carol']}:20261126:{score}",
        forge=True))
    assert answers(pressed) == ["A rating is a whole number from 1 to 5."]
    assert not [n for n in await notification_rows(org_database) if n.key.startswith("log_")]


async def test_rating_a_day_without_a_log_is_refused(stage, cast, org_database, ids):
    await stage.act(cast.erin.send("/team"))
    message = last(stage, cast.erin)
    for data in (f"team:r:{ids['li']}:20261126", f"team:s:{ids['li']}:20261126:3"):
        pressed = await stage.act(cast.erin.press(message, callback_data=data, forge=True))
        assert answers(pressed) == ["There is no work log to rate on this day."], data


async def test_a_comment_to_an_older_question_is_not_taken(stage, cast, org_database, ids):
    await east_today(org_database)
    await stage.act(cast.erin.send("/team"))
    message = last(stage, cast.erin)
    rate = f"team:s:{ids['carol']}:20261126:"
    await stage.act(cast.erin.press(message, callback_data=rate + "3", forge=True))
    older = last(stage, cast.erin)
    await stage.act(cast.erin.press(message, callback_data=rate + "5", forge=True))
    entries = await stage.act(cast.erin.send("meant for the first", reply_to=older))
    assert texts(entries) == ["That question has expired. Open the day from /team and rate "
                              "it again to add a comment."]
    async with org_database.uow(read_only=True) as uow:
        [log] = await uow.calendar.logs([ids["carol"]], THU, THU)
    assert (log.rating, log.rating_comment) == (5, None)


def _jpeg(color) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), color).save(buffer, "JPEG")
    return buffer.getvalue()


async def test_manager_gets_the_visit_photos_watermarked(stage, cast, org_database, config):
    store = PhotoStore(config.storage.photos_dir)
    check_in = await checked_in(org_database, "li", shanghai(26, 9, 40),
                                customer="harbor-logistics")
    for color in ((200, 40, 40), (40, 200, 40)):
        await visit_photo(org_database, "li", check_in, store.save(_jpeg(color)).sha256)
    await stage.act(cast.erin.send("/team"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "李伟"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "[26📍]"))
    day = last(stage, cast.erin)
    assert "📍 09:40 Harbor Logistics · map · 📷 2" in day.text
    entries = await stage.act(cast.erin.press(day, "📷 Photos (2)"))
    album = [e for e in entries if e.kind == "album"]
    assert album, [e.kind for e in entries]
    sent = stage.standin.bot_messages(cast.erin.id)[-2:]
    assert [m.caption for m in sent] == [
        "李伟 · 2026-11-26 09:40 (Asia/Shanghai) · Harbor Logistics"] * 2
