"""`crmbot run` logging JSON at DEBUG with every kind of secret configured: each line is an
object, the lines of an update carry it, its closing line says who spoke and what was
written, and no secret appears anywhere, not even one a stranger pastes into the chat.

The real bot runs in a subprocess against a stand-in served by the test, on each backend; on
PostgreSQL its database URL carries a password (the test server trusts local connections and
never asks for it).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest
from sqlalchemy.engine import make_url

from bootstrap import build_services
from bootstrap.config import parse_config
from bot.demo import Cast
from bot.org_file import parse_org_file
from standin import BotApiStandIn
from tests.chat.running_bot import RunningBot
from tests.conftest import PG_URL, FixedClock
from tests.example_org import example

TOKEN = "7000001:AAH-secret-half-of-the-bot-token_x9"
WEBHOOK_SECRET = "webhook-secret-Zq81-x"
API_TOKEN = "finance-api-token-0123456789abcdef"
CURSOR_SECRET = "cursor-secret-for-pages-0123456789abcdef"
DB_PASSWORD = "pg-password-Hk27-x"
# The ones a user could paste into a chat; the token's secret half, which PTB logs at DEBUG
# inside the Bot API's address, is checked too.
PASTABLE = [API_TOKEN, CURSOR_SECRET, WEBHOOK_SECRET]
CONFIG = f"""[telegram.webhook]
secret_token = "{WEBHOOK_SECRET}"
[api]
cursor_secret = "{CURSOR_SECRET}"
[[api.tokens]]
name = "erp"
token = "{API_TOKEN}"
[logging]
format = "json"
level = "DEBUG"
"""


@pytest.fixture
async def bot_database(database):
    """The example org in a fresh database, the URL the bot is given (with a password on
    PostgreSQL), Carol's member id and the secrets a user could paste."""
    url = database.engine.url.render_as_string(hide_password=False)
    org = example()
    config = parse_config({"database": {"url": url}, "org": org["org"]}, env={})
    await build_services(config, database, FixedClock()).org.import_org(parse_org_file(org))
    pastable = PASTABLE
    if url == PG_URL:
        url = make_url(url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
        pastable = [*PASTABLE, DB_PASSWORD]
    async with database.uow(read_only=True) as uow:
        carol = await uow.members.by_key("carol")
    return url, carol.id, pastable


def complete_lines(bot: RunningBot) -> list[str]:
    text = bot.log.read_text(encoding="utf-8")
    return text.splitlines()[:text.count("\n")]


def closing_lines(bot: RunningBot) -> dict[int, dict]:
    closed = {}
    for line in complete_lines(bot):
        if '"update handled"' in line:
            fields = json.loads(line)
            closed[fields["update_id"]] = fields
    return closed


async def until(condition, what: str, bot: RunningBot, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}\n{bot.output()}")
        await asyncio.sleep(0.05)


async def test_a_running_bot_logs_each_update_in_json_and_no_secret(bot_database, tmp_path):
    url, carol_id, pastable = bot_database
    async with BotApiStandIn(token=TOKEN) as standin:
        cast = Cast(standin)
        async with RunningBot(tmp_path, standin, url, extra_config=CONFIG) as bot:
            await bot.start()
            await until(lambda: standin.stats.requests["getUpdates"] > 0, "the bot polls", bot,
                        timeout=120)
            help_ = await cast.carol.send("/help")
            await standin.next_bot_message(cast.carol.id, timeout=30)
            await cast.carol.send("/language")
            picker = await standin.next_bot_message(cast.carol.id, timeout=30)
            press = await cast.carol.press(picker, callback_data="lang:en")
            pasted = await cast.stranger.send(f"is this yours? {' '.join(pastable)}")
            await standin.next_bot_message(cast.stranger.id, timeout=30)
            driven = [u["update_id"] for u in (help_, press, pasted)]
            await until(lambda: set(driven) <= set(closing_lines(bot)),
                        "every update is closed in the log", bot)
            assert await bot.end(signal.SIGTERM) == 0, bot.output()

    text = bot.log.read_text(encoding="utf-8")
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            lines.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"line {number} is not JSON: {line!r}") from None
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    leaked = [secret for secret in [TOKEN, TOKEN.partition(":")[2], *pastable]
              if secret in text]
    assert not leaked, leaked
    # The stranger's paste reached the log (the Bot API's answers at DEBUG), masked.
    assert any("<api-token> <cursor-secret> <webhook-secret>" in line["message"]
               for line in lines)

    closed = closing_lines(bot)
    help_line, press_line, pasted_line = (closed[update_id] for update_id in driven)
    assert (help_line["kind"], press_line["kind"], pasted_line["kind"]) == (
        "message", "callback_query", "message")
    for line in (help_line, press_line):
        assert (line["chat_id"], line["member_id"], line["member_key"]) == (
            cast.carol.id, carol_id, "carol")
    assert press_line["outcome"] == "committed"  # the language chosen is stored
    assert (pasted_line["chat_id"], pasted_line["member_id"], pasted_line["member_key"],
            pasted_line["outcome"]) == (cast.stranger.id, None, None, "none")
    assert all(isinstance(closed[u]["ms"], int | float) for u in driven)
    for update_id, chat_id in zip(driven, (cast.carol.id, cast.carol.id, cast.stranger.id),
                                  strict=True):
        during = [line for line in lines if line.get("update_id") == update_id]
        assert len(during) > 1, "the bot's calls while handling it are logged with it"
        assert {line["chat_id"] for line in during} == {chat_id}
