"""An opportunity's card and /pipeline over 100,000 opportunities and 2,000,000 linked records.

    make bench-opportunities     (.venv/bin/python -m bench.opportunities)

100,000 opportunities of 500 members in 20 departments at 2,000 customers, created during
2026 (a fifth won or lost since), and 2,000,000 records linked to them: stage changes,
notes, plan items (in the owners' daily plans), work-log entries, check-ins (by the owner at
the deal's customer while it was open, 40% of them linked to it explicitly, some with
photos) and expense claims. Most deals hold a few dozen records; ten "busy" deals hold
5,000 each. Timed, as the handlers call them (the services, without Telegram): the card's
first page as finance opens it (OpportunityService.card: the deal, its rights, the merged
timeline page, claim totals, the photo count) for busy and ordinary deals, and /pipeline for
the whole organisation this quarter (OpportunityService.stats); medians of several runs, on
SQLite and, when --postgres names one, on PostgreSQL (in a schema of its own, dropped
afterwards).

Loading takes minutes: `--keep PATH` keeps the SQLite database at PATH and the PostgreSQL
schema, and `--reuse PATH` times them again (after the newest migration, with any new index,
analysed again) without generating anything.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import BigInteger, func, or_, select, text, type_coerce

from bench.expenses import _sqlite_value
from bench.scratch import (
    DEFAULT_POSTGRES,
    database_options,
    run_outside_transaction,
    scratch_schema,
)
from core.config import PipelineConfig
from core.domain.opportunities.pipeline import (
    OpportunityScope,
    StageStays,
    StageSum,
    weighted_from_cent_percent,
)
from core.domain.org.model import OrgSettings
from core.domain.period import Period
from core.opportunities.pipeline import OpportunityService
from storage import pipeline_counts
from storage.database import Database
from storage.migrate import upgrade
from storage.opportunities import SqlOpportunityRepository
from storage.tables import OpportunityRow, OpportunityStageRow, PipelineCountRow
from storage.value_lists import one_of

SCHEMA = "bench_opportunities"
SETTINGS = OrgSettings("Bench Trading", "Asia/Shanghai", "CNY", "en")
TELEGRAM = 800_000  # member m has Telegram id TELEGRAM + m; member 1 is finance
DEPARTMENTS, MEMBERS, CUSTOMERS = 20, 500, 2000
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
DAYS = (NOW - YEAR_START).days
OPEN_STAGES = (("lead", 10), ("qualified", 25), ("proposal", 50), ("negotiation", 75))
BUSY = 10  # deals with BUSY_RECORDS linked records each
BUSY_RECORDS = 5000
# Linked records per kind, of 2,000,000 (photos come on top, on some check-ins).
SHARES = {"stage": 250_000, "note": 200_000, "plan": 450_000, "log": 350_000,
          "check_in": 500_000, "claim": 250_000}
PHOTO_EVERY = 5  # one check-in in five has a photo


class FixedClock:
    def now(self) -> datetime:
        return NOW


def _at(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(60, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randrange(span))


def _org(rng: random.Random, *, plans: bool = True) -> dict[str, list[tuple]]:
    """Every table's rows, the organisation filled in: departments, members, customers and,
    with `plans`, everyone's plan and log of every day."""
    rows: dict[str, list[tuple]] = {name: [] for name in STATEMENTS}
    rows["organization"].append((1, SETTINGS.name, SETTINGS.timezone, SETTINGS.currency, "en"))
    for d in range(1, DEPARTMENTS + 1):
        rows["departments"].append((d, f"d{d}", f"Region {d}", None if d == 1 else 1))
    for m in range(1, MEMBERS + 1):
        rows["members"].append((m, f"m{m}", f"Member {m}", (m - 1) % DEPARTMENTS + 1,
                                TELEGRAM + m, True, False))
        rows["member_roles"].append((m, "finance" if m == 1 else "rep"))
    for c in range(1, CUSTOMERS + 1):
        rows["customers"].append((c, f"c{c}", f"Customer {c}", "", 30.0 + c / 500,
                                  120.0 + c / 700, 200))
    for m in range(1, MEMBERS + 1 if plans else 1):
        for day in range(DAYS + 1):
            moment = YEAR_START + timedelta(days=day)
            rows["plans"].append((_plan_id(m, day), m, moment.date(), moment, moment))
            rows["work_logs"].append((_plan_id(m, day), m, moment.date(), moment, moment, False))
    return rows


