"""Chat tests: the real bot over real HTTP against the Bot API stand-in, on SQLite."""

from __future__ import annotations

import tomllib

import pytest

from bootstrap import build_services
from bootstrap.config import parse_config
from bot.demo import Cast
from bot.org_file import parse_org_file
from bot.stage import Stage
from tests.conftest import EXAMPLE_ORG


def example_org() -> dict:
    return tomllib.loads(EXAMPLE_ORG.read_text(encoding="utf-8"))


@pytest.fixture
def org_file() -> dict:
    """The organisation the chat tests' bot is started with (a test file may bring its own)."""
    return example_org()


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


def texts(entries) -> list[str]:
    """What the bot said, in order (sent messages and edits)."""
    return [e.text for e in entries if e.by_bot and e.kind in ("message", "edit") and e.text]


def said(entries) -> str:
    return "\n".join(texts(entries))
