"""A realistic company: /stats for finance and for managers, and what keeping the totals costs.

    make bench-company     (.venv/bin/python -m bench.company)

The company (`generate`, importable by other benchmarks): 5,000 members in a 4-level
department tree — the company, 5 regions, 25 branches, 200 teams, each headed by a manager
(a region holds about 1,000 people, a team about 25) — and one finance person; 100,000
customers around 20 cities (a normal spread, sigma 8 km); 50,000 opportunities of the reps
at customers of their branch's city, moved through the pipeline over two years (some lost,
some won); 1,000,000 expense claims over the two years to November 2026, from reps who claim
a lot or little (a log-normal spread), more on working days and at month ends, in six
categories, charged to the department, a project or the person, 40% for one of the
claimant's own deals; a budget per department and month; and a year of check-ins at the
reps' customers, most with a photo (as rows: nothing reads the files).

Timed, as the handlers call them (the services, without Telegram): /stats as finance (the
whole organisation), as a region manager and as a team manager, for November 2026, 2026-Q4
and 2026 — medians of several runs — and the statements that keep the totals when a claim is
submitted and when it is decided (p95 of single claims, each in a transaction rolled back),
on SQLite and, when --postgres names one, on PostgreSQL (in a schema of its own, dropped
afterwards).

Loading takes minutes: `--keep PATH` keeps the SQLite database at PATH and the PostgreSQL
schema, and `--reuse PATH` times them again (after the newest migration, the totals summed
again) without generating anything.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import random
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from bench.expenses import (
    CLAIM_COLUMNS,
    Rows,
    claim_rows,
    copy_postgres,
    insert_sqlite,
    sum_claims,
)
from bench.opportunities import median_ms
from bench.scratch import (
    DEFAULT_POSTGRES,
    database_options,
    run_outside_transaction,
    scratch_schema,
)
from bot.handlers.stats import TOP, TOP_BUDGETS
from core.config import ExpensesConfig
from core.domain.expenses.claims import ClaimStatus
from core.domain.org.model import OrgSettings
from core.domain.period import Period
from core.expenses.stats import ExpenseStatsService
from storage import expense_totals
from storage.database import Database
from storage.migrate import upgrade
from storage.tables import ClaimRow, ExpenseTotalRow

SCHEMA = "bench_company"
SETTINGS = OrgSettings("Bench Trading", "Asia/Shanghai", "CNY", "en")
TELEGRAM = 700_000  # member m has Telegram id TELEGRAM + m
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
FIRST_DAY = date(2024, 12, 1)  # two years of claims, to November 2026
DAYS = (date(2026, 12, 1) - FIRST_DAY).days
REGIONS, BRANCHES, TEAMS = 5, 5, 8  # per company, per region, per branch
CITIES = (("Shanghai", 31.23, 121.47), ("Beijing", 39.90, 116.41), ("Guangzhou", 23.13, 113.26),
          ("Shenzhen", 22.54, 114.06), ("Chengdu", 30.57, 104.07), ("Hangzhou", 30.27, 120.16),
          ("Wuhan", 30.59, 114.31), ("Xi'an", 34.34, 108.94), ("Nanjing", 32.06, 118.80),
          ("Tianjin", 39.34, 117.36), ("Chongqing", 29.56, 106.55), ("Suzhou", 31.30, 120.59),
          ("Qingdao", 36.07, 120.38), ("Changsha", 28.23, 112.94), ("Dalian", 38.91, 121.60),
          ("Xiamen", 24.48, 118.09), ("Kunming", 25.04, 102.71), ("Shenyang", 41.81, 123.43),
          ("Zhengzhou", 34.75, 113.63), ("Harbin", 45.80, 126.53))
SPREAD_KM = 8.0
STAGES = ("lead", "qualified", "proposal", "negotiation", "won")
PROBABILITY = {"lead": 10, "qualified": 25, "proposal": 50, "negotiation": 75, "won": 100,
               "lost": 0}
PHOTO_SHARE = 0.7  # check-ins with a photo
PERIODS = ("2026-11", "2026-Q4", "2026")


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Company:
    """Every table's rows (`tables`: in load order) and who is who."""

    tables: list[Rows] = field(default_factory=list)
    finance: int = 0  # member ids
    region_manager: int = 0
    team_manager: int = 0
    heads: list[tuple[int, int]] = field(default_factory=list)  # (department, manager)

    def rows(self, table: str) -> list[tuple]:
        return next(rows for name, _, rows in self.tables if name == table)


