"""The front end's plumbing through the real bot: errors, commands, order, webhook."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from telegram.ext import CommandHandler

from bot.app import FEATURE_GROUP
from bot.stage import WEBHOOK_SECRET, Stage
from tests.chat.conftest import texts


def add_first(stage: Stage, handler) -> None:
    """A feature handler ahead of the catch-alls, as the real ones are."""
    stage.application.add_handler(handler, group=FEATURE_GROUP)
    group = stage.application.handlers[FEATURE_GROUP]
    group.insert(0, group.pop())


async def test_a_failing_handler_apologises_without_internals(stage, cast, caplog):
    async def explode(update, context):
        raise RuntimeError("connection string postgres://secret@db")

    add_first(stage, CommandHandler("explode", explode))
    with caplog.at_level(logging.ERROR, logger="crmbot.errors"):
        entries = await stage.act(cast.carol.send("/explode"))
    assert texts(entries) == [
        "Sorry, something went wrong on our side. Please try again in a moment; "
        "if it keeps happening, tell your manager."]
    record = next(r for r in caplog.records if r.name == "crmbot.errors")
    assert record.getMessage() == f"update {stage.last_update_id} failed"
    assert record.exc_info[0] is RuntimeError


async def test_failure_is_apologised_in_the_members_language(stage, cast):
    async def explode(update, context):
        raise ValueError("boom")

    add_first(stage, CommandHandler("explode", explode))
    entries = await stage.act(cast.li.send("/explode"))
    assert texts(entries) == [
        "抱歉，我们这边出了点问题。请稍后再试；如果一直出现，请告诉你的经理。"]


async def test_command_menus_are_published_in_both_languages(stage):
    private = {"type": "all_private_chats"}
    commands = stage.standin.my_commands(private, language_code="zh")
    assert {"command": "language", "description": "在 English 和简体中文之间切换"} in commands
    english = stage.standin.my_commands(private, language_code="en")
    assert [c["command"] for c in english] == ["start", "help", "language", "plan", "log",
                                              "cancel", "expense", "claims", "claim", "trip",
                                              "opp", "opps", "pipeline", "goals", "inbox",
                                              "reminders", "calendar", "digest", "checkout"]


async def test_each_chat_is_answered_in_order_while_chats_run_side_by_side(stage, cast):
    stage.standin.delay = 0.03
    people = [cast.carol, cast.li, cast.erin]
    sent = []
    for round_ in range(3):
        for person in people:
            sent.append(await person.send(f"/help extra{round_}"))
            sent.append(await person.send(f"/bogus{round_}"))
    await asyncio.gather(*(stage.processor.wait_finished(u["update_id"]) for u in sent))
    for person in people:
        replies = [m.text for m in stage.standin.bot_messages(person.id)]
        bogus = [r for r in replies if "/bogus" in r]
        assert [b.split("/bogus")[1][0] for b in bogus] == ["0", "1", "2"]
    assert stage.processor.peak_running > 1


async def test_webhook_mode_answers_and_refuses_a_wrong_secret(org_database, config, clock):
    async with Stage(config, org_database, clock=clock, mode="webhook") as stage:
        carol = stage.standin.user(2001, "Carol", last_name="Lin", username="carol_lin")
        entries = await stage.act(carol.send("/start"))
        assert "Hello, Carol Lin! What would you like to do?" in texts(entries)
        url = f"http://127.0.0.1:{stage.webhook_port}/telegram"
        async with aiohttp.ClientSession() as session:
            forged = {"update_id": 999999, "message": {
                "message_id": 1, "date": 0, "chat": {"id": 2001, "type": "private"},
                "from": {"id": 2001, "is_bot": False, "first_name": "Carol"}, "text": "/start"}}
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with session.post(url, json=forged, headers=headers) as response:
                    assert response.status == 403
            async with session.post(url, json=forged, headers={
                    "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) as response:
                assert response.status == 200
