"""Importing a company's org file, and checking in while it imports.

    make bench-import     (.venv/bin/python -m bench.org_import)

The org file: 10,000 members in a 4-level department tree (a head office, 10 regions, 100
areas, 1,000 branches, each headed by one of its members), 100,000 customers clustered
around 20 cities (normal spread, sigma about 8 km), 200 projects of 10 members, a budget per
department and quarter and per project for the year, a visits goal per member for the month
and a won goal per department for the quarter. It is written as TOML and imported with
`crmbot org import` in a process of its own, as an admin runs it: into an empty database
(fresh), the same file again (unchanged), and with about 1% of every section changed.

While the fresh import runs, a few reps of the org (imported beforehand with their branch)
check in again and again in this process, through the check-in service the bot calls for a
location: how many succeeded, how many waited (took over 100 ms), the longest, and any that
failed (on SQLite a writer holding the lock for longer than the busy timeout makes them
fail with "database is locked").

On SQLite (a file in a temporary folder) and, when --postgres names a server, on PostgreSQL
(a database of its own on that server, dropped afterwards). Run on a checkout of older code
(`--code DIR`), the same file measures that code's import as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import tomli_w
from sqlalchemy.engine import make_url

from bench.scratch import DEFAULT_POSTGRES, scratch_database

ROOT = Path(__file__).resolve().parents[1]
FIRST_ACCOUNT = 10_000_000
# Around each city: 8 km is about 0.072 degrees of latitude.
SPREAD_DEG = 0.072
CITIES = ((31.23, 121.47), (39.90, 116.40), (23.13, 113.26), (22.54, 114.06), (30.57, 104.07),
          (30.59, 114.31), (34.34, 108.94), (29.56, 106.55), (32.06, 118.80), (30.27, 120.16),
          (36.07, 120.38), (38.04, 114.51), (28.23, 112.94), (26.07, 119.30), (25.04, 102.71),
          (41.80, 123.43), (45.80, 126.53), (36.65, 117.12), (34.75, 113.63), (22.82, 108.32))
WAITED_S = 0.1


def company(members: int, customers: int, seed: int = 13) -> dict:
    """The org file as TOML reads it: a department tree four levels deep, heads first."""
    rng = random.Random(seed)
    fanout = max(2, min(10, round((members / 10) ** (1 / 3))))
    departments = [{"key": "hq", "name": "Head office"}]
    levels = [["hq"]]
    for depth, label in enumerate(("Region", "Area", "Branch"), start=1):
        level = []
        for parent in levels[-1]:
            for n in range(fanout):
                key = f"{parent}.{n}" if depth > 1 else f"r{n}"
                departments.append({"key": key, "name": f"{label} {key}", "parent": parent})
                level.append(key)
        levels.append(level)
    branches = levels[-1]
    people = []
    for i in range(members):
        # The first members head the departments, one each; the rest are reps in branches.
        if i < len(departments):
            home, roles = departments[i]["key"], ["manager"]
            departments[i]["manager"] = f"m{i}"
        else:
            home, roles = branches[i % len(branches)], ["rep"]
        person = {"key": f"m{i}", "name": f"Member {i}", "department": home, "roles": roles,
                  "telegram_id": FIRST_ACCOUNT + i}
        if i % 2:
            person["username"] = f"member_{i}"
        people.append(person)
    projects = [{"key": f"p{n}", "name": f"Project {n}", "department": branches[n % len(branches)],
                 "members": [f"m{(n * 37 + k * 101) % members}" for k in range(10)]}
                for n in range(max(1, members // 50))]
    sites = []
    for i in range(customers):
        lat, lon = CITIES[i % len(CITIES)]
        sites.append({"key": f"c{i}", "name": f"Customer {i}", "address": f"{i} Market Street",
                      "lat": round(rng.gauss(lat, SPREAD_DEG), 6),
                      "lon": round(rng.gauss(lon, SPREAD_DEG), 6),
                      "radius_m": rng.choice((100, 200, 300))})
    budgets = [{"unit": f"department:{d['key']}", "period": f"2026-Q{q}",
                "amount": rng.randrange(10_000, 500_000), "policy": "warn"}
               for d in departments for q in range(1, 5)]
    budgets += [{"unit": f"project:{p['key']}", "period": "2026", "amount": 100_000,
                 "policy": "escalate"} for p in projects]
    goals = [{"unit": f"member:{p['key']}", "metric": "visits", "period": "2026-12",
              "target": rng.randrange(20, 60)} for p in people]
    goals += [{"unit": f"department:{d['key']}", "metric": "won", "period": "2026-Q4",
               "target": rng.randrange(100_000, 5_000_000)} for d in departments]
    return {"org": {"name": "Bench Trading", "timezone": "Asia/Shanghai", "currency": "CNY"},
            "departments": departments, "members": people, "projects": projects,
            "customers": sites, "budgets": budgets, "goals": goals}


def changed(data: dict, share: float = 0.01, seed: int = 17) -> dict:
    """The same org with about `share` of every section's entries changed."""
    rng = random.Random(seed)
    data = copy.deepcopy(data)
    for section, change in (
            ("departments", lambda e: e.update(name=e["name"] + " (renamed)")),
            ("members", lambda e: e.update(name=e["name"] + " Jr.")),
            ("projects", lambda e: e.update(name=e["name"] + " II")),
            ("customers", lambda e: e.update(lat=round(e["lat"] + 0.001, 6))),
            ("budgets", lambda e: e.update(amount=e["amount"] + 1000)),
            ("goals", lambda e: e.update(target=e["target"] + 1))):
        entries = data[section]
        for entry in rng.sample(entries, max(1, int(len(entries) * share))):
            change(entry)
    return data


