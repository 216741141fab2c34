"""Databases for tests: SQLite always, PostgreSQL when CRMBOT_TEST_DATABASE_URL names one."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text

from storage.database import Database
from storage.migrate import upgrade
from storage.tables import Base

# Property tests judge results, never speed: a busy machine must not fail them, and a failure
# found once is not replayed from a database outside the repository.
settings.register_profile("crmbot", deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("crmbot")

PG_URL = os.environ.get("CRMBOT_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_ORG = ROOT / "examples" / "org.toml"


@dataclass
class FixedClock:
    """A clock the test moves by hand."""

    moment: datetime = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


class RunningClock:
    """Real seconds passing from a fixed moment: retries fall due as in production, on a day
    and at an hour the test knows, whatever the machine's clock says."""

    def __init__(self, start: datetime = FixedClock.moment) -> None:
        self.start = start
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._began)


@pytest.fixture(autouse=True)
def _root_logger_as_pytest_left_it():
    """A `crmbot` command run in-process sets up the root logger (with a filter that drops
    tracebacks); the next test must not log through it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def run_aside(coroutine) -> object:
    """Run a coroutine to completion on its own loop, even inside a running test loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def filled_database_url(request, tmp_path: Path, fill) -> str:
    """The URL of a migrated database of the test's backend (request.param) after
    `await fill(database)`: for fixtures of tests that run the CLI or a server on it."""
    if request.param == "sqlite":
        url = sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        url = request.getfixturevalue("postgres_migrated")

    async def filled() -> None:
        database = Database.connect(url)
        try:
            if not database.is_sqlite:
                await _truncate(database)
            await fill(database)
        finally:
            await database.dispose()

    run_aside(filled())
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """Migrated once; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "crm.db"
    run_aside(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    assert PG_URL
    run_aside(_reset_postgres(PG_URL))
    return PG_URL


async def _reset_postgres(url: str) -> None:
    database = Database.connect(url)
    async with database.engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await database.dispose()
    await upgrade(url)


async def _truncate(database: Database) -> None:
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with database.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))


def sqlite_copy(template: Path, directory: Path) -> str:
    path = directory / "crm.db"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=BACKENDS)
async def database(request, tmp_path):
    """A migrated, empty database on each configured backend."""
    if request.param == "sqlite":
        url = sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        db = Database.connect(url)
    else:
        db = Database.connect(request.getfixturevalue("postgres_migrated"))
        await _truncate(db)
    yield db
    await db.dispose()


@pytest.fixture
async def sqlite_database(sqlite_template, tmp_path):
    """A migrated, empty SQLite database (chat tests)."""
    db = Database.connect(sqlite_copy(sqlite_template, tmp_path))
    yield db
    await db.dispose()
