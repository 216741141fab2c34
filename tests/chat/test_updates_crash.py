"""`crmbot run` killed between receiving an update and finishing it: the update is handled
after the restart, once.

The real bot runs in a subprocess against a stand-in served by the test. The stand-in
answers every call slowly, so the bot has received a message (and told the stand-in so,
by asking for the next ones) while its answer is still on the way when it is killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from bot.demo import Cast
from bot.sandbox import BotApiStandIn
from bot.stage import Stage
from core.inbound import InboundService
from storage.database import Database
from storage.tables import ClaimRow, InboundUpdateRow
from tests.conftest import ROOT, FixedClock

RULES = ("plan_reminder", "log_reminder", "morning_digest", "approval_sla", "follow_up")


class Bot:
    """`crmbot run` in a subprocess, its output in a log file."""

    def __init__(self, tmp_path: Path, standin: BotApiStandIn, url: str) -> None:
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f'[telegram]\nbase_url = "{standin.base_url}"\n'
            f'base_file_url = "{standin.base_file_url}"\n'
            f'[database]\nurl = "{url}"\n'
            # Scheduled rules would follow the machine's clock here.
            + "".join(f"[reminders.{rule}]\nenabled = false\n" for rule in RULES),
            encoding="utf-8")
        self.log = tmp_path / "bot.log"
        self.env = {**os.environ, "CRMBOT_TOKEN": standin.token}
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", "--config", str(self.config),
                cwd=ROOT, env=self.env, stdout=log, stderr=log)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 10)

    async def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 20)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


async def count(url: str, query) -> int:
    database = Database.connect(url)
    try:
        async with database.uow(read_only=True) as uow:
            return await uow.session.scalar(query)
    finally:
        await database.dispose()


def claims_of(member_id: int):
    return select(func.count()).select_from(ClaimRow).where(ClaimRow.member_id == member_id)


async def until(condition, timeout: float, what: str, bot: Bot) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}\n{bot.output()}")
        await asyncio.sleep(0.05)


async def test_a_message_received_before_a_kill_is_handled_after_the_restart(
        org_database, tmp_path):
    url = org_database.engine.url.render_as_string(hide_password=False)
    async with org_database.uow(read_only=True) as uow:
        carol_id = (await uow.members.by_key("carol")).id
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        bot = Bot(tmp_path, standin, url)
        await bot.start()
        await until(lambda: _polling(standin), 20, "the bot polls", bot)
        standin.delay = 1.5  # every answer of the stand-in now takes a while
        update = await cast.carol.send("/expense 120 taxi to Harbor Logistics")
        await standin.wait_fetched(update, timeout=10)  # Telegram counts it as delivered
        await bot.kill()
        assert standin.bot_messages(cast.carol.id) == []
        assert await count(url, claims_of(carol_id)) == 0

        standin.delay = 0
        await bot.start()
        answer = await standin.next_bot_message(cast.carol.id, timeout=20)
        assert "120" in answer.text
        await until(lambda: _all_handled(url), 10, "the update is crossed off", bot)
        assert await bot.stop() == 0, bot.output()
        assert len(standin.bot_messages(cast.carol.id)) == 1
        assert await count(url, claims_of(carol_id)) == 1  # one draft, not two


async def _polling(standin: BotApiStandIn) -> bool:
    return standin.stats.requests["getUpdates"] > 0


async def _all_handled(url: str) -> bool:
    return await count(url, select(func.count()).select_from(InboundUpdateRow).where(
        InboundUpdateRow.handled_at.is_(None))) == 0


async def test_an_update_received_twice_is_handled_once(org_database, config):
    """Recorded, then killed before Telegram heard of it: Telegram sends it again."""
    clock = FixedClock()
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        update = await cast.carol.send("/help")
        await InboundService(org_database.uow, clock).received([(update["update_id"], update)])
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await stage.processor.wait_finished(update["update_id"])
            await standin.wait_fetched(update)
            await standin.idle()
            helps = [m for m in standin.bot_messages(cast.carol.id) if m.text]
            assert len(helps) == 1
        assert await _all_handled(org_database.engine.url.render_as_string(
            hide_password=False))