@dataclass(frozen=True)
class Org:
    """The department tree and the people in it."""

    departments: list[tuple]  # (id, key, name, parent_id)
    members: list[tuple]  # (id, key, name, department_id, telegram_id, active, paused)
    roles: list[tuple]  # (member_id, role)
    heads: list[tuple[int, int]]  # (department, its manager)
    city_of: dict[int, int]  # department -> city index (teams and branches)
    reps: list[int]
    finance: int


def org(regions: int = REGIONS, branches: int = BRANCHES, teams: int = TEAMS,
        members: int = 5000) -> Org:
    """The company, its regions, their branches and teams; manager n heads department n; the
    finance person sits in the company; the rest are reps, spread over the teams."""
    departments = [(1, "hq", "Bench Trading", None)]
    city_of: dict[int, int] = {}
    team_ids = []
    for r in range(regions):
        region = len(departments) + 1
        departments.append((region, f"r{r + 1}", f"Region {r + 1}", 1))
        for b in range(branches):
            branch = len(departments) + 1
            city = (r * branches + b) % len(CITIES)
            departments.append((branch, f"r{r + 1}b{b + 1}",
                                f"{CITIES[city][0]} branch {b + 1}", region))
            city_of[branch] = city
            for t in range(teams):
                team = len(departments) + 1
                departments.append((team, f"r{r + 1}b{b + 1}t{t + 1}",
                                    f"{CITIES[city][0]} team {t + 1}", branch))
                city_of[team] = city
                team_ids.append(team)
    people, roles, heads = [], [], []
    for department_id, *_ in departments:
        people.append((department_id, f"m{department_id}", f"Manager {department_id}",
                       department_id))
        roles.append((department_id, "manager"))
        heads.append((department_id, department_id))
    finance = len(people) + 1
    people.append((finance, f"m{finance}", "Finance", 1))
    roles.append((finance, "finance"))
    reps = list(range(finance + 1, members + 1))
    for n, rep in enumerate(reps):
        team = team_ids[n % len(team_ids)]
        people.append((rep, f"m{rep}", f"Rep {rep}", team))
        roles.append((rep, "rep"))
    return Org(departments, [(*p, TELEGRAM + p[0], True, False) for p in people], roles, heads,
               city_of, reps, finance)


def customers(count: int, rng: random.Random) -> list[tuple]:
    """Customers in turn around each city, at a normal distance from its centre."""
    rows = []
    for c in range(1, count + 1):
        _, lat, lon = CITIES[c % len(CITIES)]
        north, east = rng.gauss(0, SPREAD_KM), rng.gauss(0, SPREAD_KM)
        rows.append((c, f"c{c}", f"Customer {c}", "", lat + north / 111.0,
                     lon + east / (111.0 * math.cos(math.radians(lat))), 150))
    return rows