def generate(count: int, linked: int, seed: int = 3) -> dict[str, list[tuple]]:
    """Every table's rows as tuples in the column order of STATEMENTS."""
    rng = random.Random(seed)
    rows = _org(rng)
    deals = []
    for o in range(1, count + 1):
        owner = rng.randint(2, MEMBERS)
        created = _at(rng, YEAR_START, NOW - timedelta(days=2))
        closed = None
        roll = rng.random()
        if roll < 0.12:
            stage, probability = "won", 100
        elif roll < 0.2:
            stage, probability = "lost", 0
        else:
            stage, probability = OPEN_STAGES[rng.randrange(len(OPEN_STAGES))]
        if stage in ("won", "lost"):
            closed = _at(rng, created, NOW)
        customer = rng.randint(1, CUSTOMERS)
        rows["opportunities"].append((
            o, owner, (owner - 1) % DEPARTMENTS + 1, customer, f"Deal {o}",
            rng.randrange(1_000_00, 5_000_000_00), "CNY", stage, probability,
            date(2026, 12, 31), 1, created, closed or created, closed, closed or created))
        rows["opportunity_stages"].append((o, None, "lead", owner, created))
        deals.append((o, owner, customer, created, closed or NOW))
    weights = list(SHARES.values())
    # Each deal's creation is a linked record already (its first stage change).
    kinds = rng.choices(list(SHARES), weights, k=linked - count - BUSY * BUSY_RECORDS)
    targets = [deals[rng.randrange(len(deals))] for _ in kinds]
    for busy in deals[:BUSY]:
        kinds += rng.choices(list(SHARES), weights, k=BUSY_RECORDS)
        targets += [busy] * BUSY_RECORDS
    check_in_id = 0
    for kind, (o, owner, customer, created, until) in zip(kinds, targets, strict=True):
        at = _at(rng, created, until)
        day = (at - YEAR_START).days
        if kind == "stage":
            rows["opportunity_stages"].append((o, "lead", "qualified", owner, at))
        elif kind == "note":
            rows["opportunity_notes"].append((o, owner, f"note on deal {o}", at))
        elif kind == "plan":
            rows["plan_items"].append((_plan_id(owner, day), 1, f"Visit customer {customer}",
                                       customer, o, f"{9 + rng.randrange(9):02d}:00", "done",
                                       False, at))
        elif kind == "log":
            rows["log_entries"].append((_plan_id(owner, day), f"Worked on deal {o}", customer,
                                        o, False, at))
        elif kind == "check_in":
            check_in_id += 1
            rows["check_ins"].append((check_in_id, owner, at, at, 30.0 + customer / 500,
                                      120.0 + customer / 700, 12.0, customer,
                                      o if rng.random() < 0.4 else None, 20.0, ""))
            if check_in_id % PHOTO_EVERY == 0:
                rows["visit_photos"].append((owner, check_in_id, f"{check_in_id:064x}",
                                             "0" * 16, False, 800, 600, 90_000, "", at))
        else:
            status = rng.choice(("approved", "approved", "pending", "rejected", "withdrawn"))
            department = (owner - 1) % DEPARTMENTS + 1
            rows["expense_claims"].append((
                f"EXP-2026-{len(rows['expense_claims']) + 1:07d}", owner, department,
                rng.randrange(100, 500_000), "CNY",
                rng.choice(("travel", "meals", "lodging")), at.date(), "department",
                department, "", o, status, 2, at, at, at,
                at if status in ("approved", "rejected") else None))
    rows["opportunity_stages"] = _with_entered_at(rows["opportunity_stages"])
    return rows


