"""Replies during a fan-out: how long a check-in's answer waits while 10,000 notices go out.

    make bench-replies       (.venv/bin/python -m bench.replies --members 10000 --scale 1)

A generated org of --members reps (SQLite) and the stand-in in its own process with
Telegram's limits enforced (scaled by --scale; 1 is Telegram's own). Simulated reps check
in at customers' sites at a steady --rate (per second at Telegram's rates; scaled with the
limits), each answered by the real bot. First the check-ins alone: the Bot API round trip
(getUpdates, the handler, sendMessage) with nothing else going on. Then one notification per
member is published and the check-ins go on until every notification was delivered: once
with replies and bulk sends in one line in call order (the pacer's earlier behaviour), once
with replies first. Latency is measured by the stand-in: from the rep's location to the
bot's answer in that chat, as the rep sees it. The fan-out's rate is measured there too,
from its first message to its last; its completion time from publishing to the last
delivery recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import insert, select
from telegram import Update

from bench.fanout import BOT_ID, FIRST_ID, RULES, generate_org
from bench.standin import TOKEN, standin_process
from bootstrap import org_defaults
from bootstrap.config import Config, parse_config
from bot.app import build_application
from bot.outbox import Dispatcher
from bot.pacing import Pacer
from bot.stage import free_port
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.inbox.notifications import publish_many
from core.ports import SystemClock
from storage.database import Database
from storage.migrate import upgrade
from storage.tables import CustomerRow, MemberRow

ADDED_P95_LIMIT = 0.300  # seconds over the round trip, at Telegram's own rates
NOTICE = "The price list for {phase} is out."
# Reps who check in: the first of the org's members, each at a site of their own.
CHECKING_IN = 200
SITE = (31.2304, 121.4737)


@dataclass
class Phase:
    name: str
    latencies: list[float]  # seconds from the rep's location to the bot's answer
    unanswered: int
    too_many_requests: int  # 429s the stand-in answered during the phase
    # Answers that came within a second of the chat's own notice: Telegram takes one
    # message a second in a private chat, so these waited for it (whatever the order).
    beside_notice: int = 0
    paced: list[float] = field(default_factory=list)  # seconds replies spent in the pacer
    delivered: int = 0
    span_seconds: float = 0.0  # first fan-out message to last, at the stand-in
    completion_seconds: float = 0.0  # publishing to the last delivery recorded

    def percentile(self, q: int, of: list[float] | None = None) -> float:
        values = self.latencies if of is None else of
        if len(values) < 2:
            return values[0] if values else float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    @property
    def rate(self) -> float:
        return self.delivered / self.span_seconds if self.span_seconds else 0.0


def bench_config(url: str, port: int, scale: float, photos: Path) -> Config:
    return parse_config({
        "telegram": {"base_url": f"http://127.0.0.1:{port}/bot",
                     "base_file_url": f"http://127.0.0.1:{port}/file/bot"},
        "database": {"url": url},
        "org": {"name": "Fan-out Trading", "timezone": "UTC"},
        "outbox": {"messages_per_second": 30 * scale, "private_per_second": 1 * scale,
                   "group_per_minute": 20 * scale},
        "storage": {"photos_dir": str(photos)},
        "reminders": {rule: {"enabled": False} for rule in RULES},
    }, env={})


def sites(count: int) -> list[dict]:
    """One customer's site for each rep who checks in, about 1 km apart."""
    return [{"key": f"c{i}", "name": f"Customer {i}", "address": "",
             "lat": SITE[0] + (i // 20) * 0.01, "lon": SITE[1] + (i % 20) * 0.01,
             "radius_m": 200} for i in range(count)]


async def seed_customers(database: Database, rows: list[dict]) -> None:
    async with database.uow() as uow:
        await uow.session.execute(insert(CustomerRow), rows)
        await uow.commit()


async def publish(database: Database, config: Config, phase: str) -> int:
    """One notification per member, in one transaction (as bench.fanout does)."""
    async with database.uow(read_only=True) as uow:
        ids = list(await uow.session.scalars(select(MemberRow.id).order_by(MemberRow.id)))
    news = [NewNotification(key=f"price-list:{phase}:{i}", kind=NotificationKind.SYSTEM,
                            member_id=i, payload={"text": NOTICE.format(phase=phase)})
            for i in ids]
    async with database.uow() as uow:
        created = await publish_many(uow, news, now=SystemClock().now(),
                                     settings=org_defaults(config))
        await uow.commit()
    return created


def time_replies_in(pacer: Pacer) -> list[float]:
    """From now on, how long each reply waits in the pacer before it leaves (seconds)."""
    waits: list[float] = []
    process = pacer.process_request

    async def timed(callback, args, kwargs, endpoint, data, rate_limit_args):
        if rate_limit_args is not None or endpoint != "sendMessage":
            return await process(callback, args, kwargs, endpoint, data, rate_limit_args)
        asked = time.perf_counter()

        async def leave(*a, **k):
            waits.append(time.perf_counter() - asked)
            return await callback(*a, **k)

        return await process(leave, args, kwargs, endpoint, data, rate_limit_args)

    pacer.process_request = timed  # type: ignore[method-assign]
    return waits


class Driver:
    """Reps checking in at a steady rate through the stand-in's control API."""

    def __init__(self, port: int, reps: int, rows: list[dict], rate: float) -> None:
        self.base = f"http://127.0.0.1:{port}/_sandbox"
        self.reps = reps
        self.rows = rows
        self.interval = 1 / rate
        self._turn = itertools.count()
        self.http: aiohttp.ClientSession

    async def __aenter__(self) -> Driver:
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def get(self, path: str, **query: object) -> dict:
        async with self.http.get(f"{self.base}/{path}", params={
                k: str(v) for k, v in query.items()}) as response:
            return (await response.json())["result"]

    async def check_in(self) -> None:
        n = next(self._turn) % self.reps
        site = self.rows[n]
        async with self.http.post(f"{self.base}/location", json={
                "user_id": FIRST_ID + n, "latitude": site["lat"], "longitude": site["lon"],
                "horizontal_accuracy": 8.0}) as response:
            response.raise_for_status()

    async def steadily(self, until) -> None:
        """Check in every `interval` seconds until until() says stop."""
        next_at = time.monotonic()
        sending: set[asyncio.Task] = set()
        while not until():
            task = asyncio.create_task(self.check_in())
            sending.add(task)
            task.add_done_callback(sending.discard)
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if sending:
            await asyncio.gather(*sending)


def measure(entries: list[dict], name: str, notice: str | None) -> Phase:
    """Latencies of the check-ins in `entries`, and the fan-out of `notice` among them."""
    asked: dict[int, list[float]] = {}
    latencies: list[float] = []
    unanswered = 0
    notices: list[float] = []
    noticed: dict[int, float] = {}
    answered: list[tuple[int, float, float]] = []
    for entry in entries:
        chat = entry["chat_id"]
        if entry["kind"] == "location" and entry["actor_id"] != BOT_ID:
            asked.setdefault(chat, []).append(entry["time"])
        elif entry["actor_id"] == BOT_ID and entry["kind"] == "message":
            text = entry.get("text") or ""
            if text.startswith("📍") and asked.get(chat):
                answered.append((chat, asked[chat].pop(0), entry["time"]))
                latencies.append(entry["time"] - answered[-1][1])
            elif notice is not None and text == notice:
                notices.append(entry["time"])
                noticed[chat] = entry["time"]
    unanswered = sum(len(times) for times in asked.values())
    beside = sum(1 for chat, at, answer in answered
                 if chat in noticed and at - 1.5 <= noticed[chat] <= answer)
    return Phase(name, latencies, unanswered, 0, beside_notice=beside, delivered=len(notices),
                 span_seconds=max(notices) - min(notices) if notices else 0.0)


async def run(members: int, scale: float, rate: float, idle_seconds: float,
              modes: list[bool]) -> list[Phase]:
    workdir = Path(tempfile.mkdtemp(prefix="crmbot-bench-"))
    url = f"sqlite+aiosqlite:///{workdir / 'crm.db'}"
    await upgrade(url)
    port = free_port()
    config = bench_config(url, port, scale, workdir / "photos")
    database = Database.connect(url)
    await generate_org(database, members)
    reps = min(CHECKING_IN, members)
    rows = sites(reps)
    await seed_customers(database, rows)
    phases: list[Phase] = []
    async with standin_process(port, members, FIRST_ID, scale):
        application = build_application(config, database=database, token=TOKEN)
        try:
            await application.initialize()
            await application.post_init(application)  # starts the dispatcher
            await application.start()
            await application.updater.start_polling(poll_interval=0.0, timeout=5,
                                                    allowed_updates=Update.ALL_TYPES)
            pacer: Pacer = application.bot.rate_limiter  # type: ignore[assignment]
            dispatcher: Dispatcher = application.bot_data["dispatcher"]
            paced = time_replies_in(pacer)
            async with Driver(port, reps, rows, rate * scale) as driver:
                mark = 0

                async def phase(name: str, notice: str | None, until) -> Phase:
                    nonlocal mark
                    paced.clear()
                    before = (await driver.get("stats"))["too_many_requests"]
                    await driver.steadily(until)
                    await asyncio.sleep(2)  # the last answers come back
                    entries = (await driver.get("transcript", since=mark))["entries"]
                    mark += len(entries)
                    result = measure(entries, name, notice)
                    result.paced = list(paced)
                    result.too_many_requests = (await driver.get("stats"))["too_many_requests"] \
                        - before
                    return result

                stop_at = time.monotonic() + idle_seconds
                phases.append(await phase("check-ins alone (the round trip)", None,
                                          lambda: time.monotonic() > stop_at))
                for replies_first in modes:
                    pacer.replies_first = replies_first
                    label = "replies first" if replies_first else "one line, in call order"
                    name = f"during the fan-out: {label}"
                    tag = "replies-first" if replies_first else "call-order"
                    target = dispatcher.counters.sent + members
                    started = time.monotonic()
                    await publish(database, config, tag)
                    dispatcher.wake()
                    done: list[float] = []

                    def finished(target=target, started=started, done=done) -> bool:
                        if dispatcher.counters.sent >= target:
                            done.append(time.monotonic() - started)
                            return True
                        return False

                    result = await phase(name, NOTICE.format(phase=tag), finished)
                    result.completion_seconds = done[0]
                    phases.append(result)
            await application.updater.stop()
        finally:
            if application.running:
                await application.stop()
                await application.post_stop(application)
            await application.shutdown()
            await application.post_shutdown(application)
    await database.dispose()
    return phases


def report(phases: list[Phase], members: int, scale: float, rate: float, command: str) -> str:
    k = scale
    base = phases[0]
    lines = [
        f"Replies during a fan-out to {members:,} members: Telegram's limits x{k:g} on both "
        f"sides ({30 * k:g} msg/s overall, {1 * k:g}/s per private chat); check-ins at "
        f"{rate * k:g}/s from {min(CHECKING_IN, members)} reps; SQLite",
        "",
        f"  {'':<42} {'check-ins':>9} {'p50':>8} {'p95':>8} {'added p50':>10} "
        f"{'added p95':>10} {'429s':>5} {'fan-out rate':>13} {'complete':>9}",
    ]
    for phase in phases:
        added = phase is not base
        fan = (f"{phase.rate:8.1f} msg/s" if phase.delivered else "")
        lines.append(
            f"  {phase.name:<42} {len(phase.latencies):>9} "
            f"{1000 * phase.percentile(50):>6.0f}ms {1000 * phase.percentile(95):>6.0f}ms "
            + (f"{1000 * (phase.percentile(50) - base.percentile(50)):>8.0f}ms "
               f"{1000 * (phase.percentile(95) - base.percentile(95)):>8.0f}ms "
               if added else f"{'':>10} {'':>10} ")
            + f"{phase.too_many_requests:>5} {fan:>13} "
            + (f"{phase.completion_seconds:>8.1f}s" if added else ""))
        lines.append(f"    in the pacer: p50 {1000 * phase.percentile(50, phase.paced):.0f} ms, "
                     f"p95 {1000 * phase.percentile(95, phase.paced):.0f} ms")
        if phase.beside_notice:
            lines.append(f"    of which {phase.beside_notice} answered within a second of the "
                         f"rep's own notice (one message a second per private chat)")
        if phase.unanswered:
            lines.append(f"    {phase.unanswered} check-ins unanswered")
    # The baseline in call order is measured, not judged (its replies can earn a 429).
    judged = [p for p in phases if "call order" not in p.name]
    ok = all(p.too_many_requests == 0 and not p.unanswered for p in judged)
    first = [p for p in phases[1:] if "replies first" in p.name]
    if first:
        added_p95 = (first[0].percentile(95) - base.percentile(95)) * scale
        ok = ok and added_p95 < ADDED_P95_LIMIT
        lines += ["", f"  replies first: p95 added over the round trip "
                      f"{1000 * added_p95:.0f} ms at Telegram's rates"
                      + (f" (x{k:g}: waits for the pacer scale with the limits)"
                         if k != 1 else "")
                      + f"  (must be < {1000 * ADDED_P95_LIMIT:.0f} ms, 0 x 429)"]
    lines += ["", f"  {'PASS' if ok else 'FAIL'}",
              f"  load average (1 min) at the end: {os.getloadavg()[0]:.2f}",
              f"  command: {command}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replies", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply Telegram's limits on both sides (default 1)")
    parser.add_argument("--rate", type=float, default=2.0,
                        help="check-ins per second at Telegram's rates (default 2)")
    parser.add_argument("--idle", type=float, default=20.0,
                        help="seconds of check-ins alone, for the round trip (default 20)")
    parser.add_argument("--only", choices=("replies-first", "call-order"),
                        help="run one of the two fan-outs (default both)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    modes = {"replies-first": [True], "call-order": [False]}.get(args.only, [False, True])
    phases = asyncio.run(run(args.members, args.scale, args.rate, args.idle, modes))
    command = (f".venv/bin/python -m bench.replies --members {args.members} "
               f"--scale {args.scale:g} --rate {args.rate:g} --idle {args.idle:g}"
               + (f" --only {args.only}" if args.only else ""))
    text = report(phases, args.members, args.scale, args.rate, command)
    print(text)
    return 0 if "PASS" in text else 1


if __name__ == "__main__":
    sys.exit(main())
