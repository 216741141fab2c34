"""Acting as users and groups, waiting without races, and the control API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
import telegram
from telegram import KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from standin import BotApiStandIn
from standin import updates as sandbox_updates
from standin.actors import auto_entities

RunApp = Callable[[], Awaitable[Application]]


def test_auto_entities_like_a_client() -> None:
    text = "/visit@crmbot_demo_bot ACME see https://x.io #q3 @alice_b a/b"
    kinds = [
        (e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in auto_entities(text)
    ]
    assert kinds == [
        ("bot_command", "/visit@crmbot_demo_bot"),
        ("url", "https://x.io"),
        ("hashtag", "#q3"),
        ("mention", "@alice_b"),
    ]


async def test_reply_keyboard_press_sends_its_text(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    alice = standin.user(1001, "Alice")
    bob = standin.user(1002, "Bob")
    await bot.send_message(
        alice.id,
        "Where are you?",
        reply_markup=ReplyKeyboardMarkup(
            [[KeyboardButton("📍 Here", request_location=True), "Skip"]], one_time_keyboard=True
        ),
    )
    asked = standin.bot_messages(alice)[0]
    assert asked.keyboard == "reply" and asked.buttons == [["📍 Here", "Skip"]]
    update = await alice.press(asked, "Skip")
    assert update["message"]["text"] == "Skip"
    with pytest.raises(ValueError, match="share_location"):
        await alice.press(asked, "📍 Here")
    with pytest.raises(ValueError):
        await bob.press(asked, "Skip")  # not Bob's chat


async def test_next_bot_message_never_misses_a_reply(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    alice = standin.user(1001, "Alice")
    await bot.send_message(alice.id, "one")
    await bot.send_message(alice.id, "two")
    # Both were sent before anyone asked: the per-chat cursor still yields them in order.
    assert (await standin.next_bot_message(alice)).text == "one"
    assert (await standin.next_bot_message(alice)).text == "two"
    await bot.send_message(alice.id, "three")
    standin.skip_bot_messages(alice)
    with pytest.raises(TimeoutError, match="no new bot message"):
        await standin.next_bot_message(alice, timeout=0.05)
    mark = standin.mark()
    waiter = asyncio.create_task(standin.wait_for(lambda e: e.by_bot, since=mark))
    await bot.send_message(alice.id, "four")
    assert (await waiter).text == "four"


async def test_idle_after_the_bot_is_done(
    standin: BotApiStandIn, application: Application, run_app: RunApp
) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        await context.bot.send_chat_action(update.effective_chat.id, "typing")
        await asyncio.sleep(0.02)
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    application.add_handler(MessageHandler(filters.TEXT, echo))
    alice = standin.user(1001, "Alice")
    await run_app()
    for word in ("a", "b", "c"):
        await alice.send(word)
    await standin.idle(quiet=0.1)
    assert [m.text for m in standin.bot_messages(alice)] == ["echo: a", "echo: b", "echo: c"]
    assert [e.kind for e in standin.transcript(alice)].count("chat_action") == 3
    assert "typing" not in standin.render(alice)
    assert "bot is typing…" in standin.render(alice, actions=True)


async def test_failing_webhook_is_retried_then_given_up(
    standin: BotApiStandIn, bot: telegram.Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_updates, "WEBHOOK_RETRY_DELAYS", (0.01, 0.01))
    attempts: list[int] = []

    async def failing(request: aiohttp.web.Request) -> aiohttp.web.Response:
        attempts.append((await request.json())["update_id"])
        return aiohttp.web.Response(status=500)

    app = aiohttp.web.Application()
    app.router.add_post("/hook", failing)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        alice = standin.user(1001, "Alice")
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        update = await alice.send("hello")
        with pytest.raises(RuntimeError, match="failed"):
            await standin.wait_fetched(update)
        assert attempts == [update["update_id"]] * 3
        info = await bot.get_webhook_info()
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
    finally:
        await runner.cleanup()


async def test_group_admin_rights_and_chat_info(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    alice = standin.user(1001, "Alice")
    bob = standin.user(1002, "Bob")
    group = standin.group(-100123, "East team", members=[bob], creator=alice)
    note = await bot.send_message(group.id, "Targets for Q3")
    with pytest.raises(BadRequest, match="Not enough rights"):
        await bot.pin_chat_message(group.id, note.message_id)
    assert (await bot.get_chat_member(group.id, alice.id)).status == "creator"
    assert (await bot.get_chat_member(group.id, 1002)).status == "member"
    assert await bot.get_chat_member_count(group.id) == 3

    promoted = standin.group(-100124, "Leads", members=[alice], bot_is_admin=True)
    pinned = await bot.send_message(promoted.id, "Rules")
    assert await bot.pin_chat_message(promoted.id, pinned.message_id)
    chat = await bot.get_chat(promoted.id)
    assert chat.title == "Leads" and chat.pinned_message.message_id == pinned.message_id
    assert standin.bot_messages(promoted)[0].pinned
    admins = await bot.get_chat_administrators(promoted.id)
    assert [a.user.id for a in admins] == [standin.bot_id]
    # An admin bot sees all group messages even in privacy mode.
    assert (await alice.send("small talk", chat=promoted))["update_id"] is not None
    assert await bot.leave_chat(promoted.id)
    with pytest.raises(telegram.error.Forbidden, match="not a member of the supergroup"):
        await bot.send_message(promoted.id, "bye")


async def test_captions_venues_and_replies(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    alice = standin.user(1001, "Alice")
    question = await alice.send("Where is ACME?")
    venue = await bot.send_venue(
        alice.id,
        52.5,
        13.4,
        "ACME HQ",
        "Main st 1",
        reply_to_message_id=question["message"]["message_id"],
    )
    assert venue.reply_to_message.text == "Where is ACME?"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(alice.id, "x", reply_to_message_id=999)
    document = await bot.send_document(alice.id, b"hello", filename="a.txt", caption="v1")
    edited = await bot.edit_message_caption(
        alice.id, document.message_id, caption="<b>v2</b>", parse_mode="HTML"
    )
    assert edited.caption == "v2"
    with pytest.raises(BadRequest, match="There is no text in the message to edit"):
        await bot.edit_message_text("x", alice.id, document.message_id)
    text = standin.render(alice)
    assert "bot #2: 📍 ACME HQ, Main st 1 (52.500000, 13.400000)" in text
    assert "(reply to #1)" in text
    assert 'bot #3: 📄 a.txt (text/plain, 5 B): "v1"' in text
    assert "bot edited #3: v2" in text


async def test_control_api(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    base = f"http://127.0.0.1:{standin.port}/_sandbox"
    async with aiohttp.ClientSession() as http:

        async def post(path: str, body: dict) -> dict:
            async with http.post(f"{base}/{path}", json=body) as response:
                assert response.status == 200, await response.text()
                return (await response.json())["result"]

        async def get(path: str, status: int = 200) -> object:
            async with http.get(f"{base}/{path}") as response:
                assert response.status == status
                return (await response.json()).get("result")

        assert (await post("users", {"id": 2002, "first_name": "Dan"}))["id"] == 2002
        sent = await post("send", {"user_id": 2002, "text": "/start"})
        assert sent["message"]["entities"][0]["type"] == "bot_command"
        spot = await post("location", {"user_id": 2002, "latitude": 1.5, "longitude": 2.5})
        assert spot["message"]["location"] == {"latitude": 1.5, "longitude": 2.5}
        await bot.send_message(2002, "Hi Dan")
        messages = await get("chats/2002/messages")
        assert [m.get("text") for m in messages] == ["/start", None, "Hi Dan"]  # type: ignore[union-attr]
        assert (await get("chats/2002/bot_messages"))[0]["text"] == "Hi Dan"  # type: ignore[index]
        config = await post("config", {"delay": 0.01, "limits": {"private_per_second": 1}})
        assert config["delay"] == 0.01 and config["limits"]["private_per_second"] == 1
        assert standin.limits is not None and standin.delay == 0.01
        await post("config", {"delay": 0, "limits": None})
        assert standin.limits is None
        stats = await get("stats")
        assert stats["messages_sent"] == 1  # type: ignore[index]
        await get("chats/77/messages", status=404)
        await get("nothing-here", status=404)
