"""A value read from storage and kept in memory until what it was read from changes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger("crmbot.snapshot")

Value = TypeVar("Value")


@dataclass(frozen=True)
class _Kept(Generic[Value]):
    value: Value
    version: Hashable  # noted before the value was read
    expires: float
    load: int  # loads are numbered as they start: a later one read later


class Snapshot(Generic[Value]):
    """`load()`'s result, kept until `version()` moves, refreshed every `refresh_seconds`.

    When the version moved (a change this process made), get() waits for a load that began
    after it, so the change is seen at once; the version is noted before loading, so a
    change that lands during a load is never taken as seen. When only `refresh_seconds`
    passed (for changes the version does not count, such as another process's), get()
    answers with the value it has and refreshes it in the background. Callers who come
    while a load is under way share it.
    """

    def __init__(self, load: Callable[[], Awaitable[Value]], version: Callable[[], Hashable],
                 *, refresh_seconds: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._version = version
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._kept: _Kept[Value] | None = None
        self._loading: tuple[Hashable, asyncio.Task[Value]] | None = None
        self._loads = 0

    async def get(self) -> Value:
        version = self._version()
        kept = self._kept
        if kept is not None and kept.version == version:
            if self._monotonic() >= kept.expires:
                self._start(version)
            return kept.value
        return await asyncio.shield(self._start(version))

    def _start(self, version: Hashable) -> asyncio.Task[Value]:
        # A load that began before the latest change may have missed it: start another.
        if self._loading is None or self._loading[0] != version:
            self._loads += 1
            task = asyncio.create_task(self._load_as_of(version, self._loads))
            task.add_done_callback(_log_failure)
            self._loading = (version, task)
        return self._loading[1]

    async def _load_as_of(self, version: Hashable, number: int) -> Value:
        try:
            value = await self._load()
        finally:
            if self._loading is not None and self._loading[0] == version:
                self._loading = None
        if self._kept is None or self._kept.load < number:
            self._kept = _Kept(value, version, self._monotonic() + self._refresh_seconds, number)
        return value


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("loading a snapshot failed", exc_info=task.exception())
