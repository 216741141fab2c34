"""`crmbot demo`: the real bot, a local Bot API stand-in and a scripted day, printed as a chat."""

from __future__ import annotations

import asyncio
import contextlib
import io
import tempfile
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from pydantic import SecretStr

from bootstrap import build_services
from bootstrap.config import Config, parse_config
from bot.org_file import parse_org_file
from bot.stage import Stage
from core.ports import Clock
from standin import BotApiStandIn, SandboxUser, render_transcript
from storage.database import Database
from storage.migrate import upgrade

EXAMPLE_ORG = Path(__file__).resolve().parents[1] / "examples" / "org.toml"
DEMO_ZONE = ZoneInfo("Asia/Shanghai")


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
            "sam": add(2003, "Sam", last_name="Okafor", language_code="en"),
            "erin": add(1002, "Erin", last_name="Zhao", username="erin_zhao",
                        language_code="en"),
            "dana": add(1001, "Dana", last_name="Whitfield", username="dana_w",
                        language_code="en"),
            "fiona": add(3001, "Fiona", last_name="Grant", language_code="en"),
            "stranger": add(9001, "Max", last_name="Mustermann", language_code="de"),
            "nora": add(5005, "Nora", last_name="Quinn", username="nora_q",
                        language_code="en-US"),
        }

    def __getattr__(self, name: str) -> SandboxUser:
        try:
            return self.people[name]
        except KeyError:
            raise AttributeError(name) from None


