"""Two `crmbot run` processes on one PostgreSQL database: one active, one standing by.

The active one is killed in the middle of a fan-out and of a rep's /plan; the standby takes
over within 15 s, delivers the rest of the fan-out without a 429 and with duplicates at most
the batch that was on its way, handles every update once, and the rep's plan goes on where
it stood. On SQLite a second process refuses to start.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, insert, select, text

from bootstrap import build_services
from bootstrap.config import parse_config
from bot.demo import Cast
from bot.org_file import parse_org_file
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.domain.org.model import OrgSettings
from core.inbox.notifications import publish_many
from core.ports import SystemClock
from standin import BotApiStandIn, Limits
from storage.database import Database
from storage.leadership import ACTIVE_KEY
from storage.tables import (
    DepartmentRow,
    InboundUpdateRow,
    MemberRow,
    NotificationRow,
    PlanItemRow,
)
from tests.chat.running_bot import RunningBot
from tests.conftest import BACKENDS, _truncate, sqlite_copy

MEMBERS = 600
FIRST_ID = 500_000
SCALE = 10
BATCH = 50
TAKEOVER_LIMIT = 15.0
OUTBOX = (f"[outbox]\nmessages_per_second = {30 * SCALE}\n"
          f"private_per_second = {1 * SCALE}\ngroup_per_minute = {20 * SCALE}\n"
          f"batch = {BATCH}\nlease_seconds = 600\n")
SETTINGS = OrgSettings("Takeover Trading", "UTC", "EUR", "en")


@pytest.fixture(params=[b for b in BACKENDS if b == "postgresql"])
async def company(request, org_file) -> str:
    """The example org plus six hundred reps, on PostgreSQL; its URL."""
    url = request.getfixturevalue("postgres_migrated")
    database = Database.connect(url)
    try:
        await _truncate(database)
        config = parse_config({"database": {"url": url}})
        await build_services(config, database, SystemClock()).org.import_org(
            parse_org_file(org_file))
        async with database.uow() as uow:
            department = await uow.session.scalar(select(DepartmentRow.id).limit(1))
            await uow.session.execute(insert(MemberRow), [
                {"key": f"rep{i}", "name": f"Rep {i}", "department_id": department,
                 "account_id": FIRST_ID + i, "active": True} for i in range(MEMBERS)])
            await uow.commit()
    finally:
        await database.dispose()
    return url


@pytest.fixture
async def standin():
    # Telegram's limits ten times faster; a private chat takes the two or three messages of
    # one answer (a reply and an edit) together, as Telegram does, which a 0.1 s window of
    # one message would not.
    async with BotApiStandIn(limits=Limits(private_burst=3).scaled(SCALE)) as running:
        for i in range(MEMBERS):
            running.user(FIRST_ID + i, f"Rep {i}")
        yield running


class Process(RunningBot):
    """A `crmbot run` with its own config folder and health port."""

    def __init__(self, folder: Path, standin: BotApiStandIn, url: str, port: int) -> None:
        folder.mkdir()
        self.port = port
        super().__init__(folder, standin, url,
                         OUTBOX + f"[health]\nport = {self.port}\n")

    async def ready(self) -> tuple[int, dict]:
        try:
            async with aiohttp.ClientSession() as http, http.get(
                    f"http://127.0.0.1:{self.port}/readyz",
                    timeout=aiohttp.ClientTimeout(total=2)) as answer:
                return answer.status, json.loads(await answer.text())
        except (aiohttp.ClientError, TimeoutError):
            return 0, {}

    async def role(self) -> str | None:
        return (await self.ready())[1].get("role")


def two_processes(tmp_path: Path, standin: BotApiStandIn, url: str) -> tuple[Process, Process]:
    with socket.socket() as one, socket.socket() as other:  # both open: two different ports
        one.bind(("127.0.0.1", 0))
        other.bind(("127.0.0.1", 0))
        ports = one.getsockname()[1], other.getsockname()[1]
    return (Process(tmp_path / "first", standin, url, ports[0]),
            Process(tmp_path / "second", standin, url, ports[1]))


async def start_active_and_standby(first: Process, second: Process) -> None:
    await first.start()
    await until(lambda: _is(first, "active"), 60, "the first process is active", first)
    await second.start()
    await until(lambda: _is(second, "standby"), 60, "the second one stands by", second)


async def until(condition, timeout: float, what: str, *processes: Process) -> float:
    """Seconds it took for `condition` to hold."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout:
            logs = "\n".join(p.output() for p in processes)
            raise AssertionError(f"not within {timeout}s: {what}\n{logs}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def scalar(url: str, query, parameters: dict | None = None):
    database = Database.connect(url)
    try:
        async with database.uow(read_only=True) as uow:
            return await uow.session.scalar(query, parameters)
    finally:
        await database.dispose()


async def publish_fan_out(url: str) -> None:
    database = Database.connect(url)
    try:
        async with database.uow() as uow:
            reps = (await uow.session.scalars(select(MemberRow.id).where(
                MemberRow.account_id >= FIRST_ID))).all()
            await publish_many(uow, [
                NewNotification(key=f"price-list:{member}", kind=NotificationKind.SYSTEM,
                                member_id=member, payload={"text": "The new price list is out."})
                for member in reps], now=SystemClock().now(), settings=SETTINGS)
            await uow.commit()
    finally:
        await database.dispose()


def delivered():
    return select(func.count()).select_from(NotificationRow).where(
        NotificationRow.state == "delivered")


def unhandled():
    return select(func.count()).select_from(InboundUpdateRow).where(
        InboundUpdateRow.handled_at.is_(None))


async def test_the_standby_takes_over_a_killed_active_process(company, standin, tmp_path):
    cast = Cast(standin)
    carol = cast.carol
    first, second = two_processes(tmp_path, standin, company)
    async with first, second:
        await start_active_and_standby(first, second)
        assert await first.ready() == (200, {"database": "ok", "migrations": "current",
                                             "role": "active"})

        # A rep half way through tomorrow's plan.
        await carol.send("/plan")
        await standin.next_bot_message(carol.id, timeout=30)
        await carol.send("Call the office")
        customer_question = await standin.next_bot_message(carol.id, timeout=30)
        await carol.press(customer_question, "⏭ No customer")
        await until(lambda: _asks_time(standin, carol.id), 30, "the time question", first)

        # A fan-out on its way, then the active process is gone.
        await publish_fan_out(company)
        await until(lambda: _sent_at_least(standin, 150), 60, "the fan-out starts", first)
        await first.end(signal.SIGKILL)
        killed_at = standin.stats.messages_sent
        assert killed_at < MEMBERS

        took = await until(lambda: _is(second, "active"), 60, "the standby takes over", second)
        assert took <= TAKEOVER_LIMIT, second.output()

        # The rep goes on where the plan stood, answered by the new active process.
        time_question = standin.bot_messages(carol.id)[-1]
        await carol.press(time_question, "⏭ No set time")
        review = await until_message(standin, carol.id, "✅ Save plan", second)
        await carol.press(review, "✅ Save plan")
        saved = await until_message(standin, carol.id, "saved", second)
        assert "1. Call the office" in saved.text

        await until(lambda: _all_delivered(company), 120, "the fan-out is delivered", second)
        await until(lambda: _none_unhandled(company), 30, "every update is handled", second)
        await asyncio.sleep(0.3)  # anything sent twice would arrive now
        assert await second.end(signal.SIGTERM) == 0, second.output()

    sent = standin.stats.messages_per_chat
    counts = Counter({FIRST_ID + i: sent[FIRST_ID + i] for i in range(MEMBERS)})
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    print(f"\ntakeover {took:.1f} s after a kill at {killed_at} of {MEMBERS} messages; "
          f"{duplicates} sent twice")
    assert min(counts.values()) == 1
    assert duplicates <= BATCH
    assert standin.stats.too_many_requests == 0
    # Each of Carol's updates was handled once: one plan, with its one item.
    items = await scalar(company, select(func.count()).select_from(PlanItemRow).where(
        PlanItemRow.text == "Call the office"))
    assert items == 1


async def _is(process: Process, role: str) -> bool:
    if process.process is not None and process.process.returncode is not None:
        raise AssertionError(f"the process exited:\n{process.output()}")
    return await process.role() == role


async def _asks_time(standin: BotApiStandIn, chat: int) -> bool:
    messages = standin.bot_messages(chat)
    return bool(messages) and "⏭ No set time" in str(messages[-1].reply_markup)


async def _sent_at_least(standin: BotApiStandIn, count: int) -> bool:
    return standin.stats.messages_sent >= count


async def _all_delivered(url: str) -> bool:
    return await scalar(url, delivered()) >= MEMBERS


async def _none_unhandled(url: str) -> bool:
    return await scalar(url, unhandled()) == 0


async def until_message(standin: BotApiStandIn, chat: int, words: str, process: Process):
    async def seen() -> bool:
        messages = standin.bot_messages(chat)
        return bool(messages) and words in (messages[-1].text or "") + str(
            messages[-1].reply_markup)

    await until(seen, 30, f"a message with {words!r}", process)
    return standin.bot_messages(chat)[-1]


async def test_a_second_process_on_sqlite_refuses_to_start(sqlite_template, standin, tmp_path):
    first, second = two_processes(tmp_path, standin, sqlite_copy(sqlite_template, tmp_path))
    async with first, second:
        await first.start()
        await until(lambda: _is(first, "active"), 60, "the first process is active", first)
        await second.start()
        assert await asyncio.wait_for(second.process.wait(), 60) == 2
        assert await first.role() == "active"
    lines = second.output().strip().splitlines()
    assert lines == [f"crmbot: another crmbot run is using {tmp_path / 'crm.db'}: stop it "
                     "first (a standby process needs PostgreSQL)"]


async def test_an_active_process_cut_off_from_its_lock_steps_down(company, standin, tmp_path):
    """The lock's connection is gone (a network cut, a restarted server): the process stops
    polling and sending at once and stands by; the standby takes over."""
    cast = Cast(standin)
    first, second = two_processes(tmp_path, standin, company)
    async with first, second:
        await start_active_and_standby(first, second)

        assert await scalar(company, text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND objid = :key"),
            {"key": ACTIVE_KEY}) == 1
        await until(lambda: _is(first, "standby"), 15, "the first one steps down", first)
        took = await until(lambda: _is(second, "active"), 30, "the standby takes over", second)
        assert took <= TAKEOVER_LIMIT

        await cast.carol.send("/help")
        await standin.next_bot_message(cast.carol.id, timeout=30)
        await until(lambda: _none_unhandled(company), 30, "the update is handled", second)
        await asyncio.sleep(0.5)  # a second answer would arrive now
        assert [m.text for m in standin.bot_messages(cast.carol.id)].count(
            standin.bot_messages(cast.carol.id)[-1].text) == 1
        assert await first.role() == "standby"
        assert await first.end(signal.SIGTERM) == 0, first.output()
        assert await second.end(signal.SIGTERM) == 0, second.output()
    assert standin.stats.too_many_requests == 0
