"""/reminders through the real bot: pause, resume, quiet hours by button and typed."""

from __future__ import annotations

from datetime import time

import pytest

from core.domain.inbox.notifications import QuietHours
from tests.chat.conftest import texts

ASK = "Send your quiet hours as start-end on a 24-hour clock, for example 22:00-07:30."


async def settings_of(database, key: str = "carol"):
    async with database.uow(read_only=True) as uow:
        member = await uow.members.by_key(key)
        return member.reminders_paused, member.quiet_hours


def screen(stage, user):
    return next(m for m in reversed(stage.standin.bot_messages(user.id))
                if m.text and m.text.startswith("⏰ "))


def answer(entries):
    answered = [e for e in entries if e.kind == "callback_answer"]
    assert len(answered) == 1, answered
    return answered[0].raw


def last_question(stage, user):
    """The bot's latest message that asks for a reply (push messages aside)."""
    return next(m for m in reversed(stage.standin.bot_messages(user.id))
                if m.keyboard == "force_reply")


async def test_reminders_shows_the_current_settings(stage, cast):
    entries = await stage.act(cast.carol.send("/reminders"))
    assert texts(entries) == [
        "⏰ Reminders\n\n"
        "Plan, log and follow-up reminders: on\n"
        "Quiet hours: off\n\n"
        "Reminders due in your quiet hours wait until they end. "
        "Approval requests and decisions always arrive at once."]
    assert screen(stage, cast.carol).buttons == [
        ["⏸ Pause reminders"], ["22:00–08:00", "21:00–07:00", "✓ No quiet hours"],
        ["✏️ Other times…"]]


async def test_pause_and_resume(stage, cast, org_database):
    await stage.act(cast.carol.send("/reminders"))
    paused = await stage.act(cast.carol.press(screen(stage, cast.carol), "⏸ Pause reminders"))
    assert answer(paused)["text"] == "Reminders paused."
    shown = screen(stage, cast.carol)
    assert "Plan, log and follow-up reminders: paused" in shown.text
    assert shown.buttons[0] == ["▶️ Resume reminders"]
    assert await settings_of(org_database) == (True, None)
    resumed = await stage.act(cast.carol.press(shown, "▶️ Resume reminders"))
    assert answer(resumed)["text"] == "Reminders resumed."
    assert await settings_of(org_database) == (False, None)


async def test_quiet_hours_by_button(stage, cast, org_database):
    await stage.act(cast.carol.send("/reminders"))
    entries = await stage.act(cast.carol.press(screen(stage, cast.carol), "22:00–08:00"))
    assert answer(entries)["text"] == "Quiet hours: 22:00–08:00"
    shown = screen(stage, cast.carol)
    assert "Quiet hours: 22:00–08:00 (Asia/Shanghai)" in shown.text
    assert shown.buttons[1] == ["✓ 22:00–08:00", "21:00–07:00", "No quiet hours"]
    assert await settings_of(org_database) == (False, QuietHours(time(22), time(8)))
    await stage.act(cast.carol.press(shown, "No quiet hours"))
    assert await settings_of(org_database) == (False, None)


async def test_typed_quiet_hours_are_stored(stage, cast, org_database):
    await stage.act(cast.carol.send("/reminders"))
    entries = await stage.act(cast.carol.press(screen(stage, cast.carol), "✏️ Other times…"))
    assert texts(entries) == [ASK]
    question = last_question(stage, cast.carol)
    answered = await stage.act(cast.carol.send("22:30-07:30", reply_to=question))
    assert "Quiet hours: 22:30–07:30 (Asia/Shanghai)" in texts(answered)[0]
    assert screen(stage, cast.carol).buttons[2] == ["✓ ✏️ Other times…"]
    assert await settings_of(org_database) == (False, QuietHours(time(22, 30), time(7, 30)))


@pytest.mark.parametrize("typed, refusal", [
    ("tonight", "I could not read those times. Send quiet hours as start-end on a 24-hour "
                "clock, for example 22:00-07:30."),
    ("25:00-07:00", "I could not read those times. Send quiet hours as start-end on a 24-hour "
                    "clock, for example 22:00-07:30."),
    ("22:00-22:00", "The start and the end must differ, for example 22:00-07:30."),
    ("07:00-06:00", "Quiet hours can last at most 16 hours, for example 22:00-07:30."),
])
async def test_bad_quiet_hours_text_gets_an_example_and_changes_nothing(
        stage, cast, org_database, typed, refusal):
    await stage.act(cast.carol.send("/reminders"))
    await stage.act(cast.carol.press(screen(stage, cast.carol), "21:00–07:00"))
    await stage.act(cast.carol.press(screen(stage, cast.carol), "✏️ Other times…"))
    question = last_question(stage, cast.carol)
    entries = await stage.act(cast.carol.send(typed, reply_to=question))
    assert texts(entries) == [refusal]
    assert last_question(stage, cast.carol).message_id > question.message_id  # asks again
    assert await settings_of(org_database) == (False, QuietHours(time(21), time(7)))


async def test_a_second_try_after_bad_text_is_accepted(stage, cast, org_database):
    await stage.act(cast.carol.send("/reminders"))
    await stage.act(cast.carol.press(screen(stage, cast.carol), "✏️ Other times…"))
    await stage.act(cast.carol.send("after dinner", reply_to=last_question(stage, cast.carol)))
    await stage.act(cast.carol.send("23:00-06:30", reply_to=last_question(stage, cast.carol)))
    assert await settings_of(org_database) == (False, QuietHours(time(23), time(6, 30)))


async def test_time_range_text_that_answers_no_question_is_not_taken(stage, cast, org_database):
    entries = await stage.act(cast.carol.send("22:00-07:00"))
    assert texts(entries) == [
        "I did not understand that. Please use the menu buttons below, or /help."]
    assert await settings_of(org_database) == (False, None)


async def test_forged_quiet_hours_button_is_refused(stage, cast, org_database):
    await stage.act(cast.carol.send("/reminders"))
    entries = await stage.act(cast.carol.press(screen(stage, cast.carol),
                                               callback_data="rem:q:99:99-00:00", forge=True))
    assert answer(entries)["show_alert"]
    assert answer(entries)["text"].startswith("I could not read those times.")
    assert await settings_of(org_database) == (False, None)


async def test_malformed_reminders_data_is_answered(stage, cast, org_database):
    await stage.act(cast.carol.send("/reminders"))
    for data in ("rem:", "rem:q:", "rem:q:tonight", "rem:pause:now"):
        entries = await stage.act(cast.carol.press(screen(stage, cast.carol),
                                                   callback_data=data, forge=True))
        assert answer(entries)["text"] == "That button is no longer valid.", data
    assert await settings_of(org_database) == (False, None)


async def test_chinese_rep_sees_reminder_settings_in_chinese(stage, cast):
    entries = await stage.act(cast.li.send("/reminders"))
    assert texts(entries)[0].startswith(
        "⏰ 提醒设置\n\n计划、日志和跟进提醒：已开启\n免打扰时段：未设置")


async def test_reminders_in_a_group_points_to_the_private_chat(stage, cast):
    group = stage.standin.group(-100800, "East team", members=[cast.carol])
    entries = await stage.act(cast.carol.send("/reminders", chat=group))
    assert texts(entries) == ["Please use /reminders in a private chat with me."]
