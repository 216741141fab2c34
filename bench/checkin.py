"""The check-in flow against a bare echo bot, and customer matching at scale.

    make bench-checkin     (.venv/bin/python -m bench.checkin)

(1) 500 reps each share locations at customers' sites; crmbot (location → validation →
customer match → DB write → reply, on SQLite with 1,000 customers) and a bare
python-telegram-bot echo bot (default: sequential) answer them through the same in-process
stand-in, with no added delay and with 50 ms added to every Bot API answer. Telegram's
flood limits are off in the stand-in and crmbot's pacer is opened to its maximum, since
the echo bot has none; the check is that every rep's replies came back in order.
(2) Matching a point against 100,000 customers the way a check-in does: the bounding box
in the in-memory site index, then haversine in Python; the median over many points, and
the time to load the index.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select
from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bootstrap.config import Config, parse_config
from bot.stage import Stage
from core.domain.schedule.checkins import offers
from core.schedule.checkins import candidates
from core.schedule.sites import CustomerSitesCache
from standin import BotApiStandIn
from storage.database import Database
from storage.migrate import upgrade
from storage.tables import CustomerRow, DepartmentRow, MemberRoleRow, MemberRow

FIRST_ID = 700_000
RULES = ("plan_reminder", "log_reminder", "morning_digest", "approval_sla", "follow_up")
# Shanghai and around: about 130 km by 115 km.
AREA = (30.70, 31.90, 120.90, 122.10)


def bench_config(url: str, concurrency: int) -> Config:
    return parse_config({
        "database": {"url": url},
        "org": {"name": "Check-in Trading", "timezone": "Asia/Shanghai"},
        "telegram": {"concurrent_updates": concurrency},
        "outbox": {"messages_per_second": 1000, "private_per_second": 100,
                   "group_per_minute": 1000},
        "storage": {"photos_dir": str(Path(url.split("///")[-1]).parent / "photos")},
        "reminders": {rule: {"enabled": False} for rule in RULES},
    }, env={})


def customer_rows(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    return [{"key": f"c{i}", "name": f"Customer {i}", "address": "",
             "lat": rng.uniform(AREA[0], AREA[1]), "lon": rng.uniform(AREA[2], AREA[3]),
             "radius_m": 200} for i in range(count)]


async def seed(database: Database, reps: int, customers: int) -> list[dict]:
    """Reps who started the bot and customers, by bulk SQL (it is set-up, not measured)."""
    rows = customer_rows(customers)
    async with database.uow() as uow:
        session = uow.session
        department = (await session.execute(insert(DepartmentRow).values(
            key="field", name="Field sales").returning(DepartmentRow.id))).scalar_one()
        if reps:
            await session.execute(insert(MemberRow), [
                {"key": f"rep{i}", "name": f"Rep {i}", "department_id": department,
                 "account_id": FIRST_ID + i, "language": "en", "active": True}
                for i in range(reps)])
            ids = list(await session.scalars(select(MemberRow.id)))
            await session.execute(insert(MemberRoleRow), [{"member_id": i, "role": "rep"}
                                                          for i in ids])
        for start in range(0, len(rows), 5000):
            await session.execute(insert(CustomerRow), rows[start:start + 5000])
        await uow.commit()
    return rows


def plan(reps: int, per_rep: int, customers: list[dict]) -> list[list[dict]]:
    """For each rep, the customers whose sites they check in at, in order."""
    return [[customers[(i * 7 + n * 131) % len(customers)] for n in range(per_rep)]
            for i in range(reps)]


async def run_flow(standin: BotApiStandIn, visits: list[list[dict]], delay: float,
                   expect_reply) -> tuple[float, bool]:
    """Updates per second, and whether each rep's replies came back in order."""
    users = [standin.user(FIRST_ID + i, f"Rep {i}") for i in range(len(visits))]
    before = standin.received_messages()
    total = sum(len(v) for v in visits)
    standin.delay = delay
    started = time.perf_counter()
    for n in range(max(len(v) for v in visits)):
        for user, stops in zip(users, visits, strict=True):
            if n < len(stops):
                await user.share_location(stops[n]["lat"], stops[n]["lon"],
                                          horizontal_accuracy=8.0)
    await standin.wait_for(lambda _: standin.received_messages() - before >= total,
                           timeout=600)
    elapsed = time.perf_counter() - started
    standin.delay = 0.0
    in_order = all(
        [m.text.split("\n")[0][:len(expect_reply(s))] for m, s in
         zip(standin.bot_messages(u.id)[-len(stops):], stops, strict=False)]
        == [expect_reply(s) for s in stops]
        and len(standin.bot_messages(u.id)) >= len(stops)
        for u, stops in zip(users, visits, strict=True))
    return total / elapsed, in_order


