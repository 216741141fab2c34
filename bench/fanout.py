"""Fan-out: one notification for each of 10,000 members, enqueued and delivered within limits.

    make bench-fanout        (.venv/bin/python -m bench.fanout --members 10000 --scale 10)
    make bench-standby       (.venv/bin/python -m bench.fanout --processes 2 --kill-at 0.5)

With --processes N, N `crmbot run` processes share a PostgreSQL database (a scratch database
beside --postgres): one is active and sends, the others stand by; with --kill-at F the active
one is killed (SIGKILL) once that fraction was sent, and a standby takes over. The rate then
includes the takeover.

Telegram allows about 30 messages/s per bot and 1/s per private chat, so 10,000 messages
take over five minutes. To finish in about half a minute both sides are scaled by --scale:
the stand-in enforces Limits().scaled(k) and the dispatcher is configured with k times
Telegram's rates. The stand-in runs in its own process, as Telegram would; the rate is
measured there, from the first message it accepted to the last.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from bench.scratch import DEFAULT_POSTGRES, scratch_database
from bench.standin import TOKEN, control, standin_process
from bootstrap import org_defaults
from bootstrap.config import Config, parse_config
from bot.app import build_application
from bot.stage import free_port
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.inbox.notifications import publish_many
from core.ports import SystemClock
from storage.database import Database
from storage.leadership import read_holder
from storage.migrate import upgrade
from storage.tables import DepartmentRow, MemberRoleRow, MemberRow, NotificationRow

FIRST_ID = 500_000
BOT_ID = 123456
RULES = ("plan_reminder", "log_reminder", "morning_digest", "approval_sla", "follow_up")
ENQUEUE_LIMIT = 2.0  # seconds
RATE_FLOOR = 95.0  # percent of the allowed rate
# Several `crmbot run` processes on PostgreSQL, a takeover in the middle included: the pause
# until the standby sends counts against the rate.
PROCESSES_RATE_FLOOR = 90.0
TAKEOVER_LIMIT = 15.0  # seconds


@dataclass
class Result:
    members: int
    scale: float
    enqueue_seconds: float
    enqueued: int
    delivered: int
    once_each: bool
    too_many_requests: int
    dispatcher_429s: int
    span_seconds: float
    allowed_rate: float
    processes: int = 1
    takeover_seconds: float | None = None  # from the kill to the standby's first send
    duplicates: int = 0  # sent again after a kill: at most the batch that was on its way

    @property
    def rate(self) -> float:
        return self.delivered / self.span_seconds if self.span_seconds else 0.0

    @property
    def percent(self) -> float:
        return 100 * self.rate / self.allowed_rate

    @property
    def floor(self) -> float:
        return RATE_FLOOR if self.processes == 1 else PROCESSES_RATE_FLOOR

    @property
    def passed(self) -> bool:
        return (self.enqueue_seconds < ENQUEUE_LIMIT and self.once_each
                and self.too_many_requests == 0 and self.percent >= self.floor
                and (self.takeover_seconds or 0) <= TAKEOVER_LIMIT)


def bench_config(url: str, port: int, scale: float) -> Config:
    return parse_config({
        "telegram": {"base_url": f"http://127.0.0.1:{port}/bot",
                     "base_file_url": f"http://127.0.0.1:{port}/file/bot"},
        "database": {"url": url},
        "org": {"name": "Fan-out Trading", "timezone": "UTC"},
        "outbox": {"messages_per_second": 30 * scale, "private_per_second": 1 * scale,
                   "group_per_minute": 20 * scale},
        # Only the fan-out is measured: no reminders for the same people meanwhile.
        "reminders": {rule: {"enabled": False} for rule in RULES},
    }, env={})


async def generate_org(database: Database, members: int) -> None:
    """One department of `members` reps who all started the bot (bulk SQL: it is set-up)."""
    async with database.uow() as uow:
        session = uow.session
        department = (await session.execute(insert(DepartmentRow).values(
            key="field", name="Field sales").returning(DepartmentRow.id))).scalar_one()
        await session.execute(insert(MemberRow), [
            {"key": f"rep{i}", "name": f"Rep {i}", "department_id": department,
             "account_id": FIRST_ID + i, "language": "en", "active": True}
            for i in range(members)])
        ids = list(await session.scalars(select(MemberRow.id)))
        await session.execute(insert(MemberRoleRow), [{"member_id": i, "role": "rep"}
                                                      for i in ids])
        await uow.commit()


async def enqueue(database: Database, config: Config) -> tuple[float, int]:
    """Seconds to publish one notification per member (publish_many, one transaction)."""
    async with database.uow(read_only=True) as uow:
        ids = list(await uow.session.scalars(select(MemberRow.id).order_by(MemberRow.id)))
    news = [NewNotification(key=f"price-list:2026-11:{i}", kind=NotificationKind.SYSTEM,
                            member_id=i, payload={"text": "The November price list is out."})
            for i in ids]
    started = time.perf_counter()
    async with database.uow() as uow:
        created = await publish_many(uow, news, now=SystemClock().now(),
                                     settings=org_defaults(config))
        await uow.commit()
    return time.perf_counter() - started, created


async def deliver(config: Config, database: Database, members: int, port: int) -> int:
    """Run the real bot until every notification was delivered; the dispatcher's 429 count."""
    application = build_application(config, database=database, token=TOKEN)
    await application.initialize()
    await application.post_init(application)  # starts the dispatcher
    await application.start()
    dispatcher = application.bot_data["dispatcher"]
    deadline = time.monotonic() + members / (config.outbox.messages_per_second * 0.5) + 30
    try:
        while dispatcher.counters.sent < members:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {dispatcher.counters.sent} of {members} delivered")
            await asyncio.sleep(0.1)
    finally:
        await application.stop()
        await application.post_stop(application)
        await application.shutdown()
        await application.post_shutdown(application)
    return dispatcher.counters.too_many_requests


