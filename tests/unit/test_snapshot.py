"""Snapshots: kept until what they were read from changes, refreshed in the background."""

from __future__ import annotations

import asyncio

from core.snapshot import Snapshot


class Source:
    """A stored value with a change counter; each load can be held back by the test."""

    def __init__(self) -> None:
        self.value, self.version, self.loads = "v0", 0, 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.read = asyncio.Event()

    def change(self, value: str) -> None:
        self.value, self.version = value, self.version + 1

    async def load(self) -> str:
        self.loads += 1
        value = self.value  # read before the gate: a change meanwhile is not in it
        self.read.set()
        await self.gate.wait()
        return value


def snapshot(source: Source, clock: list[float]) -> Snapshot[str]:
    return Snapshot(source.load, lambda: source.version, refresh_seconds=30,
                    monotonic=lambda: clock[0])


async def test_value_is_read_once_and_again_after_a_change():
    source, clock = Source(), [0.0]
    kept = snapshot(source, clock)
    assert [await kept.get(), await kept.get()] == ["v0", "v0"] and source.loads == 1
    source.change("v1")
    assert await kept.get() == "v1" and source.loads == 2


async def test_callers_during_a_load_share_it():
    source, clock = Source(), [0.0]
    kept = snapshot(source, clock)
    source.gate.clear()
    waiting = [asyncio.create_task(kept.get()) for _ in range(5)]
    await asyncio.sleep(0)
    source.gate.set()
    assert await asyncio.gather(*waiting) == ["v0"] * 5 and source.loads == 1


async def test_change_during_a_load_is_not_taken_as_seen():
    source, clock = Source(), [0.0]
    kept = snapshot(source, clock)
    source.gate.clear()
    first = asyncio.create_task(kept.get())
    await source.read.wait()  # the load has read "v0" and waits
    source.change("v1")
    second = asyncio.create_task(kept.get())
    await asyncio.sleep(0)
    source.gate.set()
    assert await first == "v0" and await second == "v1"
    assert await kept.get() == "v1" and source.loads == 2


async def test_after_the_refresh_time_the_kept_value_answers_while_it_is_read_again():
    source, clock = Source(), [0.0]
    kept = snapshot(source, clock)
    await kept.get()
    source.value = "changed elsewhere"  # not counted by the version
    clock[0] = 31
    source.gate.clear()
    assert await kept.get() == "v0"  # at once, not waiting for the load
    source.gate.set()
    await asyncio.sleep(0.01)
    assert await kept.get() == "changed elsewhere" and source.loads == 2


async def test_failed_load_is_raised_and_tried_again():
    source, clock = Source(), [0.0]
    failures = [RuntimeError("database down")]

    async def load() -> str:
        if failures:
            raise failures.pop()
        return await source.load()

    kept = Snapshot(load, lambda: source.version, refresh_seconds=30, monotonic=lambda: clock[0])
    try:
        await kept.get()
    except RuntimeError as error:
        assert "database down" in str(error)
    else:
        raise AssertionError("the failure was swallowed")
    assert await kept.get() == "v0"