def reps_only(data: dict, reps: int) -> tuple[dict, list[dict]]:
    """The part of the org the checking-in reps need (their branch up to the head office,
    unmanaged), imported before the measured import; and those reps."""
    branch = data["departments"][-1]["key"]
    chosen = [m for m in data["members"] if m["department"] == branch
              and m["roles"] == ["rep"]][:reps]
    by_key = {d["key"]: d for d in data["departments"]}
    chain, key = [], branch
    while key is not None:
        chain.append({k: v for k, v in by_key[key].items() if k != "manager"})
        key = by_key[key].get("parent")
    return {"org": data["org"], "departments": chain[::-1], "members": chosen}, chosen


def write_file(path: Path, data: dict) -> Path:
    with path.open("wb") as handle:
        tomli_w.dump(data, handle)
    return path


def import_command(code: Path, config: Path, org_file: Path) -> tuple[list[str], dict]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    return [sys.executable, "-m", "bot.cli", "--config", str(config), "org", "import",
            str(org_file)], env


def children_cpu() -> float:
    """CPU seconds (user and system) of the finished child processes so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(elapsed: float, cpu: float) -> str:
    return f"{elapsed:.1f} s (CPU {cpu:.1f} s)"


def run_import(code: Path, config: Path, org_file: Path) -> tuple[str, str]:
    command, env = import_command(code, config, org_file)
    started, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr.strip()[-2000:]}")
    return timed(elapsed, children_cpu() - cpu), done.stdout


@dataclass
class CheckIns:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        waited = [s for s in self.latencies if s > WAITED_S]
        longest = max(self.latencies, default=0.0)
        median = statistics.median(self.latencies) * 1000 if self.latencies else 0.0
        return (f"{len(self.latencies)} succeeded, {len(waited)} waited (> {WAITED_S * 1000:.0f}"
                f" ms), longest {longest:.2f} s, median {median:.0f} ms, "
                f"{len(self.failures)} failed"
                + (f" ({self.failures[0]})" if self.failures else ""))


async def checking_in(services, reps: list[dict], site: dict, running: asyncio.Event,
                      seen: CheckIns) -> None:
    """Each rep checks in at a customer's site every 250 ms while `running` is set."""
    from core.domain.schedule.checkins import SharedLocation

    async def rep(account_id: int) -> None:
        while running.is_set():
            location = SharedLocation(site["lat"], site["lon"], datetime.now(UTC),
                                      horizontal_accuracy=10.0)
            started = time.perf_counter()
            try:
                await services.check_ins.check_in(account_id, location)
            except Exception as error:  # what a rep would have been told "went wrong"
                seen.failures.append(f"{type(error).__name__}: {str(error)[:80]}")
            else:
                seen.latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.25)

    await asyncio.gather(*(rep(r["telegram_id"]) for r in reps))


