"""Chat tests: the real bot over real HTTP against the Bot API stand-in, on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bootstrap import build_services
from bootstrap.config import parse_config
from bot.demo import Cast
from bot.org_file import parse_org_file
from bot.stage import Stage
from tests.example_org import example

# The example org's east team group chat.
EAST_CHAT = -100_777


@pytest.fixture
def org_file() -> dict:
    """The organisation the chat tests' bot is started with (a test file may bring its own)."""
    return example()


@pytest.fixture
def config_sections() -> dict:
    """Config sections a test file adds to the chat tests' own."""
    return {}


@pytest.fixture
def config(sqlite_database, org_file, config_sections, tmp_path):
    url = sqlite_database.engine.url.render_as_string(hide_password=False)
    # The scheduler looks for due rules at start; afterwards a test runs them when it says
    # so (stage.fire, stage.look_for_due_rules), not whenever ten minutes of its run pass.
    return parse_config({"database": {"url": url}, "org": org_file["org"],
                         "storage": {"photos_dir": str(tmp_path / "photos")},
                         "reminders": {"check_seconds": 600}, **config_sections}, env={})


@pytest.fixture
async def org_database(sqlite_database, config, clock, org_file):
    await build_services(config, sqlite_database, clock).org.import_org(
        parse_org_file(org_file))
    return sqlite_database


@pytest.fixture
async def stage(org_database, config, clock):
    async with Stage(config, org_database, clock=clock) as running:
        yield running


@pytest.fixture
def cast(stage) -> Cast:
    return Cast(stage.standin)


@pytest.fixture
def walt(stage):
    """A manager of the example org who is not in the demo's cast."""
    return stage.standin.user(1003, "Walt", last_name="Moreno", language_code="en")


@pytest.fixture
def same_time(stage, clock):
    """The stand-in dates messages by the test's clock, as Telegram does by the real one."""
    stage.standin.clock = lambda: clock.now().timestamp()


async def bind_east(stage, cast):
    """The east team's group chat, bound by Erin, its manager."""
    group = stage.standin.group(EAST_CHAT, "East team", [cast.carol, cast.li, cast.erin])
    services = stage.application.bot_data["services"]
    await services.groups.bind(cast.erin.id, EAST_CHAT, "East team", bot_is_member=True)
    return group


async def count(database, table) -> int:
    async with database.uow(read_only=True) as uow:
        return await uow.session.scalar(select(func.count()).select_from(table))


def texts(entries) -> list[str]:
    """What the bot said, in order (sent messages and edits)."""
    return [e.text for e in entries if e.by_bot and e.kind in ("message", "edit") and e.text]


def said(entries) -> str:
    return "\n".join(texts(entries))


def last(stage, user):
    """The last message the bot sent the user."""
    return stage.standin.bot_messages(user.id)[-1]


def answers(entries) -> list[str | None]:
    """The texts of the bot's answers to button presses."""
    return [e.text for e in entries if e.kind == "callback_answer"]


def alerts(entries) -> list[str]:
    """The bot's answers to button presses that said something."""
    return [e.text for e in entries if e.kind == "callback_answer" and e.text]
