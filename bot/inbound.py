"""No update is lost when the bot dies: each is written down before Telegram is told it
arrived, and crossed off when its handler has finished (core.inbound).

Polling: the getUpdates answer is recorded before PTB asks for the next batch, which is
what moves Telegram's offset past it. A webhook: the update is recorded before PTB's
webhook answers 200. At start, whatever was recorded and never handled is handled first;
an update Telegram sends again is recognised by its id and dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Update
from telegram.error import NetworkError
from telegram.request import RequestData

from bot.transport import AiohttpRequest
from core.inbound import InboundService

log = logging.getLogger("crmbot.inbound")


class UpdateJournal:
    """This process's side of the record: which updates to let through, which to cross off."""

    def __init__(self, inbound: InboundService) -> None:
        self.inbound = inbound
        self._fresh: set[int] = set()
        self._repeats: set[int] = set()
        self._done: list[int] = []
        self._writer: asyncio.Task[None] | None = None
        # Saves what the handlers changed in chats and conversations (bot.persistence) before
        # their updates are crossed off.
        self.before_marking: Callable[[], Awaitable[None]] | None = None

    async def received(self, payloads: list[dict[str, Any]], offset: int | None) -> None:
        """A polled batch, recorded before Telegram hears that it arrived."""
        batch = [(p["update_id"], p) for p in payloads if isinstance(p.get("update_id"), int)]
        new = await self.inbound.received(batch, acknowledged_below=offset)
        for update_id, _ in batch:
            (self._fresh if update_id in new else self._repeats).add(update_id)

    async def admit(self, update: Update) -> bool:
        """Whether an update goes on to the handlers (False: it was handled or queued before)."""
        update_id = update.update_id
        if update_id in self._fresh:
            self._fresh.discard(update_id)
            return True
        if update_id in self._repeats:
            self._repeats.discard(update_id)
            return False
        # Not polled: a webhook's update, recorded before the webhook answers.
        return update_id in await self.inbound.received([(update_id, update.to_dict())])

    def handled(self, update_id: int) -> None:
        """Cross it off; the marks of updates finishing together share one transaction."""
        self._done.append(update_id)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="inbound-handled")

    async def _write(self) -> None:
        while self._done:
            batch, self._done = self._done, []
            try:
                if self.before_marking is not None:
                    await self.before_marking()
                await self.inbound.handled(batch)
            except Exception:
                # Left unmarked, they are handled again after a restart: logged, not lost.
                log.exception("could not mark %d updates handled", len(batch))

    async def flush(self) -> None:
        if self._writer is not None:
            await self._writer

    async def unhandled(self, bot: Bot) -> list[Update]:
        """Updates recorded by an earlier process and never handled, oldest first."""
        updates = []
        for update_id, payload in await self.inbound.unhandled():
            try:
                updates.append(Update.de_json(payload, bot))
            except Exception:
                log.exception("update %s cannot be read back; crossed off", update_id)
                self.handled(update_id)
        return updates


class JournaledQueue(asyncio.Queue):
    """PTB's update queue: an update is admitted by the journal before it is queued."""

    def __init__(self, journal: UpdateJournal) -> None:
        super().__init__()
        self.journal = journal

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and not await self.journal.admit(item):
            return
        await super().put(item)

    def forsake(self) -> None:
        """Let go of the updates not yet begun: the journal keeps them for the next process."""
        while not self.empty():
            self.get_nowait()
            self.task_done()

    async def replay(self, updates: list[Update]) -> None:
        for update in updates:
            await super().put(update)


class JournaledPolling(AiohttpRequest):
    """The getUpdates client: records each batch before PTB can acknowledge it."""

    def __init__(self, journal: UpdateJournal, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.journal = journal
        self._acknowledged = 0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        status, body = await super().do_request(url, method, request_data, *args, **kwargs)
        if status != 200 or not url.endswith("/getUpdates"):
            return status, body
        answer = json.loads(body)
        parameters = request_data.parameters if request_data else {}
        offset = int(parameters.get("offset") or 0)
        if answer.get("ok") and (answer.get("result") or offset > self._acknowledged):
            try:
                await self.journal.received(answer.get("result") or [], offset or None)
            except Exception as error:
                # Not recorded, not acknowledged: PTB asks again and Telegram sends them again.
                raise NetworkError(f"updates could not be recorded: {error!r}") from error
            self._acknowledged = max(self._acknowledged, offset)
        return status, body
