"""A PostgreSQL schema of a benchmark's own, so the test database's tables are never touched."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import POSTGRES_SETTINGS, Database
from storage.tables import Base

# The test server's database; a benchmark works in a schema or database of its own on it.
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def scratch_database(url: str, name: str, create: bool) -> str:
    """Create anew (or drop) database `name` on the server `url` points at; its URL."""
    admin = create_async_engine(make_url(url).set(database="postgres").render_as_string(False),
                                isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if create:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(url).set(database=name).render_as_string(False)


@asynccontextmanager
async def scratch_schema(url: str, schema: str, *, fresh: bool = True,
                         keep: bool = False) -> AsyncIterator[Database]:
    """The server at `url` with `schema` first on the search path: made anew (fresh) or
    reused as an earlier run kept it, with every table and index the tables describe
    (those added since included); dropped afterwards unless kept."""
    admin = create_async_engine(url)
    try:
        if fresh:
            async with admin.begin() as connection:
                await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                await connection.execute(text(f"CREATE SCHEMA {schema}"))
        database = Database(create_async_engine(url, pool_size=5, connect_args={
            "server_settings": {**POSTGRES_SETTINGS, "search_path": schema}}))
        try:
            async with database.engine.begin() as connection:
                await connection.run_sync(_create_tables)
            yield database
        finally:
            await database.dispose()
            if not keep:
                async with admin.begin() as connection:
                    await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    finally:
        await admin.dispose()


async def run_outside_transaction(database: Database, command: str) -> None:
    """VACUUM, ANALYZE and the like, which a transaction block refuses."""
    async with database.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        await raw.execute(command)


def _create_tables(connection) -> None:
    Base.metadata.create_all(connection)
    for table in Base.metadata.sorted_tables:
        for index in table.indexes:
            index.create(connection, checkfirst=True)


def database_options(parser: argparse.ArgumentParser, schema: str, sizes: str) -> None:
    """--postgres, and --keep / --reuse to time loaded data again without loading it."""
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="a PostgreSQL URL, or '' to skip (default: %(default)s)")
    parser.add_argument("--keep", type=Path, metavar="PATH",
                        help="keep the SQLite database at PATH and the PostgreSQL schema "
                             f"{schema}, to time them again with --reuse")
    parser.add_argument("--reuse", type=Path, metavar="PATH",
                        help="time the SQLite database kept at PATH and the kept PostgreSQL "
                             f"schema instead of generating new ones (the same {sizes})")
