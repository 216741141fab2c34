"""Expense statistics over a million claims, and the XLSX export of a hundred thousand.

    make bench-expenses     (.venv/bin/python -m bench.expenses)

(1) 1,000,000 claims from 200 members in 20 departments, 6 categories, over the 12 months
of 2026 (amounts with cents, mostly approved, some pending, rejected, withdrawn, drafts;
charged to departments, projects or the person; 40% for one of the claimant's own
opportunities, 2,000 in all, each moving through 1 to 5 stages during the year), plus a
budget per department and month. The claims are loaded in bulk, then summed into the kept
totals once, as the migration that introduced them does (the "sum" column; from then on
every submission, decision and stage move keeps them). Then /stats for the whole
organisation — the service call the handler makes (ExpenseStatsService.stats as finance
sees it, without Telegram) — for this month, this quarter and this year: the median of
several runs, on SQLite and, when --postgres names one, on PostgreSQL (in a schema of its
own, dropped afterwards).
(2) The XLSX export of 100,000 claims (one month) in a fresh process: wall time and peak
memory (the process's maximum resident set, and its growth over the process at rest).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.scratch import DEFAULT_POSTGRES, run_outside_transaction, scratch_schema
from core.config import ExpensesConfig
from core.domain.expenses.stats import StatusFilter
from core.domain.org.model import OrgSettings
from core.domain.period import Period
from core.expenses.export import ExportFormat
from core.expenses.stats import ExpenseStatsService
from storage.database import Database
from storage.expense_totals import rebuild
from storage.migrate import upgrade
from storage.tables import ClaimRow

SCHEMA = "bench_expenses"
SETTINGS = OrgSettings("Bench Trading", "Asia/Shanghai", "CNY", "en")
FINANCE_TELEGRAM_ID = 900_000
CATEGORIES = (("travel", 35), ("meals", 25), ("lodging", 15), ("entertainment", 10),
              ("office", 10), ("other", 5))
STATUSES = (("approved", 72), ("pending", 13), ("rejected", 8), ("withdrawn", 3), ("draft", 4))
CLAIM_COLUMNS = [c.name for c in ClaimRow.__table__.columns if c.name != "id"]
OPPORTUNITIES = 2000
CUSTOMERS = 400
STAGES = ("lead", "qualified", "proposal", "negotiation", "won")


class FixedClock:
    """26 November 2026, like the tests: "this month" is a full month of data."""

    def now(self) -> datetime:
        return datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def org_rows(departments: int, members: int, projects: int) -> dict[str, list[tuple]]:
    """Departments (a head office above regions), members with one finance person, projects."""
    rows: dict[str, list[tuple]] = {"departments": [], "members": [], "member_roles": [],
                                    "projects": [], "organization": [], "customers": []}
    rows["organization"].append((1, SETTINGS.name, SETTINGS.timezone, SETTINGS.currency, "en"))
    for d in range(1, departments + 1):
        rows["departments"].append((d, f"d{d}", f"Region {d}", None if d == 1 else 1))
    for m in range(1, members + 1):
        department = (m - 1) % departments + 1
        rows["members"].append((m, f"m{m}", f"Member {m}", department, FINANCE_TELEGRAM_ID + m))
        rows["member_roles"].append((m, "finance" if m == 1 else "rep"))
    for p in range(1, projects + 1):
        rows["projects"].append((p, f"p{p}", f"Project {p}", (p - 1) % departments + 1))
    for c in range(1, CUSTOMERS + 1):
        rows["customers"].append((c, f"c{c}", f"Customer {c}", 31.0 + c / 1000, 121.0, 300))
    return rows


def opportunity_rows(count: int, members: int, departments: int,
                     seed: int = 7) -> tuple[list[tuple], list[tuple]]:
    """Opportunities created during 2026, each moved forward 0 to 4 times at random hours
    (so moves fall on both sides of local midnights), and their stage history."""
    rng = random.Random(seed)
    opportunities, moves = [], []
    for o in range(1, count + 1):
        owner = rng.randint(1, members)
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(60 * 24 * 200))
        created, previous = at, None
        for stage in STAGES[:rng.randint(1, len(STAGES))]:
            moves.append((o, previous, stage, owner, at))
            previous = stage
            at += timedelta(minutes=rng.randrange(60 * 24 * 40))
        opportunities.append((o, owner, (owner - 1) % departments + 1,
                              rng.randint(1, CUSTOMERS), f"Deal {o}", 1_000_000, "CNY",
                              previous, 50, date(2026, 12, 31), len(moves), created, created,
                              created))
    return opportunities, moves


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...], count: int) -> list[str]:
    names, weights = zip(*table, strict=True)
    return rng.choices(names, weights, k=count)


def claim_rows(count: int, members: int, departments: int, projects: int, first: date,
               days: int, deals: dict[int, list[int]], seed: int = 5, *,
               claimant: Callable[[random.Random], int] | None = None,
               department_of: Callable[[int], int] | None = None,
               day: Callable[[random.Random], int] | None = None,
               linked: float = 0.4) -> list[tuple]:
    """Claims in column order of CLAIM_COLUMNS; amounts in cents, times UTC-aware. A share
    (`linked`, 40%) are for an opportunity, one of the claimant's own (`deals`: owner -> ids),
    as /expense offers them. Claimants, their departments and the days spent are even over
    `members`, `departments` and `days` unless `claimant`, `department_of` and `day` (a day
    number from `first`) say otherwise."""
    rng = random.Random(seed)
    categories = _weighted(rng, CATEGORIES, count)
    statuses = _weighted(rng, STATUSES, count)
    rows = []
    for i in range(count):
        member = claimant(rng) if claimant else rng.randint(1, members)
        department = department_of(member) if department_of else (member - 1) % departments + 1
        spent_on = first + timedelta(days=day(rng) if day else rng.randrange(days))
        cents = int(rng.lognormvariate(10.0, 1.0)) + 100  # ~CNY 220 typical, a long tail
        at = datetime(spent_on.year, spent_on.month, spent_on.day, 3, tzinfo=UTC) + timedelta(
            minutes=rng.randrange(60 * 24 * 3))
        status = statuses[i]
        roll = rng.random()
        unit_kind, unit_id = (("department", department) if roll < 0.75 else
                              ("project", rng.randint(1, projects)) if roll < 0.9 else
                              ("member", member))
        submitted = None if status == "draft" else at
        decided = at + timedelta(hours=20) if status in ("approved", "rejected") else None
        values = {
            "number": None if status == "draft" else f"EXP-{spent_on.year}-{i + 1:07d}",
            "member_id": member, "department_id": department, "amount": cents,
            "currency": "CNY", "category": categories[i], "spent_on": spent_on,
            "unit_kind": unit_kind, "unit_id": unit_id, "description": f"claim {i}",
            "opportunity_id": (rng.choice(deals[member]) if deals.get(member)
                               and rng.random() < linked else None),
            "report_id": None, "status": status, "stage": None, "version": 3, "created_at": at,
            "updated_at": decided or at, "submitted_at": submitted, "decided_at": decided,
            "posted_at": None, "ledger_ref": None}
        rows.append(tuple(values[c] for c in CLAIM_COLUMNS))
    return rows


def with_opportunities(org: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    org["opportunities"], org["stage_moves"] = opportunity_rows(
        OPPORTUNITIES, len(org["members"]), len(org["departments"]))
    return org


def deals_by_owner(org: dict[str, list[tuple]]) -> dict[int, list[int]]:
    owned: dict[int, list[int]] = {}
    for opportunity_id, owner, *_ in org["opportunities"]:
        owned.setdefault(owner, []).append(opportunity_id)
    return owned


async def sum_claims(database: Database) -> float:
    """Fill the kept totals from the loaded claims (as the migration does); seconds."""
    start = time.perf_counter()
    async with database.engine.begin() as connection:
        await connection.run_sync(rebuild, ZoneInfo(SETTINGS.timezone))
    return time.perf_counter() - start


def budget_rows(departments: int, year: int) -> list[tuple]:
    return [(d, f"{year}-{month:02d}", 2_000_000_00) for d in range(1, departments + 1)
            for month in range(1, 13)]


def _sqlite_value(value: object) -> object:
    # SQLAlchemy's SQLite formats: ISO dates, naive UTC "YYYY-MM-DD HH:MM:SS.ffffff".
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def org_statements(org: dict[str, list[tuple]], budgets: list[tuple],
                   postgres: bool) -> list[tuple[str, list[tuple]]]:
    """The org's inserts (and the opportunities') in the driver's own parameter style."""
    def marks(n: int) -> str:
        return ", ".join(f"${i}" if postgres else "?" for i in range(1, n + 1))

    opportunities, moves = org["opportunities"], org["stage_moves"]
    if not postgres:
        opportunities = [tuple(_sqlite_value(v) for v in row) for row in opportunities]
        moves = [tuple(_sqlite_value(v) for v in row) for row in moves]

    return [
        ("INSERT INTO organization (id, name, timezone, currency, default_language) "
         f"VALUES ({marks(5)})", org["organization"]),
        (f"INSERT INTO departments (id, key, name, parent_id) VALUES ({marks(4)})",
         org["departments"]),
        ("INSERT INTO members (id, key, name, department_id, telegram_id, active, "
         f"reminders_paused) VALUES ({marks(5)}, true, false)", org["members"]),
        (f"INSERT INTO member_roles (member_id, role) VALUES ({marks(2)})",
         org["member_roles"]),
        (f"INSERT INTO projects (id, key, name, department_id, active) VALUES ({marks(4)}, "
         "true)", org["projects"]),
        ("INSERT INTO budgets (unit_kind, category, policy, unit_id, period, amount) "
         f"VALUES ('department', '', 'warn', {marks(3)})", budgets),
        (f"INSERT INTO customers (id, key, name, lat, lon, radius_m, address) VALUES "
         f"({marks(6)}, '')", org["customers"]),
        ("INSERT INTO opportunities (id, owner_id, department_id, customer_id, title, amount, "
         "currency, stage, probability, expected_close, version, created_at, updated_at, "
         f"last_activity_at) VALUES ({marks(14)})", opportunities),
        ("INSERT INTO opportunity_stages (opportunity_id, from_stage, to_stage, changed_by, "
         f"at) VALUES ({marks(5)})", moves),
    ]


