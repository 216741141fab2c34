"""`crmbot demo`: the real bot, a local Bot API stand-in and a scripted day, printed as a chat."""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.app import build_services
from bot.sandbox import BotApiStandIn, SandboxUser, render_transcript
from bot.stage import Stage
from core.config import Config, parse_config
from core.domain.org_file import parse_org_file
from core.ports import SystemClock
from storage.database import Database
from storage.migrate import upgrade

EXAMPLE_ORG = Path(__file__).resolve().parents[1] / "examples" / "org.toml"


@dataclass
class Cast:
    """The people of the demo, as sandbox users (ids match examples/org.toml)."""

    standin: BotApiStandIn
    people: dict[str, SandboxUser] = field(default_factory=dict)

    def __post_init__(self) -> None:
        add = self.standin.user
        self.people = {
            "carol": add(2001, "Carol", last_name="Lin", username="carol_lin",
                         language_code="en"),
            "li": add(2002, "李伟", language_code="zh-hans"),
            "erin": add(1002, "Erin", last_name="Zhao", username="erin_zhao",
                        language_code="en"),
            "stranger": add(9001, "Max", last_name="Mustermann", language_code="de"),
            "nora": add(5005, "Nora", last_name="Quinn", username="nora_q",
                        language_code="en-US"),
        }

    def __getattr__(self, name: str) -> SandboxUser:
        try:
            return self.people[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class Scene:
    title: str
    play: Callable[[Stage, Cast], Awaitable[None]]


def last_bot_message(stage: Stage, user: SandboxUser):
    return stage.standin.bot_messages(user.id)[-1]


async def rep_starts_the_day(stage: Stage, cast: Cast) -> None:
    await stage.act(cast.carol.send("/start"))
    await stage.act(cast.carol.send("❓ Help"))


async def stranger_is_refused(stage: Stage, cast: Cast) -> None:
    await stage.act(cast.stranger.send("/start"))
    await stage.act(cast.stranger.send("/help"))


async def manager_invites_a_new_rep(stage: Stage, cast: Cast) -> None:
    await stage.act(cast.carol.send("/invite"))
    await stage.act(cast.erin.send("/invite"))
    link = last_bot_message(stage, cast.erin).text.rsplit("\n", 1)[-1]
    token = link.partition("?start=")[2]
    await stage.act(cast.nora.send(f"/start {token}"))
    await stage.act(cast.nora.send("/help"))
    await stage.act(cast.stranger.send(f"/start {token}"))


async def rep_switches_language(stage: Stage, cast: Cast) -> None:
    await stage.act(cast.li.send("/start"))
    await stage.act(cast.carol.send("/language"))
    await stage.act(cast.carol.press(last_bot_message(stage, cast.carol), "简体中文"))
    await stage.act(cast.carol.send("/help"))


SCENES: list[Scene] = [
    Scene("A rep starts the bot and asks for help", rep_starts_the_day),
    Scene("A stranger is politely refused", stranger_is_refused),
    Scene("A manager invites a new rep, who joins with the link", manager_invites_a_new_rep),
    Scene("Language: a Chinese-speaking rep, and a switch to 简体中文", rep_switches_language),
]


def demo_config(url: str) -> Config:
    org = tomllib.loads(EXAMPLE_ORG.read_text(encoding="utf-8")).get("org", {})
    return parse_config({"database": {"url": url}, "org": org}, env={})


async def seed(config: Config, database: Database) -> None:
    document = parse_org_file(tomllib.loads(EXAMPLE_ORG.read_text(encoding="utf-8")))
    await build_services(config, database, SystemClock()).org.import_org(document)


def heading(text: str, color: bool) -> str:
    line = f"━━ {text} " + "━" * max(4, 76 - len(text))
    return f"\033[1;36m{line}\033[0m" if color else line


async def run_demo(*, color: bool = False, scenes: list[Scene] | None = None,
                   out: Callable[[str], None] = print) -> int:
    """Play every scene on a fresh SQLite database and print the chats; 0 when all ran."""
    with tempfile.TemporaryDirectory(prefix="crmbot-demo-") as folder:
        url = f"sqlite+aiosqlite:///{folder}/demo.db"
        await upgrade(url)
        config = demo_config(url)
        database = Database.connect(url)
        await seed(config, database)
        out(heading("crmbot demo: the real bot against a local Bot API stand-in", color))
        out(f"Organisation from {EXAMPLE_ORG.name}; database {url}\n")
        async with Stage(config, database) as stage:
            cast = Cast(stage.standin)
            for number, scene in enumerate(scenes or SCENES, start=1):
                out(heading(f"Scene {number}: {scene.title}", color))
                mark = len(stage.standin.transcript())
                await scene.play(stage, cast)
                out(render_transcript(stage.standin.transcript()[mark:]))
                out("")
        await database.dispose()
    return 0
