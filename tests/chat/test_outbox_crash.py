"""`crmbot run` stopped or killed in the middle of a fan-out: nothing lost, nothing doubled.

The real bot runs in a subprocess against a stand-in served by the test, with Telegram's
limits scaled ten times (300 messages/s) on both sides so a thousand messages take seconds.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import func, insert, select

from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.domain.org.model import Department, OrgSettings
from core.inbox.notifications import publish_many
from core.ports import SystemClock
from standin import BotApiStandIn, Limits
from storage.database import Database
from storage.tables import MemberRow, NotificationRow
from tests.chat.running_bot import RunningBot
from tests.conftest import BACKENDS, _truncate, sqlite_copy

MEMBERS = 1_000
FIRST_ID = 500_000
SCALE = 10
BATCH = 50
# Claims last this long: recovery from a kill is proven by finishing well before it runs out,
# with room for a slow start on a busy machine.
LEASE_SECONDS = 600
OUTBOX = (f"[outbox]\nmessages_per_second = {30 * SCALE}\n"
          f"private_per_second = {1 * SCALE}\ngroup_per_minute = {20 * SCALE}\n"
          f"batch = {BATCH}\nlease_seconds = {LEASE_SECONDS}\n")
SETTINGS = OrgSettings("Crash Test Co.", "UTC", "EUR", "en")


@pytest.fixture
async def standin():
    async with BotApiStandIn(limits=Limits().scaled(SCALE)) as running:
        for i in range(MEMBERS):
            running.user(FIRST_ID + i, f"Rep {i}")
        yield running


@pytest.fixture(params=BACKENDS)
async def fan_out(request, tmp_path) -> str:
    """A database with a thousand members and a notification pending for each; its URL."""
    if request.param == "sqlite":
        url = sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        database = Database.connect(url)
    else:
        url = request.getfixturevalue("postgres_migrated")
        database = Database.connect(url)
        await _truncate(database)
    try:
        async with database.uow() as uow:
            field = await uow.departments.add(Department(None, "field", "Field"))
            # Plain SQL for the people: a thousand one by one would take seconds.
            await uow.session.execute(insert(MemberRow), [
                {"key": f"rep{i}", "name": f"Rep {i}", "department_id": field.id,
                 "account_id": FIRST_ID + i, "active": True} for i in range(MEMBERS)])
            members = await uow.members.all()
            await publish_many(uow, [
                NewNotification(key=f"price-list:{m.id}", kind=NotificationKind.SYSTEM,
                                member_id=m.id, payload={"text": "The new price list is out."})
                for m in members], now=SystemClock().now(), settings=SETTINGS)
            await uow.commit()
    finally:
        await database.dispose()
    return url


async def until_sent(standin: BotApiStandIn, count: int, bot: RunningBot,
                     timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while standin.stats.messages_sent < count:
        if bot.process is not None and bot.process.returncode is not None:
            pytest.fail(f"the bot exited early:\n{bot.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"only {standin.stats.messages_sent} of {count} sent:\n{bot.output()}")
        await asyncio.sleep(0.02)


async def outbox_state(url: str) -> tuple[dict[str, int], int]:
    """(notifications per state, how many are still claimed)."""
    database = Database.connect(url)
    try:
        async with database.uow(read_only=True) as uow:
            states = dict((await uow.session.execute(
                select(NotificationRow.state, func.count()).group_by(NotificationRow.state))
            ).all())
            claimed = await uow.session.scalar(select(func.count()).select_from(
                NotificationRow).where(NotificationRow.claimed_by.is_not(None)))
        return states, claimed
    finally:
        await database.dispose()


def per_member(standin: BotApiStandIn) -> Counter[int]:
    sent = standin.stats.messages_per_chat
    return Counter({FIRST_ID + i: sent[FIRST_ID + i] for i in range(MEMBERS)})


async def test_sigterm_mid_fan_out_then_restart_delivers_each_exactly_once(
        standin, fan_out, tmp_path):
    async with RunningBot(tmp_path, standin, fan_out, OUTBOX) as bot:
        await _sigterm_then_restart(bot, standin, fan_out)


async def _sigterm_then_restart(bot: RunningBot, standin: BotApiStandIn, fan_out: str) -> None:
    await bot.start()
    await until_sent(standin, 300, bot)
    assert await bot.end(signal.SIGTERM) == 0, bot.output()
    stopped_at = standin.stats.messages_sent
    states, claimed = await outbox_state(fan_out)
    assert claimed == 0  # every unsent claim was handed back
    assert states["delivered"] == stopped_at < MEMBERS  # every send on its way was recorded

    await bot.start()
    await until_sent(standin, MEMBERS, bot)
    await asyncio.sleep(0.3)  # anything extra would arrive now
    assert await bot.end(signal.SIGTERM) == 0, bot.output()
    assert set(per_member(standin).values()) == {1}
    assert standin.stats.too_many_requests == 0
    assert await outbox_state(fan_out) == ({"delivered": MEMBERS}, 0)


async def test_sigkill_mid_fan_out_then_restart_loses_none(standin, fan_out, tmp_path):
    async with RunningBot(tmp_path, standin, fan_out, OUTBOX) as bot:
        await _sigkill_then_restart(bot, standin, fan_out)


async def _sigkill_then_restart(bot: RunningBot, standin: BotApiStandIn, fan_out: str) -> None:
    await bot.start()
    await until_sent(standin, 300, bot)
    await bot.end(signal.SIGKILL)
    killed_at = standin.stats.messages_sent

    await bot.start()
    # What the killed process held goes out at once, not when its lease runs out.
    await until_sent(standin, MEMBERS, bot, timeout=LEASE_SECONDS / 5)
    deadline = time.monotonic() + 10
    while (await outbox_state(fan_out))[0].get("delivered", 0) < MEMBERS:
        assert time.monotonic() < deadline, bot.output()
        await asyncio.sleep(0.1)
    assert await bot.end(signal.SIGTERM) == 0, bot.output()
    counts = per_member(standin)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    print(f"\nSIGKILL after {killed_at} of {MEMBERS} messages: {duplicates} sent twice "
          f"(at most the {BATCH} claimed at the kill may be)")
    assert min(counts.values()) == 1
    assert duplicates <= BATCH
    assert await outbox_state(fan_out) == ({"delivered": MEMBERS}, 0)