# A table's rows in bulk: its name, the columns given, and the rows in their order.
Rows = tuple[str, Sequence[str], Iterable[tuple]]


def insert_sqlite(connection: sqlite3.Connection, tables: Iterable[Rows]) -> None:
    """Multi-row inserts with the plain sqlite3 driver (values in SQLAlchemy's formats)."""
    for table, columns, rows in tables:
        connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            ([_sqlite_value(v) for v in row] for row in rows))


async def copy_postgres(raw, schema: str, tables: Iterable[Rows]) -> None:
    """COPY each table's rows in with asyncpg (`raw`: its connection), into `schema`."""
    for table, columns, rows in tables:
        await raw.copy_records_to_table(table, records=rows, columns=list(columns),
                                        schema_name=schema)


def fill_sqlite(path: Path, org: dict[str, list[tuple]], claims: list[tuple],
                budgets: list[tuple]) -> None:
    """One transaction of multi-row inserts with the plain sqlite3 driver."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    for statement, rows in org_statements(org, budgets, postgres=False):
        connection.executemany(statement, rows)
    insert_sqlite(connection, [("expense_claims", CLAIM_COLUMNS, claims)])
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


async def fill_postgres(database: Database, org: dict[str, list[tuple]], claims: list[tuple],
                        budgets: list[tuple]) -> None:
    """COPY the claims in with asyncpg, in the bench schema."""
    async with database.engine.begin() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        for statement, rows in org_statements(org, budgets, postgres=True):
            await raw.executemany(statement, rows)
        await copy_postgres(raw, SCHEMA, [("expense_claims", CLAIM_COLUMNS, claims)])
    await run_outside_transaction(database, "VACUUM ANALYZE")


async def time_stats(database: Database, runs: int) -> dict[str, tuple[float, int]]:
    """Median milliseconds of /stats for the whole organisation, per period."""
    service = ExpenseStatsService(database.uow, FixedClock(), SETTINGS, ExpensesConfig())
    figures = {}
    for label in ("2026-11", "2026-Q4", "2026"):
        period = Period.parse(label)
        view = await service.stats(FINANCE_TELEGRAM_ID + 1, period)  # warm the caches
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            await service.stats(FINANCE_TELEGRAM_ID + 1, period)
            times.append((time.perf_counter() - start) * 1000)
        figures[label] = (statistics.median(times), view.total.count)
    return figures


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def bench_sqlite(folder: Path, org, claims, budgets, runs: int) -> dict:
    path = folder / "stats.db"
    await upgrade(_sqlite_url(path))
    start = time.perf_counter()
    fill_sqlite(path, org, claims, budgets)
    loaded = time.perf_counter() - start
    database = Database.connect(_sqlite_url(path))
    try:
        summed = await sum_claims(database)
        return {"load": loaded, "sum": summed, "stats": await time_stats(database, runs)}
    finally:
        await database.dispose()


async def bench_postgres(url: str, org, claims, budgets, runs: int) -> dict:
    async with scratch_schema(url, SCHEMA) as database:
        start = time.perf_counter()
        await fill_postgres(database, org, claims, budgets)
        loaded = time.perf_counter() - start
        summed = await sum_claims(database)
        # Index-only scans need the visibility map that VACUUM writes.
        await run_outside_transaction(database, "VACUUM ANALYZE")
        return {"load": loaded, "sum": summed, "stats": await time_stats(database, runs)}


def export_child(url: str, output: str) -> None:
    """Run in a fresh process: one export, then its time and memory as JSON on stdout."""
    at_rest = _memory_kb("VmRSS")
    start = time.perf_counter()
    with Path(output).open("wb") as target:
        rows = asyncio.run(_export(url, target))
        size = target.tell()
    seconds = time.perf_counter() - start
    peak = _memory_kb("VmHWM")
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_kb": peak,
                      "growth_kb": peak - at_rest, "bytes": size}))


def _memory_kb(field: str) -> int:
    """From /proc: VmHWM is this process's own peak (getrusage's ru_maxrss would include
    the parent's, carried across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


