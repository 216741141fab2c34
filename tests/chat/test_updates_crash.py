"""`crmbot run` killed between receiving an update and finishing it: the update is handled
after the restart, once.

The real bot runs in a subprocess against a stand-in served by the test. The stand-in
answers every call slowly, so the bot has received a message (and told the stand-in so,
by asking for the next ones) while its answer is still on the way when it is killed.
"""

from __future__ import annotations

import asyncio
import signal
import time

from sqlalchemy import func, select

from bot.demo import Cast
from bot.stage import Stage
from core.inbound import InboundService
from standin import BotApiStandIn
from storage.database import Database
from storage.tables import ClaimRow, InboundUpdateRow
from tests.chat.running_bot import RunningBot
from tests.conftest import FixedClock


async def count(url: str, query) -> int:
    database = Database.connect(url)
    try:
        async with database.uow(read_only=True) as uow:
            return await uow.session.scalar(query)
    finally:
        await database.dispose()


def claims_of(member_id: int):
    return select(func.count()).select_from(ClaimRow).where(ClaimRow.member_id == member_id)


async def until(condition, timeout: float, what: str, bot: RunningBot) -> None:
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
        async with RunningBot(tmp_path, standin, url) as bot:
            await _kill_and_restart(bot, standin, cast, url, carol_id)


async def _kill_and_restart(bot: RunningBot, standin: BotApiStandIn, cast: Cast, url: str,
                            carol_id: int) -> None:
    await bot.start()
    await until(lambda: _polling(standin), 120, "the bot polls", bot)
    standin.delay = 1.5  # every answer of the stand-in now takes a while
    update = await cast.carol.send("/expense 120 taxi to Harbor Logistics")
    await standin.wait_fetched(update, timeout=10)  # Telegram counts it as delivered
    await bot.end(signal.SIGKILL)
    assert standin.bot_messages(cast.carol.id) == []
    assert await count(url, claims_of(carol_id)) == 0

    standin.delay = 0
    await bot.start()
    answer = await standin.next_bot_message(cast.carol.id, timeout=60)
    assert "120" in answer.text
    await until(lambda: _all_handled(url), 60, "the update is crossed off", bot)
    assert await bot.end(signal.SIGTERM) == 0, bot.output()
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
