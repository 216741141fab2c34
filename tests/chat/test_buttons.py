"""Every button press gets an answer; forged or malformed callback data changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.tables import Base, ClaimRow, VisitPhotoRow
from tests.pictures import jpeg, scene

NO_LONGER_VALID = "That button is no longer valid."
FAILURE = "Sorry, something went wrong on our side."

# Malformed or forged data for every prefix the bot's buttons use (callback_data in bot/):
# impossible dates, words where numbers go, ids of nothing, unknown actions, no payload.
FORGED = [
    "unknown:thing", "x", ":", "",
    "apv:a:x:1", "apv:a:999999:1", "apv:r:999999:1", "apv:d:x", "apv:zz",
    "cal:d:1:20261301", "cal:d:1:20260230", "cal:d:x:20261201", "cal:m:1:2026:13", "cal:zz",
    "ci:c:x:1", "ci:c:999999:1", "ci:d:1", "ci:u:x", "ci:pa:999999", "ci:px:x", "ci:zz",
    "exp:new:x", "exp:new:999999", "exp:v:x", "exp:v:999999", "exp:d:1:20261301",
    "exp:c:999999:meals", "exp:l:x", "exp:i:999999", "exp:w:x", "exp:ts:999999", "exp:zz",
    "grp:bind:x", "grp:bind:1:2", "grp:zz",
    "inbox:o:x", "inbox:o:999999:0", "inbox:p:x", "inbox:zz",
    "lang:xx", "lang:",
    "log:a:20261301", "log:b:20260230", "log:f:x", "log:open:2026-02-30", "log:open:x",
    "log:m:1:20261301", "log:mv:x", "log:o:999999:d", "log:zz",
    "opp:v:x:0", "opp:v:999999:0", "opp:w:20261301", "opp:k:nostage", "opp:c:x",
    "opp:l:x:y", "opp:g:999999:a:b", "opp:e:999999:z", "opp:p:x", "opp:s:999999", "opp:zz",
    "plan:d:20261301", "plan:new:2026-02-30", "plan:new:x", "plan:t:9999", "plan:u:x",
    "plan:v:x", "plan:c:999999", "plan:e:999999", "plan:zz",
    "rem:q:x", "rem:zz",
    "sta:x:y", "sta:month:nothing", "sta:zz",
    "team:r:x", "team:r:1:20261301", "team:s:1:20261301:x", "team:zz",
    "xpt:k:x:y", "xpt:month:nothing:c", "xpt:zz",
    # Numbers no id can be, and digits int() does not read.
    "log:o:99999999999999999999:d", "log:mv:99999999999999999999",
    "log:m:99999999999999999999:20261130", "plan:r:99999999999999999999", "plan:r:²",
    "exp:o:1:99999999999999999999", "exp:o:1:²", "exp:a:1:²", "exp:v:99999999999999999999",
    "opp:v:99999999999999999999:0", "inbox:o:99999999999999999999:0",
    "apv:a:99999999999999999999:1", "cal:d:99999999999999999999:20261126",
    "team:r:99999999999999999999:20261126", "ci:px:99999999999999999999",
    "exp:i:99999999999999999999", "grp:bind:99999999999999999999:2001",
    # The first and last days a date can be: no arithmetic on them may fail.
    "plan:d:99991231", "plan:d:00010101", "plan:new:9999-12-31", "plan:new:0001-01-01",
    "log:a:99991231", "log:b:00010101", "log:open:9999-12-31", "log:open:0001-01-01",
    "log:m:1:99991231", "exp:d:1:99991231", "exp:d:1:00010101", "opp:w:99991231",
    "opp:w:00010101", "cal:d:1:99991231", "cal:p:1:00010101", "team:r:1:99991231",
    "team:s:1:00010101:5",
]


async def row_counts(database) -> dict[str, int]:
    """Rows per table, but for the chats' conversation state the bot keeps for itself."""
    async with database.uow(read_only=True) as uow:
        return {table.name: await uow.session.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables if table.name != "chat_states"}