async def _export(url: str, target) -> int:
    database = Database.connect(url)
    service = ExpenseStatsService(database.uow, FixedClock(), SETTINGS, ExpensesConfig())
    try:
        result = await service.export(None, Period.parse("2026-11"), StatusFilter.COMMITTED,
                                      ExportFormat.XLSX, target)
    finally:
        await database.dispose()
    return result.rows


async def bench_export(folder: Path, count: int) -> dict:
    """`count` claims in November, all approved or pending, exported in a child process."""
    path = folder / "export.db"
    await upgrade(_sqlite_url(path))
    org = with_opportunities(org_rows(20, 200, 10))
    claims = claim_rows(count, 200, 20, 10, date(2026, 11, 1), 30, deals_by_owner(org),
                        seed=11)
    column = CLAIM_COLUMNS.index("status")
    claims = [(*row[:column], "approved", *row[column + 1:]) for row in claims]
    fill_sqlite(path, org, claims, budget_rows(20, 2026))
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.expenses", "--export-child", _sqlite_url(path),
        str(folder / "export.xlsx"), stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    if child.returncode:
        raise RuntimeError(f"the export process failed ({child.returncode})")
    return json.loads(out.decode().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.expenses", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--export-claims", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="a PostgreSQL URL, or '' to skip (default: %(default)s)")
    parser.add_argument("--export-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(*args.export_child)
    else:
        asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"$ .venv/bin/python -m bench.expenses --claims {args.claims} "
          f"--export-claims {args.export_claims} --runs {args.runs}"
          + (f" --postgres {args.postgres}" if args.postgres != DEFAULT_POSTGRES else ""))
    start = time.perf_counter()
    org = with_opportunities(org_rows(20, 200, 10))
    claims = claim_rows(args.claims, 200, 20, 10, date(2026, 1, 1), 365, deals_by_owner(org))
    budgets = budget_rows(20, 2026)
    print(f"generated {len(claims):,} claims in {time.perf_counter() - start:.1f} s "
          "(200 members, 20 departments, 6 categories, 2,000 opportunities, 12 months of "
          "2026)")
    results = {}
    with tempfile.TemporaryDirectory(prefix="crmbot-bench-") as folder:
        results["SQLite"] = await bench_sqlite(Path(folder), org, claims, budgets, args.runs)
        if args.postgres:
            results["PostgreSQL"] = await bench_postgres(args.postgres, org, claims, budgets,
                                                         args.runs)
        print(f"/stats for the whole organisation (finance), median of {args.runs} runs:")
        print(f"{'backend':<12}{'load':>9}{'sum':>9}{'month':>12}{'quarter':>12}{'year':>12}")
        for backend, figures in results.items():
            cells = "".join(f"{ms:>9.0f} ms" for ms, _ in figures["stats"].values())
            print(f"{backend:<12}{figures['load']:>7.1f} s{figures['sum']:>7.1f} s{cells}")
        counts = next(iter(results.values()))["stats"]
        print("claims summed: " + ", ".join(f"{label} {n:,}" for label, (_, n)
                                            in counts.items()) + " (approved + pending)")
        export = await bench_export(Path(folder), args.export_claims)
    print(f"XLSX export of {export['rows']:,} claims: {export['seconds']:.1f} s, "
          f"{export['bytes'] / 1e6:.1f} MB file, peak RSS {export['peak_kb'] / 1024:.0f} MB "
          f"(+{export['growth_kb'] / 1024:.0f} MB while exporting)")


if __name__ == "__main__":
    main()
