"""The Mini App's Today view for the head of a 600-person company with 2,000 check-ins today.

    make bench-web     (.venv/bin/python -m bench.web)

The company: 600 members in a department tree (the company, 3 regions, 12 branches, 60
teams, each headed by a manager), 5,000 customers around their cities, and 2,000 check-ins
this morning (a fifth of them flagged), on SQLite and on PostgreSQL (the test server, in a
schema of its own, unless --postgres ''). `crmbot web`'s app serves it over real
HTTP on 127.0.0.1; the head of the company (who sees all 600) asks for GET /app/api/today,
and for GET /app/api/me, the smallest signed-in call, as the baseline of the same run
(medians and p95 of --runs calls each). Then Debian's Chromium opens the page as Telegram
would, --runs times: the first render is the time from the navigation's start until the
600 people are on the page, beside the frame alone (the tabs shown) as its baseline.

Targets (issue): JSON under 150 ms, first render under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr

from bench.company import NOW, TELEGRAM, Company, FixedClock, customers, fill_sqlite, org
from bench.expenses import copy_postgres
from bench.scratch import DEFAULT_POSTGRES, run_outside_transaction, scratch_schema
from bootstrap.config import parse_config
from bot.stage import free_port
from storage.database import Database
from storage.migrate import upgrade
from web.app import create_app, settle
from web.initdata import launch_fields, launch_url, sign

TOKEN = "123456789:bench-web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCHEMA = "bench_web"
# How the page marks one person's row in the Today list.
PERSON_ROW = "[data-member]"
# ms from the navigation's start until `count` elements match `selector` (checked on every
# frame the browser draws).
WHEN_SHOWN = """([selector, count]) => new Promise((resolve) => {
  const look = () => document.querySelectorAll(selector).length >= count
    ? resolve(performance.now()) : requestAnimationFrame(look);
  look();
})"""


def company(members: int, visits: int, seed: int = 7) -> Company:
    rng = random.Random(seed)
    people = org(regions=3, branches=4, teams=5, members=members)
    customer_rows = customers(5000, rng)
    reps = people.reps
    rows = []
    # This morning on the team's clock (UTC+8): 08:00 to 10:00, NOW being 10:00.
    start = NOW - timedelta(hours=2)
    for n in range(1, visits + 1):
        member = rng.choice(reps)
        customer = rng.randrange(1, len(customer_rows) + 1)
        _, _, _, _, lat, lon, _ = customer_rows[customer - 1]
        at = start + timedelta(seconds=rng.randrange(2 * 3600))
        flagged = rng.random() < 0.2
        rows.append((n, member, at, at - timedelta(seconds=5), lat + rng.gauss(0, 3e-4),
                     lon + rng.gauss(0, 3e-4), 12.0, None if flagged else customer, None,
                     25.0, "outside_geofence" if flagged else "", None))
    return Company(tables=[
        ("organization", ("id", "name", "timezone", "currency", "default_language"),
         [(1, "Bench Trading", "Asia/Shanghai", "CNY", "en")]),
        ("departments", ("id", "key", "name", "parent_id"), people.departments),
        ("members", ("id", "key", "name", "department_id", "telegram_id", "active",
                     "reminders_paused"), people.members),
        ("member_roles", ("member_id", "role"), people.roles),
        ("customers", ("id", "key", "name", "address", "lat", "lon", "radius_m"),
         customer_rows),
        ("check_ins", ("id", "member_id", "at", "sent_at", "lat", "lon", "accuracy_m",
                       "customer_id", "opportunity_id", "distance_m", "flags",
                       "checked_out_at"), rows),
    ], heads=people.heads)


def stats(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered):7.1f} ms, p95 {p95:7.1f} ms"


async def time_json(client: httpx.AsyncClient, path: str, runs: int) -> list[float]:
    (await client.get(path)).raise_for_status()  # warm the caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = await client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        answer.raise_for_status()
    return times


async def time_render(url: str, runs: int, people: int) -> tuple[list[float], list[float]]:
    """ms from navigation start until the frame's tabs, and until every person is shown."""
    from playwright.async_api import async_playwright

    frame, whole = [], []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs + 1):  # the first run warms the server and the disk cache
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()
            await page.route("https://**/*", lambda route: route.abort())  # no tiles here
            await page.goto(url)
            # The page's policy forbids eval, so Playwright's string predicates cannot run
            # in it: a function evaluated in the page watches for what is wanted instead.
            frame.append(await page.evaluate(WHEN_SHOWN, ["#tabs button", 1]))
            whole.append(await page.evaluate(WHEN_SHOWN, [PERSON_ROW, people]))
            await context.close()
        await browser.close()
    return frame[1:], whole[1:]


