"""A write that waits longer than SQLite allows for another process's lock is said to be
busy (StorageBusy), so that the person is asked to try again rather than told it broke."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.ports import StorageBusy
from storage.database import Database
from tests.conftest import sqlite_copy


@pytest.fixture
async def impatient(sqlite_template, tmp_path):
    """A database whose writers wait a tenth of a second for the lock."""
    database = Database.connect(sqlite_copy(sqlite_template, tmp_path) + "?timeout=0.1")
    yield database
    await database.dispose()


def held_lock(path: Path) -> sqlite3.Connection:
    """Another process's writer, in the middle of its transaction."""
    other = sqlite3.connect(path, isolation_level=None, timeout=10)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_writer_that_cannot_get_the_lock_is_told_the_database_is_busy(impatient,
                                                                             tmp_path):
    other = held_lock(tmp_path / "crm.db")
    try:
        with pytest.raises(StorageBusy):
            async with impatient.uow():
                pass
        async with impatient.uow(read_only=True) as uow:
            assert await uow.organization.get() is None
    finally:
        other.execute("ROLLBACK")
        other.close()
    async with impatient.uow() as uow:
        await uow.commit()
