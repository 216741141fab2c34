"""Updates from different chats run concurrently; updates from one chat strictly in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import observe
from core.trace import handling_update

# How many updates may wait in line (in all chats together) before PTB stops taking more.
BACKLOG = 4096


def chat_key(update: object) -> int | None:
    """Which line an update queues in: its chat, else its sender."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


def update_kind(update: Update) -> str:
    """What the update carries: message, callback_query, edited_message, my_chat_member, ..."""
    return next((kind for kind in Update.ALL_TYPES if getattr(update, kind, None) is not None),
                "unknown")


async def handled(update: object, coroutine: Awaitable[Any]) -> None:
    """Run an update's handlers with its fields on every log line written meanwhile, and
    close it with a line of its own, also when they fail."""
    if not isinstance(update, Update):
        await coroutine
        return
    chat = update.effective_chat
    with handling_update(update.update_id, chat.id if chat is not None else None) as fields:
        started = time.perf_counter()
        try:
            await coroutine
        finally:
            observe.finished(update_kind(update), time.perf_counter() - started,
                             fields.outcome)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """At most `concurrency` updates run at once, never two of the same chat.

    PTB's own semaphore admits up to BACKLOG waiting updates; each then waits for the
    previous update of its chat, and only then for one of `concurrency` running slots, so
    a burst from one chat never occupies the slots that other chats need.
    """

    def __init__(self, concurrency: int) -> None:
        super().__init__(max(BACKLOG, concurrency))
        self.concurrency = concurrency
        self._running: asyncio.Semaphore | None = None
        self._tails: dict[int, asyncio.Future[None]] = {}
        self._finished: dict[int, asyncio.Event] = {}
        self.track_finished = False
        # Told the id of each update whose handling has finished (bot.inbound crosses it off).
        self.on_handled: Callable[[int], None] | None = None
        self.running = 0
        self.peak_running = 0

    async def initialize(self) -> None:
        self._running = asyncio.Semaphore(self.concurrency)

    async def shutdown(self) -> None:
        self._tails.clear()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        if key is None:
            await self._run(update, coroutine)
            return
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        try:
            if previous is not None:
                await asyncio.shield(previous)
            await self._run(update, coroutine)
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]

    async def _run(self, update: object, coroutine: Awaitable[Any]) -> None:
        assert self._running is not None, "initialize() first"
        try:
            async with self._running:
                self.running += 1
                self.peak_running = max(self.peak_running, self.running)
                try:
                    await handled(update, coroutine)
                finally:
                    self.running -= 1
        finally:
            if isinstance(update, Update):
                if self.on_handled is not None:
                    self.on_handled(update.update_id)
                if self.track_finished:
                    self._finished.setdefault(update.update_id, asyncio.Event()).set()

    async def wait_finished(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until an update has been handled (for tests and the demo)."""
        event = self._finished.setdefault(update_id, asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout)