async def measure(database: Database, built: Company, folder: Path,
                  args: argparse.Namespace) -> dict:
    """The app over `database` (filled with `built`) on a free port; the JSON's and the
    first render's times for the head of the company."""
    head = built.heads[0][1]  # the company's own manager: everyone is below
    config = parse_config({"telegram": {"token": TOKEN},
                           "org": {"timezone": "Asia/Shanghai", "currency": "CNY"},
                           "web": {"requests_per_minute": 100_000},
                           "storage": {"photos_dir": str(folder / "photos")}}, env={})
    config = config.model_copy(update={"telegram": config.telegram.model_copy(
        update={"token": SecretStr(TOKEN)})})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(config, database, clock=FixedClock()), host="127.0.0.1", port=port,
        log_level="warning", lifespan="off"))
    settle()  # as `crmbot web` does
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag)
        await asyncio.sleep(0.02)
    init = sign(launch_fields(TELEGRAM + head, "Head", NOW), TOKEN)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers={"Authorization": f"tma {init}"}) as client:
            today = (await client.get("/app/api/today")).json()
            found = {"shown": len(today["rows"]), "check_ins": len(today["check_ins"]),
                     "baseline": await time_json(client, "/app/api/me", args.runs),
                     "today": await time_json(client, "/app/api/today", args.runs)}
        found["frame"], found["whole"] = await time_render(
            launch_url(f"http://127.0.0.1:{port}/app/", init), args.renders,
            args.members - 1)
        return found
    finally:
        server.should_exit = True
        await serving


def report(backend: str, found: dict, members: int) -> None:
    print(f"Today for the head of {members} people ({found['shown']} shown) with "
          f"{found['check_ins']} check-ins today, {backend}, over HTTP on 127.0.0.1:")
    baseline, today = found["baseline"], found["today"]
    print(f"  JSON   GET /app/api/me (baseline)   {stats(baseline)}")
    print(f"  JSON   GET /app/api/today           {stats(today)}   "
          f"({statistics.median(today) / statistics.median(baseline):.1f}x the baseline; "
          f"target < 150 ms)")
    print(f"  Chromium, navigation to the frame   {stats(found['frame'])}")
    print(f"  Chromium, navigation to {found['shown']} people {stats(found['whole'])}   "
          f"(target < 1000 ms)")


async def run(args: argparse.Namespace) -> None:
    built = company(args.members, args.visits)
    with tempfile.TemporaryDirectory(prefix="crmbot-bench-web-") as folder:
        path = Path(folder) / "web.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        fill_sqlite(path, built)
        database = Database.connect(url)
        try:
            report("SQLite", await measure(database, built, Path(folder), args), args.members)
        finally:
            await database.dispose()
        if args.postgres:
            async with scratch_schema(args.postgres, SCHEMA) as database:
                async with database.engine.begin() as connection:
                    raw = (await connection.get_raw_connection()).driver_connection
                    await copy_postgres(raw, SCHEMA, built.tables)
                    await raw.executemany(
                        "UPDATE departments SET manager_id = $2 WHERE id = $1", built.heads)
                await run_outside_transaction(database, "VACUUM ANALYZE")
                report("PostgreSQL", await measure(database, built, Path(folder), args),
                       args.members)
    print(f"command: .venv/bin/python -m bench.web --members {args.members} --visits "
          f"{args.visits} --runs {args.runs} --renders {args.renders}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=600)
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=50, help="JSON calls timed per endpoint")
    parser.add_argument("--renders", type=int, default=10, help="page loads timed")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="a PostgreSQL URL to measure on too, in a schema of its own "
                             "(dropped afterwards), or '' to skip (default: %(default)s)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
