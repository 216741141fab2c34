"""Who is the active `crmbot run`: one holder of the role at a time, what it writes down, and
the one line a second process on SQLite gets."""

from __future__ import annotations

import pytest

from storage.database import Database
from storage.leadership import AlreadyRunning, leadership_for, read_holder
from tests.conftest import BACKENDS, FixedClock, _truncate


def url_of(database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


@pytest.fixture(params=[b for b in BACKENDS if b == "postgresql"])
async def postgres(request):
    database = Database.connect(request.getfixturevalue("postgres_migrated"))
    await _truncate(database)
    yield database
    await database.dispose()


async def test_one_process_at_a_time_holds_the_role_and_the_next_knows_its_predecessor(
        postgres, clock: FixedClock):
    database = postgres
    first = leadership_for(database, url_of(database), "host-a:101:aa", clock.now)
    second = leadership_for(database, url_of(database), "host-b:202:bb", clock.now)
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        holder = await read_holder(database)
        assert (holder.worker, holder.since, holder.seen_at) == (
            "host-a:101:aa", clock.now(), clock.now())
        # The first one's session ends without a goodbye, as a killed process's does.
        await first._drop()
        assert await second.try_acquire()
        assert second.predecessor == "host-a:101:aa"
        assert (await read_holder(database)).worker == "host-b:202:bb"
    finally:
        await first.release()
        await second.release()
    assert await read_holder(database) is None  # a clean stop leaves no holder behind


async def test_a_second_process_on_one_sqlite_file_is_refused_in_one_line(
        sqlite_database, clock: FixedClock):
    url = url_of(sqlite_database)
    first = leadership_for(sqlite_database, url, "host-a:101:aa", clock.now)
    second = leadership_for(sqlite_database, url, "host-a:102:bb", clock.now)
    try:
        assert await first.try_acquire()
        with pytest.raises(AlreadyRunning) as refused:
            await second.try_acquire()
        path = sqlite_database.engine.url.database
        assert str(refused.value) == (f"another crmbot run is using {path}: stop it first "
                                      "(a standby process needs PostgreSQL)")
        assert (await read_holder(sqlite_database)).worker == "host-a:101:aa"
    finally:
        await first.release()
