"""Group commit on both backends: check-ins that arrive together share one transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from storage.group_commit import GroupCommit
from storage.tables import DepartmentRow


class CountingUows:
    """The database's units of work, counting the ones that wrote."""

    def __init__(self, database) -> None:
        self.database = database
        self.opened = 0
        self.writing = asyncio.Event()

    def __call__(self, *, read_only: bool = False):
        self.opened += not read_only
        self.writing.set()
        return self.database.uow(read_only=read_only)


async def add_departments(uow, keys: list[str]) -> list[str]:
    """The work: one department per key; a key starting with "!" is a bad item."""
    for key in keys:
        if key.startswith("!"):
            raise ValueError(f"bad key {key}")
        uow.session.add(DepartmentRow(key=key, name=key.title()))
    await uow.session.flush()
    return [f"added {key}" for key in keys]


async def stored_keys(database) -> list[str]:
    async with database.uow(read_only=True) as uow:
        return sorted(await uow.session.scalars(select(DepartmentRow.key)))


async def test_items_arriving_together_share_one_commit_and_get_their_own_results(database):
    uows = CountingUows(database)
    writes = GroupCommit(uows, add_departments)
    keys = [f"d{i:02}" for i in range(20)]
    results = await asyncio.gather(*(writes.submit(k) for k in keys))
    assert results == [f"added {k}" for k in keys]
    assert await stored_keys(database) == keys
    # All twenty were queued before the writer's turn came: one transaction.
    assert uows.opened == 1


async def test_one_bad_item_fails_alone_and_the_rest_of_its_batch_is_written(database):
    uows = CountingUows(database)
    writes = GroupCommit(uows, add_departments)
    keys = ["first", "a", "!bad", "b", "c"]
    results = await asyncio.gather(*(writes.submit(k) for k in keys), return_exceptions=True)
    assert results[:2] == ["added first", "added a"]
    assert isinstance(results[2], ValueError) and "!bad" in str(results[2])
    assert results[3:] == ["added b", "added c"]
    assert await stored_keys(database) == ["a", "b", "c", "first"]


async def test_a_lone_item_is_written_at_once(database):
    writes = GroupCommit(database.uow, add_departments)
    assert await asyncio.wait_for(writes.submit("solo"), timeout=5) == "added solo"
    async with database.uow(read_only=True) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(DepartmentRow)) == 1


async def test_a_caller_who_gives_up_does_not_stop_the_others(database):
    writes = GroupCommit(database.uow, add_departments)
    first = asyncio.create_task(writes.submit("first"))
    await asyncio.sleep(0)
    impatient = asyncio.create_task(writes.submit("impatient"))
    patient = asyncio.create_task(writes.submit("patient"))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await first == "added first" and await patient == "added patient"
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert "patient" in await stored_keys(database)


async def test_items_arriving_during_a_commit_go_together_in_the_next(database):
    uows = CountingUows(database)
    writes = GroupCommit(uows, add_departments)
    first = asyncio.create_task(writes.submit("first"))
    await uows.writing.wait()  # the first one's transaction is under way
    rest = [f"r{i}" for i in range(10)]
    assert await asyncio.gather(*(writes.submit(k) for k in rest)) == [f"added {k}" for k in rest]
    assert await first == "added first" and uows.opened == 2
