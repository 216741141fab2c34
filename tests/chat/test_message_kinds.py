"""Messages of every kind get an answer; edited messages are never acted on."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.tables import ClaimRow, PlanItemRow
from tests.chat.conftest import count, said, texts

CANNOT_USE = ("I can't use this kind of message. I read text, photos (of visits and receipts) "
              "and locations (to check in). Send /help to see what I can do.")
VOICE = ("I can't listen to voice messages yet. Please type it instead: what you did today "
         "goes into /log.")
NOT_READ = ("I don't read edited messages, so nothing was changed. Please send it again as a "
            "new message.")
KINDS = ["sticker", "audio", "video", "video_note", "contact", "dice", "poll", "game"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_message_the_bot_cannot_use_is_answered(stage, cast, kind):
    entries = await stage.act(cast.carol.send_other(kind))
    assert texts(entries) == [CANNOT_USE]


async def test_a_voice_message_is_answered_with_what_to_do_instead(stage, cast):
    entries = await stage.act(cast.carol.send_other("voice"))
    assert texts(entries) == [VOICE]


async def test_the_answer_is_in_the_members_language(stage, cast):
    entries = await stage.act(cast.li.send_other("sticker"))
    assert texts(entries) == ["我无法处理这类消息。我能读取文字、照片（拜访照片和收据）"
                              "和位置（用于签到）。发送 /help 查看我能做什么。"]


@pytest.mark.parametrize("kind", ["sticker", "voice", "contact", "poll"])
async def test_a_claim_waiting_for_its_amount_answers_and_still_waits(stage, cast,
                                                                      org_database, kind):
    entries = await stage.act(cast.carol.send("/expense"))
    assert "How much did you spend?" in said(entries)
    entries = await stage.act(cast.carol.send_other(kind))
    assert texts(entries) == [VOICE if kind == "voice" else CANNOT_USE]
    entries = await stage.act(cast.carol.send("120"))
    assert "📝 Draft · CNY 120.00\n\nWhat was it for?" in said(entries)


async def test_a_sticker_in_a_group_gets_no_answer(stage, cast):
    group = stage.standin.group(-100901, "East team", [cast.carol, cast.erin],
                                bot_is_admin=True)
    entries = await stage.act(cast.carol.send_other("sticker", chat=group))
    assert texts(entries) == []


async def test_an_edited_expense_command_files_no_second_claim(stage, cast, org_database):
    sent = await cast.carol.send("/expense 120 taxi")
    await stage.processor.wait_finished(sent["update_id"], 10.0)
    assert await count(org_database, ClaimRow) == 1
    entries = await stage.act(cast.carol.edit(sent, "/expense 99999 taxi"))
    assert texts(entries) == [NOT_READ]
    async with org_database.uow(read_only=True) as uow:
        amounts = list(await uow.session.scalars(select(ClaimRow.amount)))
    assert [str(a) for a in amounts] == ["120.00"]


async def test_an_edited_answer_in_a_conversation_changes_nothing(stage, cast, org_database):
    await stage.act(cast.carol.send("/plan"))
    sent = await cast.carol.send("Visit Harbor")
    await stage.processor.wait_finished(sent["update_id"], 10.0)
    entries = await stage.act(cast.carol.edit(sent, "Visit Pudong"))
    assert texts(entries) == [NOT_READ]
    assert await count(org_database, PlanItemRow) == 0  # the draft is saved with ✅ only


async def test_an_edited_message_in_a_group_is_ignored_silently(stage, cast, org_database):
    group = stage.standin.group(-100902, "East team", [cast.carol, cast.erin],
                                bot_is_admin=True)
    sent = await cast.carol.send("/help", chat=group)
    await stage.processor.wait_finished(sent["update_id"], 10.0)
    entries = await stage.act(cast.carol.edit(sent, "/expense 99999 taxi"))
    assert texts(entries) == []
    assert await count(org_database, ClaimRow) == 0


async def test_a_moving_live_location_is_still_followed(stage, cast, clock):
    stage.standin.clock = lambda: clock.now().timestamp()
    shared = await cast.carol.share_location(31.2400, 121.4900, live_period=900)
    await stage.processor.wait_finished(shared["update_id"], 10.0)
    entries = await stage.act(cast.carol.edit_location(shared, 31.2401, 121.4901))
    assert texts(entries) == []  # followed quietly, not refused as an edit