@pytest.mark.parametrize("data", FORGED)
async def test_a_forged_press_is_answered_and_changes_nothing(stage, cast, org_database, data):
    await stage.act(cast.carol.send("/start"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    before = await row_counts(org_database)
    update = await cast.carol.press(message, callback_data=data, forge=True)
    await stage.processor.wait_finished(update["update_id"], 10.0)
    answer = stage.standin.callback_answer(update)
    assert answer is not None, f"{data!r} got no answer"
    assert FAILURE not in (answer.get("text") or ""), f"{data!r} failed"
    assert await row_counts(org_database) == before


async def test_a_press_of_an_unknown_button_says_it_is_no_longer_valid(stage, cast):
    await stage.act(cast.carol.send("/start"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    update = await cast.carol.press(message, callback_data="unknown:thing", forge=True)
    await stage.processor.wait_finished(update["update_id"], 10.0)
    assert stage.standin.callback_answer(update)["text"] == NO_LONGER_VALID


async def test_a_malformed_day_in_a_plan_button_says_it_is_no_longer_valid(stage, cast):
    await stage.act(cast.carol.send("/start"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    for data in ("plan:d:20261301", "plan:new:2026-02-30"):
        update = await cast.carol.press(message, callback_data=data, forge=True)
        await stage.processor.wait_finished(update["update_id"], 10.0)
        assert stage.standin.callback_answer(update)["text"] == NO_LONGER_VALID, data


async def test_a_forged_press_in_the_middle_of_a_claim_is_answered(stage, cast, org_database):
    await stage.act(cast.carol.send("/expense"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    before = await row_counts(org_database)
    for data in ("unknown:thing", "exp:new:x", "plan:d:20261301"):
        update = await cast.carol.press(message, callback_data=data, forge=True)
        await stage.processor.wait_finished(update["update_id"], 10.0)
        assert stage.standin.callback_answer(update)["text"] == NO_LONGER_VALID, data
    assert await row_counts(org_database) == before
    entries = await stage.act(cast.carol.send("120"))  # the claim still waits for its amount
    assert "📝 Draft · CNY 120.00\n\nWhat was it for?" in "\n".join(
        e.text or "" for e in entries if e.by_bot)


async def ids(database, column) -> list[int]:
    async with database.uow(read_only=True) as uow:
        return list(await uow.session.scalars(select(column).order_by(column)))


async def test_pressing_someone_elses_draft_and_photo_buttons_is_refused(stage, cast,
                                                                        org_database):
    await stage.act(cast.carol.send("/expense 45 lunch"))
    await stage.act(cast.carol.press(stage.standin.bot_messages(cast.carol.id)[-1],
                                     "💾 Save draft"))
    await stage.act(cast.carol.send_photo(jpeg(scene(1))))  # no check-in: it waits
    [claim_id] = await ids(org_database, ClaimRow.id)
    [photo_id] = await ids(org_database, VisitPhotoRow.id)
    await stage.act(cast.sam.send("/start"))
    message = stage.standin.bot_messages(cast.sam.id)[-1]
    before = await row_counts(org_database)
    for data in (f"exp:v:{claim_id}", f"exp:x:{claim_id}", f"exp:s:{claim_id}",
                 f"exp:k:{claim_id}", f"ci:px:{photo_id}", f"ci:pa:{photo_id}",
                 "exp:v:999999", "ci:px:999999"):
        update = await cast.sam.press(message, callback_data=data, forge=True)
        entries = await stage.act(_delivered(update))
        answer = stage.standin.callback_answer(update)
        assert answer is not None and answer.get("show_alert"), data
        assert answer["text"] not in ("Saved.", "Submitted."), data
        said = " ".join(e.text or "" for e in entries if e.by_bot)
        assert "Saved" not in said and "put that photo aside" not in said, data
    assert await row_counts(org_database) == before
    # The owner's own presses still work.
    update = await cast.carol.press(stage.standin.bot_messages(cast.carol.id)[-1],
                                    callback_data=f"ci:px:{photo_id}", forge=True)
    entries = await stage.act(_delivered(update))
    assert "All right, I have put that photo aside." in [e.text for e in entries]
    assert await ids(org_database, VisitPhotoRow.id) == []


async def _delivered(update):
    """stage.act for a press already made (its update is needed for the answer)."""
    return update


async def test_forged_presses_inside_a_plan_draft_are_answered(stage, cast, org_database):
    await stage.act(cast.carol.send("/plan"))
    await stage.act(cast.carol.send("Visit Harbor"))  # now it asks for the customer
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    before = await row_counts(org_database)
    for data in ("plan:c:²", "plan:c:99999999999999999999", "plan:r:99999999999999999999",
                 "plan:e:99999999999999999999", "plan:u:99999999999999999999"):
        update = await cast.carol.press(message, callback_data=data, forge=True)
        await stage.processor.wait_finished(update["update_id"], 10.0)
        answer = stage.standin.callback_answer(update)
        assert answer is not None and FAILURE not in (answer.get("text") or ""), data
    assert await row_counts(org_database) == before
    entries = await stage.act(cast.carol.press(message, "⏭ No customer"))
    assert "At what time?" in "\n".join(e.text or "" for e in entries if e.by_bot)


@pytest.mark.parametrize("day", ["99991231", "00010101", "20240101"])
@pytest.mark.parametrize("button", ["cal:d", "cal:p", "team:r", "team:s"])
async def test_a_day_far_off_the_calendar_is_refused_in_words(stage, cast, org_database, day,
                                                               button):
    """A forged day button for one's own or a teammate's calendar names a day the calendar
    never shows (at the ends of the date range: no arithmetic on it may fail)."""
    async with org_database.uow(read_only=True) as uow:
        carol = (await uow.members.by_account_id(cast.carol.id)).id
    await stage.act(cast.erin.send("/team"))
    message = stage.standin.bot_messages(cast.erin.id)[-1]
    before = await row_counts(org_database)
    data = f"{button}:{carol}:{day}" + (":5" if button == "team:s" else "")
    update = await cast.erin.press(message, callback_data=data, forge=True)
    await stage.processor.wait_finished(update["update_id"], 10.0)
    answer = stage.standin.callback_answer(update)
    assert answer is not None and FAILURE not in (answer.get("text") or ""), answer
    assert await row_counts(org_database) == before