async def run(members: int, scale: float) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix="crmbot-bench-"))
    url = f"sqlite+aiosqlite:///{workdir / 'crm.db'}"
    await upgrade(url)
    port = free_port()
    config = bench_config(url, port, scale)
    database = Database.connect(url)
    await generate_org(database, members)
    enqueue_seconds, enqueued = await enqueue(database, config)
    async with standin_process(port, members, FIRST_ID, scale):
        dispatcher_429s = await deliver(config, database, members, port)
        stats = await asyncio.to_thread(control, port, "stats")
        entries = (await asyncio.to_thread(control, port, "transcript"))["entries"]
    accepted = sorted(e["time"] for e in entries
                      if e["actor_id"] == BOT_ID and e["kind"] == "message")
    per_chat = Counter({int(k): v for k, v in stats["messages_per_chat"].items()})
    return Result(
        members=members, scale=scale, enqueue_seconds=enqueue_seconds, enqueued=enqueued,
        delivered=len(accepted),
        once_each=all(per_chat[FIRST_ID + i] == 1 for i in range(members)),
        too_many_requests=stats["too_many_requests"], dispatcher_429s=dispatcher_429s,
        span_seconds=accepted[-1] - accepted[0] if accepted else 0.0,
        allowed_rate=30 * scale)


def config_file(url: str, port: int, scale: float) -> str:
    """bench_config as a `crmbot run` reads it."""
    return (f'[telegram]\nbase_url = "http://127.0.0.1:{port}/bot"\n'
            f'base_file_url = "http://127.0.0.1:{port}/file/bot"\n'
            f'[database]\nurl = "{url}"\n[health]\nport = 0\n'
            f"[outbox]\nmessages_per_second = {30 * scale}\n"
            f"private_per_second = {1 * scale}\ngroup_per_minute = {20 * scale}\n"
            + "".join(f"[reminders.{rule}]\nenabled = false\n" for rule in RULES))


async def delivered_count(database: Database) -> int:
    async with database.uow(read_only=True) as uow:
        return await uow.session.scalar(select(func.count()).select_from(
            NotificationRow).where(NotificationRow.state == "delivered"))


async def active_pid(database: Database) -> int | None:
    holder = await read_holder(database)
    return int(holder.worker.split(":")[1]) if holder is not None else None


async def run_processes(members: int, scale: float, processes: int, postgres: str,
                        kill_at: float | None) -> Result:
    """`processes` × `crmbot run` on one PostgreSQL database; the active one killed at
    `kill_at` of the fan-out."""
    name = f"{make_url(postgres).database}_fanout"
    url = await scratch_database(postgres, name, create=True)
    workdir = Path(tempfile.mkdtemp(prefix="crmbot-bench-"))
    try:
        await upgrade(url)
        database = Database.connect(url)
        await generate_org(database, members)
        port = free_port()
        enqueue_seconds, enqueued = await enqueue(database, bench_config(url, port, scale))
        (workdir / "config.toml").write_text(config_file(url, port, scale), encoding="utf-8")
        env = {**os.environ, "CRMBOT_TOKEN": TOKEN}
        async with standin_process(port, members, FIRST_ID, scale):
            bots = []
            for i in range(processes):
                with (workdir / f"bot{i}.log").open("wb") as log:
                    bots.append(await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "bot.cli", "run", "--config",
                        str(workdir / "config.toml"), env=env, stdout=log, stderr=log))
            try:
                killed = await _until_delivered(database, port, members, scale, bots,
                                                kill_at)
                stats = await asyncio.to_thread(control, port, "stats")
                entries = (await asyncio.to_thread(control, port, "transcript"))["entries"]
            finally:
                for bot in bots:
                    if bot.returncode is None:
                        bot.send_signal(signal.SIGTERM)
                await asyncio.gather(*(bot.wait() for bot in bots))
        await database.dispose()
    finally:
        await scratch_database(postgres, name, create=False)
    accepted = sorted(e["time"] for e in entries
                      if e["actor_id"] == BOT_ID and e["kind"] == "message")
    takeover = None
    if killed is not None:
        takeover = next(t for t in accepted if t > killed) - killed
    per_chat = Counter({int(k): v for k, v in stats["messages_per_chat"].items()})
    return Result(
        members=members, scale=scale, enqueue_seconds=enqueue_seconds, enqueued=enqueued,
        delivered=len(accepted),
        once_each=all(per_chat[FIRST_ID + i] >= 1 for i in range(members)),
        duplicates=sum(n - 1 for n in per_chat.values() if n > 1),
        too_many_requests=stats["too_many_requests"], dispatcher_429s=0,
        span_seconds=accepted[-1] - accepted[0] if accepted else 0.0,
        allowed_rate=30 * scale, processes=processes, takeover_seconds=takeover)