def generate_pipeline(count: int, seed: int = 5) -> dict[str, list[tuple]]:
    """The org and `count` opportunities with their stage histories, nothing else: /pipeline's
    data. Each deal went through the open stages in order up to the one it is at (a fifth
    then won or lost), at moments spread between its creation and now."""
    rng = random.Random(seed)
    rows = _org(rng, plans=False)
    stages = [stage for stage, _ in OPEN_STAGES]
    for o in range(1, count + 1):
        owner = rng.randint(2, MEMBERS)
        created = _at(rng, YEAR_START, NOW - timedelta(days=2))
        roll = rng.random()
        reached = rng.randrange(len(OPEN_STAGES))
        path = stages[:reached + 1]
        if roll < 0.2:
            path.append("won" if roll < 0.12 else "lost")
        moments = sorted(_at(rng, created, NOW) for _ in path[1:])
        closed = moments[-1] if roll < 0.2 else None
        stage = path[-1]
        probability = {"won": 100, "lost": 0, **dict(OPEN_STAGES)}[stage]
        rows["opportunities"].append((
            o, owner, (owner - 1) % DEPARTMENTS + 1, rng.randint(1, CUSTOMERS), f"Deal {o}",
            rng.randrange(1_000_00, 5_000_000_00), "CNY", stage, probability,
            date(2026, 12, 31), 1, created, moments[-1] if moments else created, closed,
            moments[-1] if moments else created))
        for from_stage, to_stage, at in zip([None, *path[:-1]], path, [created, *moments],
                                            strict=True):
            rows["opportunity_stages"].append((o, from_stage, to_stage, owner, at))
    rows["opportunity_stages"] = _with_entered_at(rows["opportunity_stages"])
    return rows


def _with_entered_at(moves: list[tuple]) -> list[tuple]:
    """Each move with when the stage it leaves was entered, as the repository writes it."""
    moves = sorted(moves, key=lambda m: (m[0], m[4]))
    return [(*m, moves[n - 1][4] if n and moves[n - 1][0] == m[0] else None)
            for n, m in enumerate(moves)]


def _plan_id(member: int, day: int) -> int:
    return (member - 1) * (DAYS + 1) + day + 1


STATEMENTS = {
    "organization": "organization (id, name, timezone, currency, default_language)",
    "departments": "departments (id, key, name, parent_id)",
    "members": "members (id, key, name, department_id, telegram_id, active, reminders_paused)",
    "member_roles": "member_roles (member_id, role)",
    "customers": "customers (id, key, name, address, lat, lon, radius_m)",
    "plans": "plans (id, member_id, day, created_at, updated_at)",
    "work_logs": "work_logs (id, member_id, day, created_at, updated_at, amended_late)",
    "opportunities": "opportunities (id, owner_id, department_id, customer_id, title, amount, "
                     "currency, stage, probability, expected_close, version, created_at, "
                     "updated_at, closed_at, last_activity_at)",
    "opportunity_stages": "opportunity_stages (opportunity_id, from_stage, to_stage, "
                          "changed_by, at, entered_at)",
    "opportunity_notes": "opportunity_notes (opportunity_id, author_id, text, at)",
    "plan_items": "plan_items (plan_id, position, text, customer_id, opportunity_id, at_time, "
                  "outcome, logged_late, created_at)",
    "log_entries": "log_entries (log_id, text, customer_id, opportunity_id, late, created_at)",
    "check_ins": "check_ins (id, member_id, at, sent_at, lat, lon, accuracy_m, customer_id, "
                 "opportunity_id, distance_m, flags)",
    "visit_photos": "visit_photos (member_id, check_in_id, sha256, dhash, as_document, width, "
                    "height, size, flags, created_at)",
    "expense_claims": "expense_claims (number, member_id, department_id, amount, currency, "
                      "category, spent_on, unit_kind, unit_id, description, opportunity_id, "
                      "status, version, created_at, updated_at, submitted_at, decided_at)",
}


# Member d works in department d and heads it (the first, finance's, has no head).
HEADS = "UPDATE departments SET manager_id = id WHERE id > 1"
MANAGER = TELEGRAM + 2  # heads department 2: a twentieth of the deals


def _columns(table: str) -> list[str]:
    return [c.strip() for c in STATEMENTS[table].partition("(")[2].rstrip(")").split(",")]


