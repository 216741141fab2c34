"""The finance API: one page of 10,000 approved claims out of 100,000.

    make bench-api     (.venv/bin/python -m bench.api)

The claims are generated straight into a fresh database (members in departments, claims
charged to departments, projects and people, a receipt on every other one); then the page
is asked for through the real FastAPI app over httpx's ASGI transport with a bearer token,
so routing, auth, the query, the cursor and the JSON encoding all count. Each round walks
the pages from the start with next_cursor; the figure is the median per page.
With --postgres URL the same runs on PostgreSQL, in a scratch database created next to
the one named and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import insert, text

from api.app import create_app
from bench.scratch import scratch_database
from bootstrap.config import parse_config
from core.domain.expenses.claims import claim_number
from storage.database import Database
from storage.migrate import upgrade
from storage.tables import ClaimReceiptRow, ClaimRow, DepartmentRow, MemberRow, ProjectRow

TOKEN = "bench-token-0123456789abcdefghij"
CURSOR_SECRET = "bench-cursor-secret-0123456789abcdefghij"
TARGET_MS = 200
DEPARTMENTS, MEMBERS, PROJECTS = 20, 500, 100
BATCH = 5000
CATEGORIES = ("travel", "meals", "lodging", "fuel", "gifts", "office")


def bench_config(url: str, photos: Path, page_size: int):
    return parse_config({
        "database": {"url": url},
        "storage": {"photos_dir": str(photos)},
        "api": {"page_size": page_size, "cursor_secret": CURSOR_SECRET,
                "tokens": [{"name": "bench", "token": TOKEN, "scopes": ["claims:read"]}]},
    }, env={})


def claim_rows(first: int, count: int, rng: random.Random, start: datetime) -> list[dict]:
    rows = []
    for claim_id in range(first, first + count):
        decided = start + timedelta(seconds=claim_id * 7 + rng.randrange(5))
        member = rng.randrange(1, MEMBERS + 1)
        kind = rng.choice(("department", "department", "project", "member"))
        unit = {"department": (member - 1) % DEPARTMENTS + 1,
                "project": rng.randrange(1, PROJECTS + 1), "member": member}[kind]
        rows.append({
            "id": claim_id, "number": claim_number(2026, claim_id), "member_id": member,
            "department_id": (member - 1) % DEPARTMENTS + 1,
            "amount": Decimal(rng.randrange(100, 500_000)) / 100, "currency": "CNY",
            "category": rng.choice(CATEGORIES),
            "spent_on": (decided - timedelta(days=rng.randrange(1, 20))).date(),
            "unit_kind": kind, "unit_id": unit,
            "description": f"Client visit {claim_id}: taxi, lunch with purchasing",
            "opportunity_id": rng.randrange(1, 5000) if rng.random() < 0.4 else None,
            "status": "approved", "version": 4, "created_at": decided - timedelta(days=2),
            "updated_at": decided, "submitted_at": decided - timedelta(days=1),
            "decided_at": decided,
            "posted_at": decided + timedelta(days=1) if rng.random() < 0.3 else None,
            "ledger_ref": None})
        if rows[-1]["posted_at"]:
            rows[-1]["ledger_ref"] = f"GL-{claim_id}"
    return rows


async def fill(database: Database, claims: int) -> None:
    rng = random.Random(5)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    async with database.uow() as uow:
        session = uow.session
        await session.execute(insert(DepartmentRow), [
            {"id": d, "key": f"dept-{d}", "name": f"Region {d}"}
            for d in range(1, DEPARTMENTS + 1)])
        await session.execute(insert(MemberRow), [
            {"id": m, "key": f"rep-{m}", "name": f"Rep {m}",
             "department_id": (m - 1) % DEPARTMENTS + 1} for m in range(1, MEMBERS + 1)])
        await session.execute(insert(ProjectRow), [
            {"id": p, "key": f"project-{p}", "name": f"Project {p}",
             "department_id": (p - 1) % DEPARTMENTS + 1} for p in range(1, PROJECTS + 1)])
        for first in range(1, claims + 1, BATCH):
            count = min(BATCH, claims - first + 1)
            await session.execute(insert(ClaimRow), claim_rows(first, count, rng, start))
            await session.execute(insert(ClaimReceiptRow), [
                {"claim_id": c, "sha256": f"{c:064x}", "file_id": None, "as_document": False,
                 "width": 1200, "height": 1600, "size": 250_000,
                 "created_at": start} for c in range(first, first + count, 2)])
        await uow.commit()
    if database.is_sqlite:
        async with database.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))


async def time_pages(database: Database, url: str, photos: Path, page: int,
                     rounds: int) -> list[tuple[float, float]]:
    app = create_app(bench_config(url, photos, page), database)
    timings = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bench",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for _ in range(rounds):
            cursor = None
            while True:
                began, cpu = time.perf_counter(), time.process_time()
                response = await client.get("/api/v1/claims/approved",
                                            params={"limit": page} | (
                                                {"cursor": cursor} if cursor else {}))
                timings.append(((time.perf_counter() - began) * 1000,
                                (time.process_time() - cpu) * 1000))
                body = response.json()  # the client's own parsing is not the server's time
                assert response.status_code == 200 and len(body["claims"]) <= page
                cursor = body["next_cursor"]
                if not body["has_more"]:
                    break
    return timings


async def run(url: str, photos: Path, claims: int, page: int,
              rounds: int) -> list[tuple[float, float]]:
    print(f"  generating {claims:,} approved claims ...", flush=True)
    await upgrade(url)
    database = Database.connect(url)
    try:
        began = time.perf_counter()
        await fill(database, claims)
        print(f"  generated in {time.perf_counter() - began:.1f} s", flush=True)
        return await time_pages(database, url, photos, page, rounds)
    finally:
        await database.dispose()


def report(backend: str, timings: list[tuple[float, float]], page: int) -> None:
    wall = [w for w, _ in timings]
    median = statistics.median(wall)
    verdict = "ok" if median < TARGET_MS else "OVER TARGET"
    print(f"{backend:<12}{page:>8,}{len(wall):>7}{median:>10.1f}{min(wall):>9.1f}"
          f"{max(wall):>9.1f}{statistics.median(c for _, c in timings):>10.1f}"
          f"  {verdict} (< {TARGET_MS} ms)")


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="walks through all pages")
    parser.add_argument("--postgres", metavar="URL",
                        help="also PostgreSQL, e.g. postgresql+asyncpg://postgres@127.0.0.1/test")
    args = parser.parse_args()
    print(f"$ .venv/bin/python -m bench.api --claims {args.claims} --page {args.page} "
          f"--rounds {args.rounds}" + (f" --postgres {args.postgres}" if args.postgres else ""))
    results = []
    with tempfile.TemporaryDirectory() as directory:
        print("SQLite:")
        results.append(("SQLite", await run(f"sqlite+aiosqlite:///{directory}/crm.db",
                                            Path(directory) / "photos", args.claims,
                                            args.page, args.rounds)))
        if args.postgres:
            print("PostgreSQL:")
            url = await scratch_database(args.postgres, "crmbot_bench_api", create=True)
            try:
                results.append(("PostgreSQL", await run(url, Path(directory) / "photos",
                                                        args.claims, args.page,
                                                        args.rounds)))
            finally:
                await scratch_database(args.postgres, "crmbot_bench_api", create=False)
    print(f"\nGET /api/v1/claims/approved, {args.claims:,} approved claims, "
          "through the ASGI app (JSON included), ms per page; cpu: this process's CPU time "
          "(median), which on a busy machine says more than the wall clock")
    print(f"{'backend':<12}{'page':>8}{'pages':>7}{'median':>10}{'min':>9}{'max':>9}"
          f"{'cpu':>10}")
    for backend, timings in results:
        report(backend, timings, args.page)


if __name__ == "__main__":
    asyncio.run(main())