async def echo(update: Update, context) -> None:
    """One Bot API call per location, like the smallest useful handler."""
    location = update.effective_message.location
    await update.effective_message.reply_text(f"{location.latitude:.6f},{location.longitude:.6f}")


async def echo_bot(visits: list[list[dict]], delay: float) -> tuple[float, bool]:
    async with BotApiStandIn() as standin:
        application = (Application.builder().token(standin.token).base_url(standin.base_url)
                       .base_file_url(standin.base_file_url).build())
        application.add_handler(MessageHandler(filters.LOCATION, echo))
        async with application:
            await application.start()
            await application.updater.start_polling(poll_interval=0.0, timeout=5)
            result = await run_flow(standin, visits, delay,
                                    lambda s: f"{s['lat']:.6f},{s['lon']:.6f}")
            await application.updater.stop()
            await application.stop()
    return result


async def crmbot(visits: list[list[dict]], delay: float, customers: int,
                 concurrency: int) -> tuple[float, bool]:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/crm.db"
        await upgrade(url)
        database = Database.connect(url)
        await seed(database, len(visits), customers)
        async with BotApiStandIn() as standin, \
                Stage(bench_config(url, concurrency), database, standin=standin):
            result = await run_flow(
                standin, visits, delay,
                lambda s: f"📍 Checked in at {s['name']} (0 m from the site)")
        await database.dispose()
    return result



async def matching(customers: int, points: int) -> tuple[float, float, int, float]:
    """Median and 95th percentile milliseconds to match a point, the sites its box held, and
    the milliseconds to load all sites into memory (once, and after customers change)."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/crm.db"
        await upgrade(url)
        database = Database.connect(url)
        await seed(database, 0, customers)
        sites = CustomerSitesCache(database.uow, database.changes)
        started = time.perf_counter()
        index = await sites.index()
        load_ms = (time.perf_counter() - started) * 1000
        rng = random.Random(11)
        timings, fetched = [], 0
        for _ in range(points):
            lat, lon = rng.uniform(*AREA[:2]), rng.uniform(*AREA[2:])
            started = time.perf_counter()
            around = candidates(await sites.index(), lat, lon)
            offers(lat, lon, around)
            timings.append((time.perf_counter() - started) * 1000)
            fetched += len(around)
        assert index.size == customers
        await database.dispose()
    timings.sort()
    return (statistics.median(timings), timings[int(len(timings) * 0.95)], fetched // points,
            load_ms)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.checkin", description=__doc__)
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--per-rep", type=int, default=2)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--match-customers", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=500)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    visits = plan(args.reps, args.per_rep, customer_rows(args.customers))
    rows = []
    for delay in (0.0, args.delay):
        echo_rate, echo_order = await echo_bot(visits, delay)
        crm_rate, crm_order = await crmbot(visits, delay, args.customers, args.concurrency)
        rows.append((delay, echo_rate, echo_order, crm_rate, crm_order))
    median, p95, fetched, load_ms = await matching(args.match_customers, args.points)

    print(f"$ .venv/bin/python -m bench.checkin --reps {args.reps} --per-rep {args.per_rep} "
          f"--customers {args.customers} --delay {args.delay} --concurrency {args.concurrency} "
          f"--match-customers {args.match_customers} --points {args.points}")
    print(f"{args.reps} reps x {args.per_rep} check-ins, {args.customers} customers (SQLite)")
    print(f"{'Bot API delay':<15}{'echo upd/s':>11}{'crmbot upd/s':>14}{'ratio':>8}  "
          f"in order (echo/crmbot)  target")
    targets = {0.0: ("≥ 0.5x", 0.5), args.delay: ("≥ 15x", 15.0)}
    verdicts = []
    for delay, echo_rate, echo_order, crm_rate, crm_order in rows:
        label, needed = targets[delay]
        ratio = crm_rate / echo_rate
        verdicts.append(ratio >= needed and crm_order)
        print(f"{f'{delay * 1000:.0f} ms':<15}{echo_rate:>11.1f}{crm_rate:>14.1f}"
              f"{ratio:>7.2f}x  {echo_order!s:>5}/{crm_order!s:<17} {label} "
              f"{'met' if verdicts[-1] else 'MISSED'}")
    print(f"match a point against {args.match_customers:,} customers: median {median:.2f} ms, "
          f"p95 {p95:.2f} ms ({fetched} sites in the box on average) — target < 20 ms "
          f"{'met' if median < 20 else 'MISSED'}")
    print(f"load the {args.match_customers:,} sites into memory (at start, and after customers "
          f"change): {load_ms:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