def fill_sqlite(path: Path, rows: dict[str, list[tuple]]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    for table, statement in STATEMENTS.items():
        marks = ", ".join("?" * len(_columns(table)))
        connection.executemany(f"INSERT INTO {statement} VALUES ({marks})",
                               (tuple(_sqlite_value(v) for v in row) for row in rows[table]))
    connection.execute(HEADS)
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


async def fill_postgres(database: Database, rows: dict[str, list[tuple]]) -> None:
    async with database.engine.begin() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        for table in STATEMENTS:
            await raw.copy_records_to_table(table, records=rows[table], columns=_columns(table),
                                            schema_name=SCHEMA)
        await raw.execute(HEADS)
    await run_outside_transaction(database, "VACUUM ANALYZE")


async def _sum(database: Database) -> float:
    """Sum the loaded open deals into the kept pipeline counts, as migration 0014 does; the
    seconds it took."""
    start = time.perf_counter()
    async with database.uow() as uow:
        await pipeline_counts.recount(uow.session)
        await uow.commit()
    return time.perf_counter() - start


async def median_ms(call, runs: int) -> float:
    """The median of `runs` awaited calls, in ms, after one that warms the caches."""
    await call()  # warm the caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def measure(database: Database, runs: int, ordinary: Iterable[int]) -> dict[str, float]:
    service = OpportunityService(database.uow, FixedClock(), SETTINGS, PipelineConfig())
    finance = TELEGRAM + 1
    figures = {"busy card": statistics.median([
        await median_ms(lambda o=o: service.card(finance, o), runs) for o in range(1, BUSY + 1)])}
    figures["card"] = statistics.median([
        await median_ms(lambda o=o: service.card(finance, o), runs) for o in ordinary])
    card = await service.card(finance, 1)
    assert len(card.timeline) == 10 and card.has_more, "a busy deal fills its first page"
    figures["card page 20"] = await median_ms(lambda: service.card(finance, 1, 20), runs)
    figures["pipeline"] = await median_ms(
        lambda: service.stats(finance, Period.parse("2026-Q4")), runs)
    return figures


# What /pipeline read before the kept counts: every open deal, from an index by owner and
# stage (migration 0014 dropped it; made again for the baseline and dropped after it).
OLD_INDEX = ("CREATE INDEX ix_opportunities_pipeline ON opportunities "
             "(owner_id, stage, closed_at, amount, probability)")


def _whose(scope: OpportunityScope) -> list:
    deal = OpportunityRow
    return [] if scope.everyone else [or_(deal.owner_id == scope.member_id, one_of(
        deal.department_id, scope.department_ids or ()))]


async def _open_counted(self, scope: OpportunityScope) -> list[tuple[int, StageSum]]:
    """The open deals summed afresh, as /pipeline did before the kept counts."""
    deal = OpportunityRow
    weighted = func.sum(type_coerce(deal.amount, BigInteger) * deal.probability)
    rows = await self.session.execute(
        select(deal.owner_id, deal.stage, func.count(), func.sum(deal.amount), weighted)
        .where(*_whose(scope), deal.closed_at.is_(None))
        .group_by(deal.owner_id, deal.stage))
    return [(owner_id, StageSum(stage, count, amount or Decimal("0.00"),
                                weighted_from_cent_percent(int(cent_percent or 0))))
            for owner_id, stage, count, amount, cent_percent in rows]


async def _closed_counted(self, scope: OpportunityScope, start: datetime,
                          end: datetime) -> list[StageSum]:
    """The deals closed in the period summed afresh."""
    deal = OpportunityRow
    weighted = func.sum(type_coerce(deal.amount, BigInteger) * deal.probability)
    rows = await self.session.execute(
        select(deal.stage, func.count(), func.sum(deal.amount), weighted)
        .where(*_whose(scope), deal.closed_at >= start, deal.closed_at < end)
        .group_by(deal.stage))
    return [StageSum(stage, count, amount or Decimal("0.00"),
                     weighted_from_cent_percent(int(cent_percent or 0)))
            for stage, count, amount, cent_percent in rows]


async def _stays_counted(self, scope: OpportunityScope, start: datetime,
                         end: datetime) -> list[StageStays]:
    """The stays that ended in the period summed afresh from every move of it."""
    stages = OpportunityStageRow
    if self.session.bind.dialect.name == "sqlite":
        seconds = (func.julianday(stages.at) - func.julianday(stages.entered_at)) * 86_400
    else:
        seconds = func.extract("epoch", stages.at - stages.entered_at)
    query = (select(stages.from_stage, func.count(), func.sum(seconds))
             .where(stages.at >= start, stages.at < end, stages.from_stage.is_not(None),
                    stages.entered_at.is_not(None))
             .group_by(stages.from_stage))
    if not scope.everyone:
        query = query.where(stages.opportunity_id.in_(
            select(OpportunityRow.id).where(*_whose(scope))))
    rows = await self.session.execute(query)
    return [StageStays(stage, count, float(total or 0)) for stage, count, total in rows]


BEFORE = {"open_sums": _open_counted, "closed_sums": _closed_counted,
          "stays_ending_between": _stays_counted}


async def _timed(call, runs: int) -> tuple[float, float]:
    """Medians of the wall time and of this process's CPU time (ms): on a busy machine the
    second says what the call itself costs here, besides what the database server does."""
    await call()  # warm the caches
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        await call()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


async def _execute(database: Database, *statements: str) -> None:
    async with database.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[18]


async def measure_pipeline(database: Database, runs: int, moves: int) -> dict[str, float]:
    """/pipeline for the whole organisation (finance) and a department's head, 2026-Q4, as
    it was (the baseline) and as it is; then `moves` stage moves by their owners, timing the
    upkeep of the kept counts within each."""
    service = OpportunityService(database.uow, FixedClock(), SETTINGS, PipelineConfig())
    period = Period.parse("2026-Q4")
    views = {"org": lambda: service.stats(TELEGRAM + 1, period),
             "manager": lambda: service.stats(MANAGER, period)}
    figures: dict[str, float] = {}
    await _execute(database, OLD_INDEX, "ANALYZE")
    kept_reads = {name: getattr(SqlOpportunityRepository, name) for name in BEFORE}
    for name, read in BEFORE.items():
        setattr(SqlOpportunityRepository, name, read)
    try:
        before = {who: await view() for who, view in views.items()}
        for who, view in views.items():
            figures[f"{who} before"], figures[f"{who} before cpu"] = await _timed(view, runs)
    finally:
        for name, read in kept_reads.items():
            setattr(SqlOpportunityRepository, name, read)
    await _execute(database, "DROP INDEX ix_opportunities_pipeline", "ANALYZE")
    for who, view in views.items():
        assert await view() == before[who], f"/pipeline of the {who} as before"
        figures[who], figures[f"{who} cpu"] = await _timed(view, runs)
        figures[f"{who} deals"] = sum(line.count for line in before[who].open_lines)
    async with database.uow(read_only=True) as uow:
        open_deals = (await uow.session.execute(
            select(OpportunityRow.id, OpportunityRow.owner_id, OpportunityRow.stage)
            .where(OpportunityRow.closed_at.is_(None),
                   OpportunityRow.stage != OPEN_STAGES[-1][0]))).all()
    # The upkeep of a move: its counts, its closed deals and the stay it ends.
    upkeep: list[float] = []
    kept = {name: getattr(pipeline_counts, name) for name in ("count", "count_stay")}

    def timing(keep):
        async def timed(*args) -> None:
            start = time.perf_counter()
            await keep(*args)
            upkeep[-1] += (time.perf_counter() - start) * 1000
        return timed

    whole_moves = []
    for name, keep in kept.items():
        setattr(pipeline_counts, name, timing(keep))
    try:
        order = [stage for stage, _ in OPEN_STAGES]
        for deal_id, owner, stage in random.Random(11).sample(open_deals, moves):
            upkeep.append(0.0)
            start = time.perf_counter()
            await service.move(TELEGRAM + owner, deal_id, order[order.index(stage) + 1],
                               from_stage=stage)
            whole_moves.append((time.perf_counter() - start) * 1000)
    finally:
        for name, keep in kept.items():
            setattr(pipeline_counts, name, keep)
    figures["upkeep p95"], figures["upkeep median"] = _p95(upkeep), statistics.median(upkeep)
    figures["move p95"] = _p95(whole_moves)
    async with database.uow(read_only=True) as uow:
        counted = (await uow.session.execute(select(
            func.sum(PipelineCountRow.deals), func.sum(PipelineCountRow.amount)))).one()
        afresh = (await uow.session.execute(select(
            func.count(), func.sum(type_coerce(OpportunityRow.amount, BigInteger)))
            .where(OpportunityRow.closed_at.is_(None)))).one()
    assert tuple(counted) == tuple(afresh), "the kept counts equal the open deals after moves"
    return figures


async def bench_sqlite(path: Path, rows, runs: int, ordinary: list[int]) -> dict:
    """Fill a new database at `path`, or, without rows, time the one already there (brought
    to the newest migration and analysed again, so new indexes are planned with)."""
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    start = time.perf_counter()
    if rows is None:
        connection = sqlite3.connect(path)
        connection.execute("ANALYZE")
        connection.close()
    else:
        fill_sqlite(path, rows)
    loaded = time.perf_counter() - start
    database = Database.connect(url)
    try:
        summed = await _sum(database) if rows is not None else 0.0
        return {"load": loaded, "sum": summed, **await measure(database, runs, ordinary)}
    finally:
        await database.dispose()


async def bench_pipeline(url: str | None, rows, runs: int, moves: int) -> dict:
    """/pipeline's data loaded into a fresh SQLite file (url None) or a PostgreSQL schema of
    its own, summed, then measure_pipeline."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="crmbot-bench-") as folder:
            path = Path(folder) / "pipeline.db"
            await upgrade(f"sqlite+aiosqlite:///{path}")
            start = time.perf_counter()
            fill_sqlite(path, rows)
            loaded = time.perf_counter() - start
            database = Database.connect(f"sqlite+aiosqlite:///{path}")
            try:
                summed = await _sum(database)
                return {"load": loaded, "sum": summed,
                        **await measure_pipeline(database, runs, moves)}
            finally:
                await database.dispose()
    async with scratch_schema(url, SCHEMA) as database:
        start = time.perf_counter()
        await fill_postgres(database, rows)
        loaded = time.perf_counter() - start
        summed = await _sum(database)
        return {"load": loaded, "sum": summed, **await measure_pipeline(database, runs, moves)}


async def bench_postgres(url: str, rows, runs: int, ordinary: list[int], *,
                         keep: bool = False) -> dict:
    """In a schema of its own, dropped afterwards unless kept. Without rows, the kept schema
    is timed again (with any index added to the tables since)."""
    async with scratch_schema(url, SCHEMA, fresh=rows is not None, keep=keep) as database:
        start = time.perf_counter()
        if rows is None:
            await run_outside_transaction(database, "ANALYZE")
        else:
            await fill_postgres(database, rows)
        loaded = time.perf_counter() - start
        summed = await _sum(database) if rows is not None else 0.0
        return {"load": loaded, "sum": summed, **await measure(database, runs, ordinary)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.opportunities", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--linked", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pipeline", action="store_true",
                        help="only /pipeline: the opportunities and their stage histories, "
                             "timed for the whole organisation and a department's head "
                             "against the query before the kept counts, and the counts' "
                             "upkeep in stage moves (--linked is not used)")
    parser.add_argument("--moves", type=int, default=300,
                        help="stage moves timed with --pipeline (default: %(default)s)")
    database_options(parser, SCHEMA, "--opportunities")
    asyncio.run(run(parser.parse_args()))


async def run_pipeline(args: argparse.Namespace) -> None:
    print(f"$ .venv/bin/python -m bench.opportunities --pipeline --opportunities "
          f"{args.opportunities} --runs {args.runs} --moves {args.moves}"
          + (f" --postgres {args.postgres}" if args.postgres != DEFAULT_POSTGRES else ""))
    start = time.perf_counter()
    rows = generate_pipeline(args.opportunities)
    open_deals = sum(1 for row in rows["opportunities"] if row[13] is None)
    print(f"generated {args.opportunities:,} opportunities ({open_deals:,} open) and "
          f"{len(rows['opportunity_stages']):,} stage changes in "
          f"{time.perf_counter() - start:.1f} s")
    results = {"SQLite": await bench_pipeline(None, rows, args.runs, args.moves)}
    if args.postgres:
        results["PostgreSQL"] = await bench_pipeline(args.postgres, rows, args.runs, args.moves)
    first = next(iter(results.values()))
    print(f"/pipeline 2026-Q4, median of {args.runs} runs: the whole organisation as finance "
          f"sees it ({first['org deals']:,} open deals) and the head of one department "
          f"({first['manager deals']:,}); before: the query without the kept counts. Upkeep: "
          f"the kept sums' statements in each of {args.moves} stage moves (move: the whole "
          f"move, its card included)")
    print("(ms; wall time, and in brackets the CPU time of this process)")
    print(f"{'backend':<11}{'load':>7}{'sum':>7}{'org before':>18}{'org':>15}"
          f"{'head before':>18}{'head':>15}{'upkeep p95':>11}{'median':>8}{'move p95':>9}")
    for backend, f in results.items():
        print(f"{backend:<11}{f['load']:>5.1f} s{f['sum']:>5.1f} s"
              + "".join(f"{f[k]:>9.1f} ({f[k + ' cpu']:>5.1f})"
                        f"{f[k.removesuffix(' before')]:>7.1f} "
                        f"({f[k.removesuffix(' before') + ' cpu']:>5.1f})"
                        for k in ("org before", "manager before"))
              + f"{f['upkeep p95']:>11.2f}{f['upkeep median']:>8.2f}{f['move p95']:>9.1f}")


async def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    if args.pipeline:
        await run_pipeline(args)
        return
    print(f"$ .venv/bin/python -m bench.opportunities --opportunities {args.opportunities} "
          f"--linked {args.linked} --runs {args.runs}"
          + (f" --postgres {args.postgres}" if args.postgres != DEFAULT_POSTGRES else "")
          + (f" --keep {args.keep}" if args.keep else "")
          + (f" --reuse {args.reuse}" if args.reuse else ""))
    ordinary = random.Random(9).sample(range(BUSY + 1, args.opportunities + 1), 20)
    rows = None
    if args.reuse is None:
        start = time.perf_counter()
        rows = generate(args.opportunities, args.linked)
        linked = sum(len(rows[t]) for t in ("opportunity_stages", "opportunity_notes",
                                            "plan_items", "log_entries", "check_ins",
                                            "expense_claims"))
        print(f"generated {args.opportunities:,} opportunities and {linked:,} linked records "
              f"(+{len(rows['visit_photos']):,} photos) in {time.perf_counter() - start:.1f} s")
    else:
        print(f"reusing {args.reuse} and the PostgreSQL schema {SCHEMA} (load: ANALYZE only)")
    results = {}
    kept = args.reuse or args.keep
    if kept is not None:
        if rows is not None:
            kept.unlink(missing_ok=True)
        results["SQLite"] = await bench_sqlite(kept, rows, args.runs, ordinary)
    else:
        with tempfile.TemporaryDirectory(prefix="crmbot-bench-") as folder:
            results["SQLite"] = await bench_sqlite(Path(folder) / "opportunities.db", rows,
                                                   args.runs, ordinary)
    if args.postgres:
        results["PostgreSQL"] = await bench_postgres(args.postgres, rows, args.runs, ordinary,
                                                     keep=kept is not None)
    print(f"median of {args.runs} runs (a card: its first page as finance opens it; busy: "
          f"{BUSY_RECORDS:,} records; /pipeline: the whole organisation, 2026-Q4):")
    print(f"{'backend':<12}{'load':>9}{'card':>12}{'busy card':>12}{'page 21':>12}"
          f"{'/pipeline':>12}")
    for backend, f in results.items():
        print(f"{backend:<12}{f['load']:>7.1f} s{f['card']:>9.1f} ms{f['busy card']:>9.1f} ms"
              f"{f['card page 20']:>9.1f} ms{f['pipeline']:>9.1f} ms")


if __name__ == "__main__":
    main()