async def bench_backend(name: str, url: str, code: Path, folder: Path, files: dict[str, Path],
                        seed_file: Path, reps: list[dict], site: dict) -> dict[str, object]:
    from bootstrap import build_services
    from bootstrap.config import parse_config
    from bot.org_file import parse_org_file
    from core.ports import SystemClock
    from storage.database import Database
    from storage.migrate import upgrade

    config_path = folder / f"{name}.toml"
    config_path.write_text(f'[database]\nurl = "{url}"\n[org]\nname = "Bench Trading"\n'
                           f'timezone = "Asia/Shanghai"\n'
                           f'[storage]\nphotos_dir = "{folder / "photos"}"\n')
    config = parse_config({"database": {"url": url},
                           "org": {"name": "Bench Trading", "timezone": "Asia/Shanghai"},
                           "storage": {"photos_dir": str(folder / "photos")}}, env={})
    await upgrade(url)
    database = Database.connect(url)
    results: dict[str, object] = {}
    try:
        services = build_services(config, database, SystemClock())
        with seed_file.open("rb") as handle:
            await services.org.import_org(parse_org_file(tomllib.load(handle)))
        idle = CheckIns()
        running = asyncio.Event()
        running.set()
        idle_run = asyncio.create_task(checking_in(services, reps, site, running, idle))
        await asyncio.sleep(2)
        running.clear()
        await idle_run
        results["check-ins, no import"] = idle.line()

        during = CheckIns()
        running.set()
        checks = asyncio.create_task(checking_in(services, reps, site, running, during))
        command, env = import_command(code, config_path, files["fresh"])
        started, cpu = time.perf_counter(), children_cpu()
        process = await asyncio.create_subprocess_exec(
            *command, cwd=code, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        elapsed = time.perf_counter() - started
        results["fresh"] = timed(elapsed, children_cpu() - cpu)
        running.clear()
        await checks
        if process.returncode != 0:
            raise SystemExit(f"import failed: {err.decode()[-2000:]}")
        results["check-ins during the fresh import"] = during.line()
        print(f"  {name} fresh: {results['fresh']}", flush=True)
        print(out.decode().rstrip(), flush=True)
        for run in ("unchanged", "changed"):
            results[run], said = run_import(code, config_path, files[run])
            print(f"  {name} {run}: {results[run]}", flush=True)
            print(said.rstrip(), flush=True)
    finally:
        await database.dispose()
    return results


def load_average() -> str:
    """The machine's load over the last minute (the benchmark shares it)."""
    with open("/proc/loadavg") as handle:
        return handle.read().split()[0]


async def run(args: argparse.Namespace, code: Path) -> None:
    shown = f"python -m bench.org_import --members {args.members} --customers {args.customers}"
    if args.postgres != DEFAULT_POSTGRES:
        shown += " --postgres " + (make_url(args.postgres).render_as_string(
            hide_password=True) if args.postgres else "''")
    if args.code != str(ROOT):
        shown += f" --code {args.code}"
    print(f"$ {shown}")
    print(f"load average before: {load_average()}")
    data = company(args.members, args.customers)
    seed, reps = reps_only(data, args.reps)
    site = data["customers"][0]
    print(f"{len(data['departments'])} departments, {len(data['members'])} members, "
          f"{len(data['projects'])} projects, {len(data['customers'])} customers, "
          f"{len(data['budgets'])} budgets, {len(data['goals'])} goals; "
          f"{len(reps)} reps checking in", flush=True)
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-org-import-") as tmp:
        folder = Path(tmp)
        files = {"fresh": write_file(folder / "org.toml", data),
                 "unchanged": folder / "org.toml",
                 "changed": write_file(folder / "org-changed.toml", changed(data))}
        seed_file = write_file(folder / "reps.toml", seed)
        sqlite_url = f"sqlite+aiosqlite:///{folder / 'crm.db'}"
        results["SQLite"] = await bench_backend("sqlite", sqlite_url, code, folder, files,
                                                seed_file, reps, site)
        if args.postgres:
            url = await scratch_database(
                args.postgres, f"{make_url(args.postgres).database}_org_import", create=True)
            try:
                results["PostgreSQL"] = await bench_backend("postgres", url, code, folder,
                                                            files, seed_file, reps, site)
            finally:
                await scratch_database(
                    args.postgres, f"{make_url(args.postgres).database}_org_import",
                    create=False)
    print(f"\n$ {shown}")
    for backend, figures in results.items():
        print(f"{backend}:")
        for what, value in figures.items():
            print(f"  {what:36} {value}")
    print(f"load average after: {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.org_import", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5, help="reps checking in during the import")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="a PostgreSQL server to import into too ('' to skip)")
    parser.add_argument("--code", default=str(ROOT),
                        help="the checkout whose `crmbot org import` is measured")
    args = parser.parse_args()
    asyncio.run(run(args, Path(args.code).resolve()))


if __name__ == "__main__":
    main()
