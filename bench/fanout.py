"""Fan-out: one notification for each of 10,000 members, enqueued and delivered within limits.

    make bench-fanout        (.venv/bin/python -m bench.fanout --members 10000 --scale 10)

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
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select

from bench.standin import TOKEN, control, standin_process
from bootstrap import org_defaults
from bootstrap.config import Config, parse_config
from bot.app import build_application
from bot.stage import free_port
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.inbox.notifications import publish_many
from core.ports import SystemClock
from storage.database import Database
from storage.migrate import upgrade
from storage.tables import DepartmentRow, MemberRoleRow, MemberRow

FIRST_ID = 500_000
BOT_ID = 123456
RULES = ("plan_reminder", "log_reminder", "morning_digest", "approval_sla", "follow_up")
ENQUEUE_LIMIT = 2.0  # seconds
RATE_FLOOR = 95.0  # percent of the allowed rate


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

    @property
    def rate(self) -> float:
        return self.delivered / self.span_seconds if self.span_seconds else 0.0

    @property
    def percent(self) -> float:
        return 100 * self.rate / self.allowed_rate

    @property
    def passed(self) -> bool:
        return (self.enqueue_seconds < ENQUEUE_LIMIT and self.once_each
                and self.too_many_requests == 0 and self.percent >= RATE_FLOOR)


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


def report(result: Result, command: str) -> str:
    k = result.scale
    rows = [
        ("members (generated org)", f"{result.members:,}"),
        ("enqueue (publish_many, SQLite)", f"{result.enqueued:,} in {result.enqueue_seconds:.2f} s"
                                           f"  (must be < {ENQUEUE_LIMIT:.0f} s)"),
        ("delivered, each member once", f"{result.delivered:,}  "
                                        f"{'yes' if result.once_each else 'NO'}"),
        ("429s received (stand-in / bot)", f"{result.too_many_requests} / "
                                           f"{result.dispatcher_429s}  (must be 0)"),
        ("first send -> last accepted", f"{result.span_seconds:.2f} s"),
        ("achieved rate", f"{result.rate:.1f} msg/s = {result.percent:.1f}% of "
                          f"{result.allowed_rate:.0f} msg/s allowed"
                          f"  (must be >= {RATE_FLOOR:.0f}%)"),
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = asyncio.run(run(args.members, args.scale))
    command = (f".venv/bin/python -m bench.fanout --members {args.members} "
               f"--scale {args.scale:g}")
    print(report(result, command))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