def customer_in(city: int, count: int, rng: random.Random) -> int:
    """A customer of the city (customers go round the cities in turn)."""
    return rng.randrange(count // len(CITIES)) * len(CITIES) + city or len(CITIES)


def opportunities(count: int, company: Org, customer_count: int, weight: dict[int, float],
                  rng: random.Random) -> tuple[list[tuple], list[tuple]]:
    """Deals of the reps (the busier claimants own more) at their city's customers, created
    over the two years and moved forward at random, one in six lost on the way; and their
    stage histories (with when each left stage was entered)."""
    department_of = {m[0]: m[3] for m in company.members}
    owners = rng.choices(company.reps, [weight[r] for r in company.reps], k=count)
    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    span = int((NOW - start).total_seconds())
    deals, moves = [], []
    for o, owner in enumerate(owners, 1):
        department = department_of[owner]
        customer = customer_in(company.city_of[department], customer_count, rng)
        created = start + timedelta(seconds=rng.randrange(span - 86400))
        at, previous, entered, first_move = created, None, None, len(moves)
        path = list(STAGES[:rng.randint(1, len(STAGES))])
        if path[-1] != "won" and rng.random() < 0.35:
            path.append("lost")
        for stage in path:
            if at >= NOW:
                break
            moves.append((o, previous, stage, owner, at, entered))
            previous, entered = stage, at
            at += timedelta(minutes=rng.randrange(60 * 24 * 60))
        closed = entered if previous in ("won", "lost") else None
        deals.append((o, owner, department, customer, f"Deal {o}",
                      rng.randrange(10_000_00, 3_000_000_00), "CNY", previous,
                      PROBABILITY[previous], (created + timedelta(days=120)).date(),
                      len(moves) - first_move, created, entered, closed, entered))
    return deals, moves


def claim_days() -> list[float]:
    """Cumulative weights of the days: working days over weekends, month ends most."""
    weights = []
    for n in range(DAYS):
        day = FIRST_DAY + timedelta(days=n)
        month_end = (day + timedelta(days=3)).month != day.month
        weights.append((0.3 if day.weekday() >= 5 else 1.0) * (3.0 if month_end else 1.0))
    return list(itertools.accumulate(weights))


def check_ins(count: int, company: Org, customer_rows: list[tuple], weight: dict[int, float],
              rng: random.Random) -> tuple[list[tuple], list[tuple]]:
    """A year of visits at customers of the rep's city, in working hours (UTC+8), a few
    tens of metres from the site; most with a photo."""
    department_of = {m[0]: m[3] for m in company.members}
    visitors = rng.choices(company.reps, [math.sqrt(weight[r]) for r in company.reps], k=count)
    first = NOW - timedelta(days=365)
    visits, photos = [], []
    for n, member in enumerate(visitors, 1):
        customer = customer_in(company.city_of[department_of[member]], len(customer_rows), rng)
        _, _, _, _, lat, lon, _ = customer_rows[customer - 1]
        day = first + timedelta(days=rng.randrange(365))
        at = day.replace(hour=0, minute=30) + timedelta(minutes=rng.randrange(60 * 10))
        north, east = rng.gauss(0, 30), rng.gauss(0, 30)
        visits.append((n, member, at, at - timedelta(seconds=rng.randrange(1, 20)),
                       lat + north / 111_000, lon + east / 95_000, float(rng.randint(5, 40)),
                       customer, None, math.hypot(north, east), "", None))
        if rng.random() < PHOTO_SHARE:
            photos.append((member, n, f"{n:064x}", f"{rng.getrandbits(64):016x}", False, 1280,
                           960, rng.randrange(80_000, 400_000), "", at))
    return visits, photos


def generate(members: int = 5000, customer_count: int = 100_000, deals: int = 50_000,
             claims: int = 1_000_000, visits: int = 500_000, seed: int = 13) -> Company:
    """The whole company's rows, the same for every backend."""
    rng = random.Random(seed)
    company = org(members=members)
    department_of = {m[0]: m[3] for m in company.members}
    # How much each rep claims and travels: a few a lot, most a little; managers less.
    weight = {m[0]: rng.lognormvariate(0, 0.9) for m in company.members}
    for _, manager in company.heads:
        weight[manager] *= 0.3
    customer_rows = customers(customer_count, rng)
    deal_rows, moves = opportunities(deals, company, customer_count, weight, rng)
    owned: dict[int, list[int]] = {}
    for deal in deal_rows:
        owned.setdefault(deal[1], []).append(deal[0])
    claimants = [m[0] for m in company.members if m[0] != company.finance]
    member_weights = list(itertools.accumulate(weight[m] for m in claimants))
    day_weights = claim_days()
    days = range(DAYS)
    claim_list = claim_rows(
        claims, members, len(company.departments), 50, FIRST_DAY, DAYS, owned, seed + 1,
        claimant=lambda r: r.choices(claimants, cum_weights=member_weights)[0],
        department_of=department_of.__getitem__,
        day=lambda r: r.choices(days, cum_weights=day_weights)[0])
    visit_rows, photo_rows = check_ins(visits, company, customer_rows, weight, rng)
    branches = [d[0] for d in company.departments if "b" in d[1] and "t" not in d[1]]
    projects = [(p, f"p{p}", f"Project {p}", branches[(p - 1) % len(branches)], True)
                for p in range(1, 51)]
    months = [f"{FIRST_DAY.year + (FIRST_DAY.month - 1 + n) // 12}-"
              f"{(FIRST_DAY.month - 1 + n) % 12 + 1:02d}" for n in range(24)]
    budgets = [("department", "", "warn", d[0], month, 500_000_00 if d[3] is None else
                50_000_00 * len(months)) for d in company.departments for month in months]
    region = next(d[0] for d in company.departments if d[3] == 1)
    team = max(d[0] for d in company.departments)
    return Company(
        tables=[
            ("organization", ("id", "name", "timezone", "currency", "default_language"),
             [(1, SETTINGS.name, SETTINGS.timezone, SETTINGS.currency, "en")]),
            ("departments", ("id", "key", "name", "parent_id"), company.departments),
            ("members", ("id", "key", "name", "department_id", "telegram_id", "active",
                         "reminders_paused"), company.members),
            ("member_roles", ("member_id", "role"), company.roles),
            ("projects", ("id", "key", "name", "department_id", "active"), projects),
            ("budgets", ("unit_kind", "category", "policy", "unit_id", "period", "amount"),
             budgets),
            ("customers", ("id", "key", "name", "address", "lat", "lon", "radius_m"),
             customer_rows),
            ("opportunities", ("id", "owner_id", "department_id", "customer_id", "title",
                               "amount", "currency", "stage", "probability", "expected_close",
                               "version", "created_at", "updated_at", "closed_at",
                               "last_activity_at"), deal_rows),
            ("opportunity_stages", ("opportunity_id", "from_stage", "to_stage", "changed_by",
                                    "at", "entered_at"), moves),
            ("expense_claims", CLAIM_COLUMNS, claim_list),
            ("check_ins", ("id", "member_id", "at", "sent_at", "lat", "lon", "accuracy_m",
                           "customer_id", "opportunity_id", "distance_m", "flags",
                           "checked_out_at"), visit_rows),
            ("visit_photos", ("member_id", "check_in_id", "sha256", "dhash", "as_document",
                              "width", "height", "size", "flags", "created_at"), photo_rows),
        ],
        finance=company.finance, region_manager=region, team_manager=team,
        heads=company.heads)


def _heads_sql(postgres: bool) -> str:
    marks = ("$1", "$2") if postgres else ("?", "?")
    return f"UPDATE departments SET manager_id = {marks[1]} WHERE id = {marks[0]}"


def fill_sqlite(path: Path, company: Company) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    insert_sqlite(connection, company.tables)
    connection.executemany(_heads_sql(False), company.heads)
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


async def fill_postgres(database: Database, company: Company) -> None:
    async with database.engine.begin() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        await copy_postgres(raw, SCHEMA, company.tables)
        await raw.executemany(_heads_sql(True), company.heads)
        # The ids given explicitly: the sequences go on after them.
        for table in ("departments", "members", "customers", "opportunities", "check_ins",
                      "expense_claims", "projects"):
            await raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))")
    await run_outside_transaction(database, "VACUUM ANALYZE")