def on_the_teams_clock(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of the demo's week (November 2026, Asia/Shanghai as in examples/org.toml)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=DEMO_ZONE).astimezone(UTC)


@dataclass
class DemoClock:
    """The scripted day's clock: Wednesday morning, moved on by the scenes that need it."""

    moment: datetime = field(default_factory=lambda: on_the_teams_clock(25, 10))

    def now(self) -> datetime:
        return self.moment


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


async def evening_and_morning(stage: Stage, cast: Cast) -> None:
    clock: DemoClock = stage.application.bot_data["services"].clock
    standin = stage.standin
    team = standin.group(-1001000000101, "East region team", [cast.erin, cast.carol, cast.li])
    await stage.act(cast.erin.send("/bindgroup", team))
    clock.moment = on_the_teams_clock(25, 18)  # Wednesday, six in the evening
    mark = standin.mark()
    await stage.fire("plan_reminder")
    for chat in (cast.carol.id, cast.li.id, team.id):
        await standin.next_bot_message(chat, since=mark)
    clock.moment = on_the_teams_clock(26, 9)  # Thursday morning
    mark = standin.mark()
    await stage.fire("morning_digest")
    await standin.next_bot_message(team.id, since=mark)
    clock.moment = on_the_teams_clock(26, 9, 40)
    mark = standin.mark()
    await stage.act(cast.erin.send("/digest", team))
    await standin.wait_for(lambda e: e.kind == "edit" and e.chat_id == team.id, since=mark)
    await standin.idle()


async def rep_switches_language(stage: Stage, cast: Cast) -> None:
    await stage.act(cast.li.send("/start"))
    await stage.act(cast.carol.send("/language"))
    await stage.act(cast.carol.press(last_bot_message(stage, cast.carol), "简体中文"))
    await stage.act(cast.carol.send("/help"))


def demo_photo() -> bytes:
    """A stand-in for a photo of the customer's reception desk."""
    image = Image.new("RGB", (960, 720), (214, 226, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((120, 360, 840, 640), fill=(120, 84, 60))
    draw.rectangle((300, 120, 660, 300), fill=(40, 90, 160))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


async def press(stage: Stage, user: SandboxUser, label: str) -> None:
    await stage.act(user.press(last_bot_message(stage, user), label))


async def a_day_in_the_field(stage: Stage, cast: Cast) -> None:
    """Thursday: plan, check in with a photo, log the day, plan Friday; the manager rates."""
    clock: DemoClock = stage.application.bot_data["services"].clock
    standin, carol, erin = stage.standin, cast.carol, cast.erin
    clock.moment = on_the_teams_clock(26, 9, 50)
    await stage.act(carol.send("/language"))
    await press(stage, carol, "English")
    await stage.act(carol.send("/plan 11-26"))
    await stage.act(carol.send("Visit Harbor Logistics: rollout kickoff"))
    await press(stage, carol, "Harbor Logistics")
    await press(stage, carol, "10:00")
    await press(stage, carol, "✅ Save plan")
    clock.moment = on_the_teams_clock(26, 10, 5)
    await stage.act(carol.share_location(31.2401, 121.4902, horizontal_accuracy=12,
                                         date=clock.moment.timestamp()))
    await stage.act(carol.send_photo(demo_photo()))
    await stage.act(carol.share_location(31.2401, 121.4902, horizontal_accuracy=12,
                                         forward_from=cast.li, date=clock.moment.timestamp()))
    clock.moment = on_the_teams_clock(26, 17, 40)
    await stage.act(carol.send("/log"))
    await press(stage, carol, "✅ 1")
    await press(stage, carol, "✔️ Finish")
    await stage.act(carol.send("/plan"))
    await stage.act(carol.send("Call Pudong Medical about the sample order"))
    await press(stage, carol, "Pudong Medical Supplies")
    await press(stage, carol, "15:00")
    await press(stage, carol, "✅ Save plan")
    clock.moment = on_the_teams_clock(26, 18, 30)
    await stage.act(carol.send("/calendar"))
    await stage.act(erin.send("/team"))
    await press(stage, erin, "Carol Lin")
    await press(stage, erin, "[26✓]")
    await press(stage, erin, "📷 Photos (1)")
    day = [m for m in standin.bot_messages(erin.id) if m.text and m.text.startswith("📅")][-1]
    await stage.act(erin.press(day, "⭐ Rate this log"))
    await stage.act(erin.press(day, "5 ★"))
    mark = standin.mark()
    await stage.act(erin.send("Great kickoff, and the photo proves it.",
                              reply_to=last_bot_message(stage, erin)))
    await standin.wait_for(lambda e: e.kind in ("message", "edit") and e.chat_id == carol.id
                           and "Comment:" in (e.text or ""), since=mark)
    await standin.idle()


def demo_receipt() -> bytes:
    """A stand-in for a photographed restaurant receipt."""
    image = Image.new("RGB", (600, 900), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    for row in range(8):
        y = 120 + row * 70
        draw.rectangle((60, y, 60 + (row * 53) % 300 + 180, y + 24), fill=(60, 60, 60))
        draw.rectangle((440, y, 540, y + 24), fill=(60, 60, 60))
    draw.rectangle((60, 760, 540, 800), fill=(20, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


async def expenses_with_approvals(stage: Stage, cast: Cast) -> None:
    """A claim with a receipt approved in one tap each; one over budget escalated and
    rejected with a reason; finance exports the month."""
    clock: DemoClock = stage.application.bot_data["services"].clock
    standin, carol, erin, dana, fiona = (stage.standin, cast.carol, cast.erin, cast.dana,
                                         cast.fiona)
    clock.moment = on_the_teams_clock(26, 19, 5)
    await stage.act(carol.send("/expense 268 client lunch at Harbor Logistics"))
    await stage.act(carol.send_photo(demo_receipt()))
    mark = standin.mark()
    await press(stage, carol, "✅ Submit")
    card = await standin.next_bot_message(erin.id, since=mark)
    mark = standin.mark()
    await stage.act(erin.press(card, "✅ Approve"))
    card = await standin.next_bot_message(fiona.id, since=mark)
    mark = standin.mark()
    await stage.act(fiona.press(card, "✅ Approve"))
    await standin.wait_for(lambda e: e.chat_id == carol.id and "approved" in (e.text or ""),
                           since=mark)
    await standin.idle()
    await stage.act(erin.send("/budget set department:east entertainment 2026-11 3000 escalate"))
    await stage.act(carol.send("/expense 3600 client dinner with Harbor Logistics"))
    await stage.act(carol.send_photo(demo_receipt()))
    mark = standin.mark()
    await press(stage, carol, "✅ Submit")
    card = await standin.next_bot_message(erin.id, since=mark)
    mark = standin.mark()
    await stage.act(erin.press(card, "✅ Approve"))
    card = await standin.next_bot_message(dana.id, since=mark)
    await stage.act(dana.press(card, "❌ Reject"))
    mark = standin.mark()
    await stage.act(dana.send("Over the entertainment budget: let's agree a limit first.",
                              reply_to=last_bot_message(stage, dana)))
    await standin.wait_for(lambda e: e.chat_id == carol.id and "Over the entertainment"
                           in (e.text or ""), since=mark)
    await standin.wait_for(lambda e: e.kind == "edit" and e.chat_id == erin.id
                           and "Final decision" in (e.text or ""), since=mark)
    await standin.idle()
    await stage.act(fiona.send("/export 2026-11"))
    await standin.idle()


async def an_opportunity_seen_whole(stage: Stage, cast: Cast) -> None:
    """Friday: Carol adds a deal at Pudong Medical, checks in there with a photo and files
    her taxi for it from the card; Erin opens the card, gets the photo, and the pipeline."""
    clock: DemoClock = stage.application.bot_data["services"].clock
    carol, erin = cast.carol, cast.erin
    clock.moment = on_the_teams_clock(27, 9, 30)
    await stage.act(carol.send("/opp"))
    await press(stage, carol, "Pudong Medical Supplies")
    await stage.act(carol.send("Sterile-supply contract"))
    await stage.act(carol.send("480,000"))
    await stage.act(carol.send("2026-12-31"))
    await press(stage, carol, "Qualified · 25%")
    card = last_bot_message(stage, carol)
    clock.moment = on_the_teams_clock(27, 10, 40)
    await stage.act(carol.share_location(31.2305, 121.5371, horizontal_accuracy=15,
                                         date=clock.moment.timestamp()))
    storefront = Image.new("RGB", (960, 720), (236, 230, 214))
    ImageDraw.Draw(storefront).ellipse((280, 160, 680, 560), fill=(30, 140, 90))
    buffer = io.BytesIO()
    storefront.save(buffer, "JPEG", quality=85)
    await stage.act(carol.send_photo(buffer.getvalue()))
    clock.moment = on_the_teams_clock(27, 12, 15)
    await stage.act(carol.press(card, "🧾 File an expense"))
    await stage.act(carol.send("86 taxi to Pudong Medical"))
    for label in ("Today", "🏢 My department: East region", "⏭ No receipt", "✅ Submit"):
        await press(stage, carol, label)
    await stage.standin.idle()
    clock.moment = on_the_teams_clock(27, 17, 30)
    await stage.act(erin.send("/opps"))
    # Carol's claim reaches Erin as an approval card meanwhile: the list is the 💼 message.
    listing = [m for m in stage.standin.bot_messages(erin.id)
               if (m.text or "").startswith("💼")][-1]
    await stage.act(erin.press(listing, "Sterile-supply contract — Pudong Medical Suppl"))
    await stage.act(erin.press(listing, "📷 Photos (1)"))
    await stage.act(erin.send("/pipeline"))


SCENES: list[Scene] = [
    Scene("A rep starts the bot and asks for help", rep_starts_the_day),
    Scene("A stranger is politely refused", stranger_is_refused),
    Scene("A manager invites a new rep, who joins with the link", manager_invites_a_new_rep),
    Scene("Language: a Chinese-speaking rep, and a switch to 简体中文", rep_switches_language),
    Scene("Evening and morning: a plan reminder reaches a rep, the digest reaches the team "
          "group", evening_and_morning),
    Scene("A day in the field: plan, check-in with a photo, a forwarded location, the log, "
          "tomorrow's plan; the manager's team view and rating", a_day_in_the_field),
    Scene("Expenses: a claim with a receipt approved in one tap; one over budget escalated "
          "and rejected with a reason; finance exports the month", expenses_with_approvals),
    Scene("An opportunity seen whole: a rep adds a deal, checks in at the customer and files "
          "an expense for it; the manager's card shows all of it, then the pipeline chart",
          an_opportunity_seen_whole),
]


def demo_config(url: str) -> Config:
    org = tomllib.loads(EXAMPLE_ORG.read_text(encoding="utf-8")).get("org", {})
    return parse_config({"database": {"url": url}, "org": org}, env={})


async def seed(config: Config, database: Database, clock: Clock) -> None:
    document = parse_org_file(tomllib.loads(EXAMPLE_ORG.read_text(encoding="utf-8")))
    await build_services(config, database, clock).org.import_org(document)


def heading(text: str, color: bool) -> str:
    line = f"━━ {text} " + "━" * max(4, 76 - len(text))
    return f"\033[1;36m{line}\033[0m" if color else line


async def serve_dashboard(stage: Stage, config: Config, database: Database, clock: Clock,
                          cast: Cast, port: int, out: Callable[[str], None],
                          stop: asyncio.Event) -> None:
    """After the scenes: the Mini App on `port` beside the still running bot, a launch link
    per demo person, and the chats printed as they go on, until `stop` is set."""
    import uvicorn

    from web.app import create_app
    from web.initdata import launch_fields, launch_url, sign

    telegram = config.telegram.model_copy(update={"token": SecretStr(stage.standin.token)})
    web_config = config.model_copy(update={"telegram": telegram})
    server = uvicorn.Server(uvicorn.Config(
        create_app(web_config, database, clock=clock), host="127.0.0.1", port=port,
        log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 (uvicorn sets a flag)
        await asyncio.sleep(0.05)
    if serving.done():
        await serving  # could not listen: the error says why
    page = f"http://127.0.0.1:{port}/app/"
    out("The dashboard (the Mini App) is open at the links below; each signs you in as that "
        "person, as Telegram would. Erin has Carol's taxi claim waiting in Approvals: approve "
        "it there and watch the chats below. Ctrl-C ends the demo.\n")
    for who, role in (("erin", "manager"), ("fiona", "finance"), ("carol", "rep")):
        person = cast.people[who].person
        # The demo's clock stands still, so the links stay signed in as long as it runs.
        fields = launch_fields(person.id, person.first_name, clock.now(),
                               language_code=person.language_code or "en")
        link = launch_url(page, sign(fields, stage.standin.token))
        out(f"{person.first_name} ({role}):\n{link}\n")
    shown = len(stage.standin.transcript())
    try:
        while not stop.is_set() and not serving.done():
            entries = stage.standin.transcript()
            if len(entries) > shown:
                out(render_transcript(entries[shown:]))
                shown = len(entries)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        server.should_exit = True
        await serving


async def run_demo(*, color: bool = False, scenes: list[Scene] | None = None,
                   out: Callable[[str], None] = print, serve: int | None = None,
                   stop: asyncio.Event | None = None) -> int:
    """Play every scene on a fresh SQLite database and print the chats; 0 when all ran.
    With `serve` (a port), keep the bot running with its dashboard until `stop` is set."""
    with tempfile.TemporaryDirectory(prefix="crmbot-demo-") as folder:
        url = f"sqlite+aiosqlite:///{folder}/demo.db"
        await upgrade(url)
        config = demo_config(url)
        database = Database.connect(url)
        # A fixed week, so the scheduled rules fire when the script says, not the wall clock.
        clock = DemoClock()
        await seed(config, database, clock)
        out(heading("crmbot demo: the real bot against a local Bot API stand-in", color))
        out(f"Organisation from {EXAMPLE_ORG.name}; database {url}\n")
        async with Stage(config, database, clock=clock) as stage:
            cast = Cast(stage.standin)
            for number, scene in enumerate(scenes or SCENES, start=1):
                out(heading(f"Scene {number}: {scene.title}", color))
                mark = len(stage.standin.transcript())
                await scene.play(stage, cast)
                out(render_transcript(stage.standin.transcript()[mark:]))
                out("")
            if serve is not None:
                out(heading("The manager's dashboard", color))
                await serve_dashboard(stage, config, database, clock, cast, serve, out,
                                      stop or asyncio.Event())
        await database.dispose()
    return 0
