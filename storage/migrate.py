"""Schema migrations with Alembic, run from code (crmbot db upgrade, crmbot run, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.database import create_engine

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock's key while upgrading: several processes starting together upgrade
# one after the other, and the later ones find nothing left to do.
UPGRADE_KEY = 0x63726D75


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def revision_of(connection: Connection) -> str | None:
    """The schema revision of the database on `connection` (None when never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(revision_of)
    finally:
        await engine.dispose()


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database to `revision`, in one transaction."""
    config = alembic_config(url)
    # Batch migrations rebuild SQLite tables, which foreign keys would block.
    engine = create_engine(url, foreign_keys=False)
    try:
        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                         {"key": UPGRADE_KEY})

            def run(sync_connection: Connection) -> None:
                config.attributes["connection"] = sync_connection
                command.upgrade(config, revision)

            await connection.run_sync(run)
            if engine.dialect.name == "sqlite":
                broken = (await connection.execute(text("PRAGMA foreign_key_check"))).all()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
                # SQLite picks indexes by statistics it only gathers when asked (PostgreSQL's
                # autovacuum does this by itself); sampled, so it stays quick on big tables.
                await connection.execute(text("PRAGMA analysis_limit=1000"))
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
