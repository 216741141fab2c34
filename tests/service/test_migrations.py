"""The migrations build exactly the schema the tables describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.migrate import head_revision
from storage.tables import Base


async def test_migrated_schema_matches_the_tables(database):
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(lambda sync: compare_metadata(
            MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata))
        revision = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision())
    assert differences == []
    assert revision == head_revision()
