"""Pending updates, getUpdates long polling and webhook delivery."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from standin.errors import conflict

if TYPE_CHECKING:
    from standin.state import ChangeSignal

JSON = dict[str, Any]

# Telegram leaves these out unless allowed_updates names them.
OPT_IN_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Pauses between webhook attempts; Telegram gives up after "a reasonable amount" too.
WEBHOOK_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0)
WEBHOOK_TIMEOUT = 10.0

WEBHOOK_CONFLICT = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
POLL_CONFLICT = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)


@dataclass
class Webhook:
    """The webhook as set by setWebhook, with delivery errors for getWebhookInfo."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None

    def info(self, pending: int, allowed: list[str] | None) -> JSON:
        """Telegram WebhookInfo."""
        info: JSON = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
            "max_connections": self.max_connections,
        }
        if self.ip_address:
            info["ip_address"] = self.ip_address
        if self.last_error_date:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        if allowed:
            info["allowed_updates"] = allowed
        return info


class UpdateQueue:
    """Updates waiting for the bot, confirmed by getUpdates offsets or webhook 2xx answers.

    status[update_id] goes "pending" -> "delivered" (returned by getUpdates, not yet
    confirmed) -> "fetched" (offset moved past it or the webhook answered 2xx); or ends
    as "dropped" (drop_pending_updates) or "failed" (webhook gave up).
    """

    def __init__(self, signal: ChangeSignal):
        self._signal = signal
        # Telegram starts a bot's update ids at an arbitrary number, then counts up; two
        # stand-ins in a row do not start where the last one did either.
        self._next_id = random.randrange(1, 2**30)
        self._pending: list[JSON] = []
        self.status: dict[int, str] = {}
        self.allowed: list[str] | None = None
        self.webhook: Webhook | None = None
        self.http: aiohttp.ClientSession | None = None
        self.stopping = False
        self._poll_generation = 0
        self._webhook_task: asyncio.Task[None] | None = None

    # --- queueing ----------------------------------------------------------------------

    def push(self, kind: str, payload: JSON) -> JSON:
        """Queue an update unless allowed_updates excludes its type (then update_id is None)."""
        if not self._wanted(kind):
            return {"update_id": None, kind: payload}
        update = {"update_id": self._next_id, kind: payload}
        self._next_id += 1
        self._pending.append(update)
        self.status[update["update_id"]] = "pending"
        self._signal.fire()
        return update

    def _wanted(self, kind: str) -> bool:
        """Whether the bot's allowed_updates setting lets this update type through."""
        if self.allowed:
            return kind in self.allowed
        return kind not in OPT_IN_TYPES

    @property
    def pending_count(self) -> int:
        """Updates not yet confirmed by the bot."""
        return len(self._pending)

    def drop_pending(self) -> None:
        """Forget all unconfirmed updates (drop_pending_updates=True)."""
        for update in self._pending:
            self.status[update["update_id"]] = "dropped"
        self._pending.clear()
        self._signal.fire()

    def _confirm(self, offset: int | None) -> None:
        """Apply a getUpdates offset: everything before it is confirmed."""
        if not offset:
            return
        if offset > 0:
            done = [u for u in self._pending if u["update_id"] < offset]
        else:
            done = self._pending[: max(len(self._pending) + offset, 0)]
        if not done:
            return
        for update in done:
            self.status[update["update_id"]] = "fetched"
        self._pending = self._pending[len(done) :]
        self._signal.fire()

    # --- long polling ------------------------------------------------------------------

    async def poll(
        self, offset: int | None, limit: int, timeout: float, allowed: list[str] | None
    ) -> list[JSON]:
        """getUpdates: confirm by offset, then answer at once or when an update arrives."""
        if self.webhook is not None:
            raise conflict(WEBHOOK_CONFLICT)
        if allowed is not None:
            self.allowed = list(allowed) or None
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._signal.fire()  # an older long poll must notice it was superseded

        def outcome() -> str | None:
            if generation != self._poll_generation:
                return "superseded"
            if self.webhook is not None:
                return "webhook"
            if self.stopping:
                return "stopping"
            return "ready" if self._pending else None

        if timeout > 0:
            with contextlib.suppress(TimeoutError):
                await self._signal.wait_for(outcome, timeout)
        result = outcome()
        if result == "superseded":
            raise conflict(POLL_CONFLICT)
        if result == "webhook":
            raise conflict(WEBHOOK_CONFLICT)
        batch = self._pending[: max(1, min(limit, 100))]
        for update in batch:
            self.status[update["update_id"]] = "delivered"
        return batch

    # --- webhook -----------------------------------------------------------------------

    def set_webhook(self, webhook: Webhook | None) -> None:
        """Install or remove the webhook; delivery runs in the background while set."""
        self.webhook = webhook
        self._signal.fire()
        if webhook is not None and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.create_task(
                self._deliver_forever(), name="sandbox-webhook"
            )

    async def _deliver_forever(self) -> None:
        """POST pending updates to the webhook one at a time, in order."""

        def next_job() -> tuple[str, Webhook | None, JSON | None] | None:
            if self.webhook is None or self.stopping:
                return ("stop", None, None)
            return ("post", self.webhook, self._pending[0]) if self._pending else None

        while True:
            action, webhook, update = await self._signal.wait_for(next_job, None)
            if action == "stop" or webhook is None or update is None:
                return
            await self._deliver(webhook, update)

    async def _deliver(self, webhook: Webhook, update: JSON) -> None:
        """Try one update a few times; confirm it on 2xx, give up after the last retry."""
        for pause in (*WEBHOOK_RETRY_DELAYS, None):
            error = await self._post(webhook, update)
            if self.webhook is not webhook:
                return  # webhook replaced or removed: the update stays pending
            if error is None:
                self._finish(update, "fetched")
                return
            webhook.last_error_date = int(time.time())
            webhook.last_error_message = error
            if pause is None:
                break
            await asyncio.sleep(pause)
        self._finish(update, "failed")

    def _finish(self, update: JSON, status: str) -> None:
        """Take a webhook update off the queue with its final status."""
        update_id = update["update_id"]
        if self.status.get(update_id) != "pending":
            return  # dropped meanwhile (drop_pending_updates)
        self._pending = [u for u in self._pending if u["update_id"] != update_id]
        self.status[update_id] = status
        self._signal.fire()

    async def _post(self, webhook: Webhook, update: JSON) -> str | None:
        """One POST; returns an error text like getWebhookInfo's, or None on success."""
        if self.http is None:
            return "Stand-in is not running"
        headers = {}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        try:
            async with self.http.post(
                webhook.url,
                json=update,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {exc.__class__.__name__}"

    async def close(self) -> None:
        """Release long polls and stop webhook delivery."""
        self.stopping = True
        self._signal.fire()
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
