"""Group commit: writes that arrive together share one transaction, each awaited alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from core.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("crmbot.group_commit")

Item = TypeVar("Item")
Result = TypeVar("Result")
# Does the work for many items in one unit of work, one result per item, in their order.
Work = Callable[[UnitOfWork, list[Item]], Awaitable[list[Result]]]

MAX_BATCH = 200


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    result: asyncio.Future[Result] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit(Generic[Item, Result]):
    """Runs `work` for the items submitted while the previous batch was being written, in
    one unit of work with one commit, so that a busy moment costs a few transactions
    instead of one per item.

    Nobody waits for a batch to fill: a lone item is written at once, and items queue only
    behind a transaction already under way. submit() returns once its item is committed.
    When a batch fails, each of its items is tried again on its own, so one bad item fails
    alone.
    """

    def __init__(self, uows: UnitOfWorkFactory, work: Work, *, max_batch: int = MAX_BATCH) -> None:
        self._uows = uows
        self._work = work
        self._max_batch = max_batch
        self._queue: list[_Waiting[Item, Result]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Do the work for `item`; its result once committed, or its own error."""
        waiting: _Waiting[Item, Result] = _Waiting(item)
        self._queue.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        return await waiting.result

    async def _write_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
            try:
                await self._write(batch)
            except BaseException as error:
                # Cancelled (shutting down): nobody may wait for ever on what is left.
                for waiting in [*batch, *self._queue]:
                    _fail(waiting, error)
                self._queue = []
                raise

    async def _write(self, batch: list[_Waiting[Item, Result]]) -> None:
        batch = [w for w in batch if not w.result.done()]  # its caller gave up
        if not batch:
            return
        committed = False
        try:
            async with self._uows() as uow:
                results = await self._work(uow, [w.item for w in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} items")
                await uow.commit()
                committed = True
                # The callers go on while the connection is put back.
                for waiting, result in zip(batch, results, strict=True):
                    if not waiting.result.done():
                        waiting.result.set_result(result)
        except Exception as error:
            if committed:
                log.warning("closing a unit of work after its commit failed: %r", error)
            elif len(batch) == 1:
                _fail(batch[0], error)
            else:
                log.warning("a batch of %d failed (%r): writing its items one by one",
                            len(batch), error)
                for waiting in batch:
                    await self._write([waiting])


def _fail(waiting: _Waiting, error: BaseException) -> None:
    if not waiting.result.done():
        if isinstance(error, asyncio.CancelledError):
            waiting.result.cancel()
        else:
            waiting.result.set_exception(error)