ACTORS = (("finance", "finance"), ("region manager", "region_manager"),
          ("team manager", "team_manager"))


async def time_stats(database: Database, who: dict[str, int],
                     runs: int) -> dict[tuple[str, str], tuple[float, int]]:
    """Median milliseconds of /stats per actor and period, and the claims it summed (the
    service call the handler makes, its largest lines only)."""
    service = ExpenseStatsService(database.uow, FixedClock(), SETTINGS, ExpensesConfig())
    figures = {}
    for actor, _ in ACTORS:
        for label in PERIODS:
            period = Period.parse(label)
            view = await service.stats(TELEGRAM + who[actor], period, top=TOP,
                                        top_budgets=TOP_BUDGETS)
            figures[(actor, label)] = (await median_ms(
                lambda a=actor, p=period: service.stats(TELEGRAM + who[a], p, top=TOP,
                                                        top_budgets=TOP_BUDGETS), runs),
                view.total.count)
    return figures


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


async def time_upkeep(database: Database, samples: int) -> dict[str, float]:
    """p95 milliseconds of the totals' statements for one claim's submission and for its
    decision (pending to approved), each in a transaction rolled back afterwards."""
    async with database.uow(read_only=True) as uow:
        ids = list(await uow.session.scalars(
            select(ClaimRow.id).where(ClaimRow.status == ClaimStatus.PENDING.value)
            .order_by(ClaimRow.id)))
    chosen = random.Random(3).sample(ids, min(samples, len(ids)))
    submitted, decided = [], []
    for claim_id in [chosen[0], *chosen]:  # the first warms the caches
        async with database.uow() as uow:  # rolled back: nothing is committed
            start = time.perf_counter()
            await expense_totals.count_submitted(uow.session, claim_id)
            submitted.append((time.perf_counter() - start) * 1000)
        async with database.uow() as uow:
            await uow.session.execute(update(ClaimRow).where(ClaimRow.id == claim_id)
                                      .values(status=ClaimStatus.APPROVED.value))
            start = time.perf_counter()
            await expense_totals.count_transition(uow.session, claim_id, ClaimStatus.PENDING)
            decided.append((time.perf_counter() - start) * 1000)
    return {"submission": _p95(submitted[1:]), "decision": _p95(decided[1:])}


async def bench_sqlite(path: Path, company: Company | None, who, runs: int,
                       samples: int) -> dict:
    """Fill a new database at `path`, or, without rows, time the one already there."""
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    start = time.perf_counter()
    if company is not None:
        fill_sqlite(path, company)
    loaded = time.perf_counter() - start
    database = Database.connect(url)
    try:
        summed = await sum_claims(database)
        connection = sqlite3.connect(path)
        connection.execute("ANALYZE")
        connection.close()
        return {"load": loaded, "sum": summed, "stats": await time_stats(database, who, runs),
                "upkeep": await time_upkeep(database, samples)}
    finally:
        await database.dispose()


