"""The stand-in against the real python-telegram-bot client: round trips and Telegram's errors."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
import telegram
from PIL import Image
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from standin import BotApiStandIn, Limits, render_transcript

# PTB warns about RetryAfter.retry_after turning into a timedelta one day; not our concern.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

RunApp = Callable[[], Awaitable[Application]]
APPROVE_KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Approve", callback_data="claim:9:approve"),
            InlineKeyboardButton("Reject", callback_data="claim:9:reject"),
        ],
        [InlineKeyboardButton("Open CRM", url="https://example.com/crm")],
    ]
)


def jpeg_with_exif(size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A JPEG carrying EXIF (camera model and GPS-ish tags) as phones produce."""
    image = Image.radial_gradient("L").resize(size).convert("RGB")
    exif = Image.Exif()
    exif[0x0110] = "SandboxCam 3000"  # Model
    exif[0x010E] = "visit at ACME"  # ImageDescription
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


# --- basics ----------


async def test_get_me(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert me.id == standin.bot_id == 123456
    assert me.username == "crmbot_demo_bot"
    assert me.is_bot and me.first_name == "crmbot"
    assert standin.stats.requests["getMe"] >= 1


async def test_wrong_token_unknown_method_and_other_encodings(standin: BotApiStandIn) -> None:
    base = f"http://127.0.0.1:{standin.port}"
    alice = standin.user(1001, "Alice")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/bot999:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.post(f"{base}/bot{standin.token}/noSuchMethod") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found"
        # JSON body, lower-case method name, chat_id as a string of digits.
        url = f"{base}/bot{standin.token}/sendmessage"
        async with http.post(url, json={"chat_id": "1001", "text": "json body"}) as response:
            body = await response.json()
            assert body["ok"] and body["result"]["text"] == "json body"
        # Query-string parameters.
        async with http.get(url, params={"chat_id": alice.id, "text": "query"}) as response:
            assert (await response.json())["result"]["chat"]["id"] == 1001
    assert [m.text for m in standin.bot_messages(alice)] == ["json body", "query"]


async def test_unknown_chat_is_bad_request(bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hello?")


# --- round trips with a polling Application ----------


async def test_start_reaches_command_handler_and_reply_is_recorded(
    standin: BotApiStandIn, application: Application, run_app: RunApp
) -> None:
    seen_args: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen_args.append(list(context.args or []))
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            "Welcome, <b>Alice</b>!", reply_markup=APPROVE_KEYBOARD
        )

    application.add_handler(CommandHandler("start", start))
    alice = standin.user(1001, "Alice", username="alice")
    await run_app()

    update = await alice.send("/start abc")
    reply = await standin.next_bot_message(alice)
    await standin.wait_fetched(update)

    assert seen_args == [["abc"]]
    assert reply.text == "Welcome, Alice!"
    assert reply.html == "Welcome, <b>Alice</b>!"
    assert reply.buttons == [["Approve", "Reject"], ["Open CRM"]]
    assert reply.reply_to_message_id is None
    entry = standin.transcript(alice)[-1]
    assert (entry.actor, entry.kind, entry.keyboard) == ("bot", "message", "inline")
    assert entry.buttons == [["Approve", "Reject"], ["Open CRM"]]


async def test_press_reaches_callback_handler_and_answer_is_recorded(
    standin: BotApiStandIn, bot: telegram.Bot, application: Application, run_app: RunApp
) -> None:
    pressed: list[str] = []

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        pressed.append(query.data)
        await query.answer("Approved ✓")
        await query.edit_message_text("Claim 9 approved")

    application.add_handler(CallbackQueryHandler(on_press))
    alice = standin.user(1001, "Alice")
    sent = await bot.send_message(alice.id, "Claim 9?", reply_markup=APPROVE_KEYBOARD)
    await run_app()

    message = standin.bot_messages(alice)[0]
    update = await alice.press(message, "Approve")
    edit = await standin.wait_for(lambda e: e.kind == "edit")

    assert pressed == ["claim:9:approve"]
    assert standin.callback_answer(update) == {
        "callback_query_id": update["callback_query"]["id"],
        "text": "Approved ✓",
        "show_alert": False,
    }
    assert edit.message_id == sent.message_id and edit.text == "Claim 9 approved"
    # editMessageText without reply_markup drops the keyboard, as on Telegram.
    assert standin.bot_messages(alice)[0].buttons == []
    kinds = [e.kind for e in standin.transcript(alice)]
    assert kinds == ["message", "press", "callback_answer", "edit"]
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(update["callback_query"]["id"], "again")


async def test_forged_press_on_unknown_message(
    standin: BotApiStandIn, application: Application, run_app: RunApp
) -> None:
    got: list[tuple[str | None, bool]] = []

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        assert query.message is not None
        got.append((query.data, query.message.is_accessible))
        await query.answer("Not allowed", show_alert=True)

    application.add_handler(CallbackQueryHandler(on_press))
    alice = standin.user(1001, "Alice")
    await run_app()

    update = await alice.press(777, callback_data="claim:9:approve", forge=True)
    await standin.wait_for(lambda e: e.kind == "callback_answer")
    assert got == [("claim:9:approve", False)]  # InaccessibleMessage: date 0
    assert standin.callback_answer(update)["show_alert"] is True
    with pytest.raises(ValueError, match="not in"):
        await alice.press(777, "Approve")


async def test_location_and_live_location_updates(
    standin: BotApiStandIn, application: Application, run_app: RunApp
) -> None:
    seen: list[tuple[str, float, float | None]] = []

    async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.location is not None
        kind = "edit" if update.edited_message else "new"
        seen.append((kind, message.location.latitude, message.location.horizontal_accuracy))
        if kind == "new":
            await message.reply_text("Visit checked in")

    application.add_handler(MessageHandler(filters.LOCATION, on_location))
    alice = standin.user(1001, "Alice")
    await run_app()

    shared = await alice.share_location(52.52, 13.40, horizontal_accuracy=15.0, live_period=900)
    await standin.next_bot_message(alice)
    moved = await alice.edit_location(shared, 52.53, 13.41, horizontal_accuracy=8.0)
    await standin.wait_fetched(moved)
    await standin.idle()
    assert seen == [("new", 52.52, 15.0), ("edit", 52.53, 8.0)]


# --- formatting and message rules ----------


async def test_html_valid_and_invalid(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    alice = standin.user(1001, "Alice")
    message = await bot.send_message(
        alice.id,
        '<b>Visit</b> at <a href="https://example.com/acme">ACME</a> &lt;3\n'
        '<pre><code class="language-python">print(1)</code></pre>',
        parse_mode="HTML",
    )
    assert message.text == "Visit at ACME <3\nprint(1)"
    kinds = [(e.type, e.offset, e.length) for e in message.entities]
    assert kinds == [("bold", 0, 5), ("text_link", 9, 4), ("pre", 17, 8)]
    assert message.entities[1].url == "https://example.com/acme"
    assert message.entities[2].language == "python"

    bad = {
        "<blink>x</blink>": 'Unsupported start tag "blink" at byte offset 0',
        "<b>open": 'Can\'t find end tag corresponding to start tag "b"',
        "<b>x</i>": "Unmatched end tag at byte offset 4",
        '<span class="x">y</span>': 'Tag "span" must have class "tg-spoiler"',
    }
    for html, reason in bad.items():
        with pytest.raises(BadRequest) as caught:
            await bot.send_message(alice.id, html, parse_mode="HTML")
        assert caught.value.message.startswith("Can't parse entities:")
        assert reason.lower() in caught.value.message.lower()
    assert len(standin.bot_messages(alice)) == 1

    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(alice.id, "Total: 5.0", parse_mode="MarkdownV2")
    spoiler = await bot.send_message(alice.id, "*bold* \\. ||hidden||", parse_mode="MarkdownV2")
    assert spoiler.text == "bold . hidden"


async def test_text_length_and_empty(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    alice = standin.user(1001, "Alice")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice.id, "x" * 4097)
    # The limit applies after entity parsing: markup does not count.
    ok = await bot.send_message(alice.id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    assert len(ok.text) == 4096
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice.id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(
            alice.id,
            "x",
            reply_markup=InlineKeyboardMarkup.from_button(
                InlineKeyboardButton("Too long", callback_data="d" * 65)
            ),
        )


async def test_edit_rules(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    alice = standin.user(1001, "Alice")
    message = await bot.send_message(alice.id, "Claim 9", reply_markup=APPROVE_KEYBOARD)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "Claim 9", alice.id, message.message_id, reply_markup=APPROVE_KEYBOARD
        )
    edited = await bot.edit_message_reply_markup(alice.id, message.message_id)
    assert isinstance(edited, telegram.Message) and edited.reply_markup is None
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", alice.id, 999)
    user_message = await alice.send("hello")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", alice.id, user_message["message"]["message_id"])
    assert await bot.delete_message(alice.id, message.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(alice.id, message.message_id)
    assert standin.bot_messages(alice) == []


# --- files ----------


async def test_photo_is_recompressed_without_exif_document_kept_intact(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    alice = standin.user(1001, "Alice")
    original = jpeg_with_exif()
    assert Image.open(io.BytesIO(original)).getexif()

    as_photo = await alice.send_photo(original, caption="storefront")
    sizes = as_photo["message"]["photo"]
    assert [max(s["width"], s["height"]) for s in sizes] == [90, 320, 800, 1280]
    biggest = await bot.get_file(sizes[-1]["file_id"])
    compressed = bytes(await biggest.download_as_bytearray())
    assert len(compressed) < len(original)
    assert not Image.open(io.BytesIO(compressed)).getexif()

    as_document = await alice.send_photo(original, as_document=True, filename="IMG_001.jpg")
    document = as_document["message"]["document"]
    assert document["mime_type"] == "image/jpeg" and document["file_name"] == "IMG_001.jpg"
    downloaded = bytes(await (await bot.get_file(document["file_id"])).download_as_bytearray())
    assert downloaded == original

    pdf = await alice.send_document(b"%PDF-1.4 fake", "offer.pdf")
    assert pdf["message"]["document"]["mime_type"] == "application/pdf"
    with pytest.raises(ValueError):
        await alice.send_photo(b"%PDF-1.4 fake")
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")
    # Same content, same file_unique_id.
    again = await alice.send_photo(original)
    assert again["message"]["photo"][-1]["file_unique_id"] == sizes[-1]["file_unique_id"]


async def test_bot_uploads_photo_document_and_album(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    alice = standin.user(1001, "Alice")
    image = jpeg_with_exif((400, 300))
    photo = await bot.send_photo(alice.id, image, caption="<i>map</i>", parse_mode="HTML")
    assert photo.caption == "map" and photo.photo[-1].width == 400
    resent = await bot.send_photo(alice.id, photo.photo[-1].file_id)
    assert resent.photo[-1].file_unique_id == photo.photo[-1].file_unique_id
    document = await bot.send_document(alice.id, b"a,b\n1,2\n", filename="report.csv")
    assert document.document.file_name == "report.csv"
    album = await bot.send_media_group(
        alice.id,
        [InputMediaPhoto(image, caption="one"), InputMediaPhoto(jpeg_with_exif((300, 300)))],
    )
    assert len({m.media_group_id for m in album}) == 1 and len(album) == 2
    with pytest.raises(BadRequest):
        await bot.send_media_group(alice.id, [InputMediaDocument(b"x", filename="x.txt")])
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(alice.id, b"not an image")
    assert standin.received_messages(alice) == 5
    assert standin.transcript(alice)[-1].kind == "album"


# --- limits and delay ----------


async def test_private_chat_flood_limit(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    standin.limits = Limits(private_per_second=1)
    alice = standin.user(1001, "Alice")
    await bot.send_message(alice.id, "first")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(alice.id, "second")
    retry_after = caught.value.retry_after
    seconds = retry_after if isinstance(retry_after, int) else retry_after.total_seconds()
    assert seconds >= 1
    assert [m.text for m in standin.bot_messages(alice)] == ["first"]
    assert standin.received_messages(alice) == 1
    assert standin.stats.too_many_requests == 1
    standin.limits = None
    await bot.send_message(alice.id, "limits off")


async def test_group_flood_limit_and_scaling(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    standin.limits = Limits()
    alice = standin.user(1001, "Alice")
    group = standin.group(-100123, "East team", members=[alice])
    for i in range(20):
        await bot.send_message(group.id, f"report {i}")
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "one too many")
    assert standin.received_messages(group) == 20


async def test_scaled_limits_shrink_the_windows(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    # One message per 0.1 s instead of per second.
    standin.limits = Limits(private_per_second=1).scaled(10)
    alice = standin.user(1001, "Alice")
    await bot.send_message(alice.id, "one")
    with pytest.raises(RetryAfter):
        await bot.send_message(alice.id, "too soon")
    await asyncio.sleep(0.12)
    await bot.send_message(alice.id, "two")
    assert standin.received_messages(alice) == 2
    assert standin.stats.as_dict()["too_many_requests"] == 1


async def test_delay_is_added_to_every_answer(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    standin.delay = 0.2
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.2
    standin.delay = 0.0


# --- updates: long polling and webhook ----------


async def test_long_poll_answers_as_soon_as_an_update_arrives(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    alice = standin.user(1001, "Alice")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    update = await alice.send("ping")
    updates = await poll
    assert time.monotonic() - started < 1.0
    assert [u.update_id for u in updates] == [update["update_id"]]
    assert standin.update_status(update) == "delivered"
    await bot.get_updates(offset=update["update_id"] + 1)
    await standin.wait_fetched(update, timeout=1)


async def test_webhook_delivery_with_secret_and_conflict(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    received: list[tuple[str | None, dict]] = []

    async def receive(request: aiohttp.web.Request) -> aiohttp.web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return aiohttp.web.Response(text="ok")

    app = aiohttp.web.Application()
    app.router.add_post("/hook", receive)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        alice = standin.user(1001, "Alice")
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        update = await alice.send("/start")
        await standin.wait_fetched(update)
        assert received == [("s3cret", update)]
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
        later = await alice.send("after")
        assert [u.update_id for u in await bot.get_updates()] == [later["update_id"]]
    finally:
        await runner.cleanup()


# --- who may be written to ----------


async def test_blocked_and_never_started_users(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    alice = standin.user(1001, "Alice")
    carol = standin.user(1003, "Carol", started=False)
    await bot.send_message(alice.id, "before")
    alice.block_bot()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "after block")
    updates = await bot.get_updates()
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"
    alice.unblock_bot()
    await bot.send_message(alice.id, "welcome back")

    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(carol.id, "hi")
    await carol.send("hello")
    await bot.send_message(carol.id, "hi")


async def test_group_membership_privacy_and_removal(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    alice = standin.user(1001, "Alice")
    bob = standin.user(1002, "Bob")
    group = standin.group(-100123, "East team", members=[alice, bob], bot_is_member=False)
    with pytest.raises(Forbidden, match="not a member"):
        await bot.send_message(group.id, "hi")
    await group.add_bot(by=alice)
    chatter = await bob.send("lunch anyone?", chat=group)
    command = await alice.send("/report@crmbot_demo_bot", chat=group)
    other_bot = await alice.send("/report@other_bot", chat=group)
    # Privacy mode: the bot sees commands for it, not small talk.
    assert chatter["update_id"] is None and other_bot["update_id"] is None
    kinds = [next(k for k in u.to_dict() if k != "update_id") for u in await bot.get_updates()]
    assert kinds == ["my_chat_member", "message", "message"]
    assert command["message"]["entities"][0]["type"] == "bot_command"

    member = await bot.get_chat_member(group.id, alice.id)
    assert member.status == "member"
    assert (await bot.get_chat_member(group.id, standin.bot_id)).status == "member"
    await bot.send_message(group.id, "Report received")
    await group.remove_bot(by=alice)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.id, "still here?")
    with pytest.raises(ValueError, match="never delivered"):
        await standin.wait_fetched(chatter)


# --- commands, reply keyboards, transcript ----------


async def test_commands_per_language(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    await bot.set_my_commands([("visit", "Log a visit"), ("report", "Daily report")])
    await bot.set_my_commands([("visit", "Записать визит")], language_code="ru")
    assert [c.command for c in await bot.get_my_commands()] == ["visit", "report"]
    ru = await bot.get_my_commands(language_code="ru")
    assert [(c.command, c.description) for c in ru] == [("visit", "Записать визит")]
    assert await bot.get_my_commands(language_code="de") == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Visit-Now", "bad name")])
    with pytest.raises(BadRequest, match="Bot_command_description_invalid"):
        await bot.set_my_commands([("visit", "")])
    ivan = standin.user(1004, "Ivan", language_code="ru")
    assert standin.commands_for(ivan) == [{"command": "visit", "description": "Записать визит"}]
    assert standin.my_commands()[1]["command"] == "report"


async def test_render_transcript_is_readable(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    alice = standin.user(1001, "Alice")
    await alice.send("/start")
    ask = await bot.send_message(
        alice.id,
        "Share your location",
        reply_markup=ReplyKeyboardMarkup(
            [[KeyboardButton("Send location", request_location=True), KeyboardButton("Cancel")]]
        ),
    )
    await alice.share_location(52.52, 13.4, horizontal_accuracy=15)
    claim = await bot.send_message(alice.id, "Claim 9?", reply_markup=APPROVE_KEYBOARD)
    press = await alice.press(standin.bot_messages(alice)[-1], "Reject")
    await bot.answer_callback_query(press["callback_query"]["id"], "Rejected", show_alert=True)
    await bot.edit_message_text("Claim 9 rejected", alice.id, claim.message_id)
    await bot.delete_message(alice.id, ask.message_id)

    text = render_transcript(standin.transcript(), names={1001: "Alice (rep)"})
    lines = text.splitlines()
    assert lines[0] == "── Alice (rep) (private 1001) ──"
    assert "Alice (rep) #1: /start" in lines
    assert "bot #2: Share your location" in lines
    assert "    ⌨ [📍 Send location] [Cancel]" in lines
    assert "Alice (rep) #3: 📍 52.520000, 13.400000 ±15 m" in lines
    assert "    [Approve] [Reject]" in lines and "    [Open CRM ↗]" in lines
    assert "Alice (rep) pressed [Reject] on #4" in lines
    assert 'bot answered the press on #4 with alert: "Rejected"' in lines
    assert "bot edited #4: Claim 9 rejected" in lines
    assert 'bot deleted #2: "Share your location"' in lines


async def test_a_location_button_labelled_with_its_icon_shows_it_once(
        standin: BotApiStandIn, bot: telegram.Bot) -> None:
    alice = standin.user(1001, "Alice")
    await alice.send("/start")
    await bot.send_message(alice.id, "Menu", reply_markup=ReplyKeyboardMarkup(
        [[KeyboardButton("📍 Check in", request_location=True),
          KeyboardButton("📞 Share phone", request_contact=True)]]))
    lines = render_transcript(standin.transcript()).splitlines()
    assert "    ⌨ [📍 Check in] [📞 Share phone]" in lines