async def _until_delivered(database: Database, port: int, members: int, scale: float,
                           bots: list, kill_at: float | None) -> float | None:
    """Wait for every notification to be delivered, killing the active process on the way;
    when it was killed (wall-clock time, as the stand-in's transcript keeps it)."""
    deadline = time.monotonic() + members / (30 * scale * 0.5) + 60
    killed = None
    while await delivered_count(database) < members:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {await delivered_count(database)} of {members} delivered")
        if kill_at is not None and killed is None:
            sent = (await asyncio.to_thread(control, port, "stats"))["messages_sent"]
            if sent >= kill_at * members:
                pid = await active_pid(database)
                victim = next(bot for bot in bots if bot.pid == pid)
                victim.send_signal(signal.SIGKILL)
                killed = time.time()
        await asyncio.sleep(0.05)
    return killed


def report(result: Result, command: str) -> str:
    k = result.scale
    backend = "PostgreSQL" if result.processes > 1 else "SQLite"
    rows = [
        ("members (generated org)", f"{result.members:,}"),
        (f"enqueue (publish_many, {backend})", f"{result.enqueued:,} in "
                                               f"{result.enqueue_seconds:.2f} s"
                                               f"  (must be < {ENQUEUE_LIMIT:.0f} s)"),
        ("delivered, each member once", f"{result.delivered:,}  "
                                        f"{'yes' if result.once_each else 'NO'}"),
        *([("sent twice (the batch in flight)", f"{result.duplicates}")]
          if result.takeover_seconds is not None else []),
        ("429s received (stand-in / bot)", f"{result.too_many_requests} / "
                                           f"{result.dispatcher_429s}  (must be 0)"),
        ("first send -> last accepted", f"{result.span_seconds:.2f} s"),
        *([("processes (one active)", f"{result.processes}")] if result.processes > 1 else []),
        *([("kill -> standby's first send", f"{result.takeover_seconds:.2f} s"
            f"  (must be <= {TAKEOVER_LIMIT:.0f} s)")]
          if result.takeover_seconds is not None else []),
        ("achieved rate", f"{result.rate:.1f} msg/s = {result.percent:.1f}% of "
                          f"{result.allowed_rate:.0f} msg/s allowed"
                          f"  (must be >= {result.floor:.0f}%)"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [
        f"Fan-out benchmark: Telegram's limits scaled x{k:g} on both sides "
        f"(stand-in Limits().scaled({k:g}); dispatcher {30 * k:g} msg/s overall, "
        f"{1 * k:g}/s per private chat, {20 * k:g}/min per group)",
        "",
        *(f"  {name:<{width}}  {value}" for name, value in rows),
        "",
        f"  {'PASS' if result.passed else 'FAIL'}",
        f"  command: {command}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=10.0,
                        help="multiply Telegram's limits on both sides (default 10)")
    parser.add_argument("--processes", type=int, default=1,
                        help="crmbot run processes on one PostgreSQL database (default 1: "
                             "the dispatcher in this process, on SQLite)")
    parser.add_argument("--kill-at", type=float, metavar="FRACTION",
                        help="kill the active process once this fraction was sent")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, metavar="URL",
                        help="the server for --processes (a scratch database beside it)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    command = (f".venv/bin/python -m bench.fanout --members {args.members} "
               f"--scale {args.scale:g}")
    if args.processes > 1:
        result = asyncio.run(run_processes(args.members, args.scale, args.processes,
                                           args.postgres, args.kill_at))
        command += f" --processes {args.processes}" + (
            f" --kill-at {args.kill_at:g}" if args.kill_at is not None else "")
    else:
        result = asyncio.run(run(args.members, args.scale))
    print(report(result, command))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