async def bench_postgres(url: str, company: Company | None, who, runs: int, samples: int, *,
                         keep: bool = False) -> dict:
    async with scratch_schema(url, SCHEMA, fresh=company is not None, keep=keep) as database:
        start = time.perf_counter()
        if company is not None:
            await fill_postgres(database, company)
        else:
            # The kept totals are summed again below, in the table as it is now.
            async with database.engine.begin() as connection:
                await connection.run_sync(ExpenseTotalRow.__table__.drop)
                await connection.run_sync(ExpenseTotalRow.__table__.create)
        loaded = time.perf_counter() - start
        summed = await sum_claims(database)
        # Index-only scans need the visibility map that VACUUM writes.
        await run_outside_transaction(database, "VACUUM ANALYZE")
        return {"load": loaded, "sum": summed,
                "stats": await time_stats(database, who, runs),
                "upkeep": await time_upkeep(database, samples)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.company", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--opportunities", type=int, default=50_000)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--check-ins", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--samples", type=int, default=200,
                        help="claims submitted and decided for the upkeep's p95")
    database_options(parser, SCHEMA, "sizes")
    args = parser.parse_args()
    company = org(members=args.members)
    if not company.reps:
        parser.error(f"--members must be more than {company.finance}: the "
                     f"{len(company.heads)} departments' heads and the finance person, and "
                     "at least one rep")
    asyncio.run(run(args))


def _who(members: int) -> dict[str, int]:
    """Member ids of the actors: org() numbers them the same at every size."""
    company = org(members=members)
    return {"finance": company.finance,
            "region manager": next(d[0] for d in company.departments if d[3] == 1),
            "team manager": max(d[0] for d in company.departments)}


async def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"$ .venv/bin/python -m bench.company --members {args.members} "
          f"--customers {args.customers} --opportunities {args.opportunities} "
          f"--claims {args.claims} --check-ins {args.check_ins} --runs {args.runs} "
          f"--samples {args.samples}"
          + (f" --postgres {args.postgres}" if args.postgres != DEFAULT_POSTGRES else "")
          + (f" --keep {args.keep}" if args.keep else "")
          + (f" --reuse {args.reuse}" if args.reuse else ""))
    company = None
    if args.reuse is None:
        start = time.perf_counter()
        company = generate(args.members, args.customers, args.opportunities, args.claims,
                           args.check_ins)
        sizes = ", ".join(f"{len(rows):,} {table}" for table, _, rows in company.tables)
        print(f"generated in {time.perf_counter() - start:.1f} s: {sizes}")
    else:
        print(f"reusing {args.reuse} and the PostgreSQL schema {SCHEMA}")
    who = _who(args.members)
    results = {}
    kept = args.reuse or args.keep
    if kept is not None:
        if company is not None:
            kept.unlink(missing_ok=True)
        results["SQLite"] = await bench_sqlite(kept, company, who, args.runs, args.samples)
    else:
        with tempfile.TemporaryDirectory(prefix="crmbot-bench-") as folder:
            results["SQLite"] = await bench_sqlite(Path(folder) / "company.db", company, who,
                                                   args.runs, args.samples)
    if args.postgres:
        results["PostgreSQL"] = await bench_postgres(args.postgres, company, who, args.runs,
                                                     args.samples, keep=kept is not None)
    print(f"/stats (approved + pending), median of {args.runs} runs, in ms; load and the "
          "totals' sum in s:")
    print(f"{'backend':<12}{'actor':<16}{'load':>7}{'sum':>7}"
          + "".join(f"{p:>10}" for p in PERIODS))
    for backend, f in results.items():
        for actor, _ in ACTORS:
            cells = "".join(f"{f['stats'][(actor, p)][0]:>10.0f}" for p in PERIODS)
            print(f"{backend:<12}{actor:<16}{f['load']:>7.1f}{f['sum']:>7.1f}{cells}")
    counts = next(iter(results.values()))["stats"]
    for actor, _ in ACTORS:
        print(f"claims summed for the {actor}: " + ", ".join(
            f"{p} {counts[(actor, p)][1]:,}" for p in PERIODS))
    print(f"keeping the totals, p95 of {args.samples} claims, in ms:")
    for backend, f in results.items():
        print(f"{backend:<12}submission {f['upkeep']['submission']:.2f}   "
              f"decision {f['upkeep']['decision']:.2f}")


if __name__ == "__main__":
    main()
