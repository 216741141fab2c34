"""The outbox dispatcher: every notification delivered once, in order per chat, within limits.

A long-running task claims due notifications (core's OutboxService leases them to this
worker, at most one per chat at a time), renders each in its recipient's language and
sends it through the Pacer. Telegram's answer decides what is recorded: delivered,
retried later, refused for good, or the recipient unreachable. What the dispatcher holds
is bounded by the batch size, so a killed process leaves at most a batch in doubt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bootstrap import metrics
from bot.i18n import Translator
from bot.notices import render
from bot.pacing import Bulk, Pacer, Postponed, retry_after_seconds
from core.domain.inbox.notifications import retry_delay
from core.inbox.notifications import Delivery, OutboxService

log = logging.getLogger("crmbot.outbox")

POLL_SECONDS = 1.0
# Sends already on their way get this long to come back on a clean stop (PTB's own
# timeouts are shorter), so their outcome is recorded rather than guessed.
STOP_TIMEOUT = 15.0
# A group answers some sends with a 400 instead of a 403 once the bot cannot write there.
GROUP_GONE = ("chat not found", "bot was kicked", "not a member", "chat_write_forbidden",
              "have no rights to send", "group chat was deactivated")
NOT_MODIFIED = "message is not modified"
# Deliveries are recorded at most this often, together (or once a quarter of a batch waits):
# during a fan-out the database then takes a few writes a second from the outbox rather
# than one per send or two, and a person's own check-in or approval does not queue behind
# them.
RECORD_GAP = 0.25
EDIT_TARGET_GONE = ("message to edit not found", "message can't be edited")


# The dispatchers running in this process, by worker name (bootstrap.worker_name).
_LIVE: set[str] = set()


def abandoned_here(worker: str) -> bool:
    """Whether a claim's worker was a process on this machine that is gone.

    A restarted bot hands back what its earlier life held at once, instead of waiting
    out the lease: a process that no longer runs, or this very pid in an earlier life
    (a container's bot is always pid 1). Other machines' claims run out with their lease.
    """
    host, _, rest = worker.partition(":")
    pid_text, _, _tag = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or worker in _LIVE:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # someone else's process: alive
    return False


@dataclass
class Counters:
    """What the dispatcher did since it was built (tests, the benchmark, logs)."""

    sent: int = 0
    edited: int = 0
    retried: int = 0
    unreachable: int = 0
    failed: int = 0
    too_many_requests: int = 0
    released: int = 0


@dataclass
class _Sending:
    task: asyncio.Task[None]
    pace: Bulk


class Dispatcher:
    """Delivers the outbox: start() in post_init, stop() in post_stop, wake() after publishing."""

    def __init__(self, bot: Bot, outbox: OutboxService, *, batch: int = 50,
                 poll_seconds: float = POLL_SECONDS, single_process: bool = False,
                 stop_timeout: float = STOP_TIMEOUT) -> None:
        self.bot = bot
        self.outbox = outbox
        self.batch = batch
        self.poll_seconds = poll_seconds
        # SQLite means one process: claims found at start belong to a process that died.
        self.single_process = single_process
        # The active process this one took over from: whatever it claimed is sent again now,
        # rather than when its lease runs out (it may be on another machine).
        self.predecessor: str | None = None
        self.stop_timeout = stop_timeout
        # A chat that cannot take a message for half the lease gets it rescheduled instead.
        self.max_wait = outbox.lease.total_seconds() / 2
        # Claims are renewed three times a lease while anything is on its way.
        self.renew_every = outbox.lease.total_seconds() / 3
        self._renewed = time.monotonic()
        self.counters = Counters()
        self._sending: dict[int, _Sending] = {}
        self._changed = asyncio.Event()
        self._wanted = True
        self._stopping = False
        self._loop: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._unrecorded: list[tuple[Delivery, int | None, asyncio.Future[bool]]] = []
        self._recorder: asyncio.Task[None] | None = None
        self._recorded_at = 0.0
        self._enough_to_record = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._sending)

    async def start(self) -> None:
        if self._loop is not None:
            return
        if self.single_process:
            released = await self.outbox.release_all()
        else:
            predecessor = self.predecessor
            released = await self.outbox.release_abandoned(
                lambda worker: worker == predecessor or abandoned_here(worker))
        if released:
            log.info("%d notifications claimed by a bot that died are sent again", released)
        if self.predecessor is not None:
            await self._remember_predecessors_group_sends()
        _LIVE.add(self.outbox.worker)
        self._renewed = time.monotonic()
        self._stopping = False
        self._loop = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def _remember_predecessors_group_sends(self) -> None:
        """A group allows 20 messages a minute whoever sent them: what the predecessor sent in
        the last minute fills this process's windows first."""
        pacer = self.bot.rate_limiter
        if not isinstance(pacer, Pacer):
            return
        for chat_id, seconds_ago in await self.outbox.recent_group_sends(pacer.group_window):
            pacer.remember(chat_id, seconds_ago)

    def wake(self) -> None:
        """Claim now rather than at the next poll (something was just published)."""
        self._wanted = True
        self._changed.set()

    async def stop(self) -> None:
        """Stop claiming, finish and record what is on its way, hand back the rest."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        self._stopping = True
        self._changed.set()
        with contextlib.suppress(Exception):
            await loop
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        # Nothing awaits between looking and cancelling, so a send cannot leave in between.
        for sending in self._sending.values():
            if not sending.pace.departed:
                sending.task.cancel()
        tasks = [s.task for s in self._sending.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=self.stop_timeout)
        released = await self.outbox.release()
        self.counters.released += released
        _LIVE.discard(self.outbox.worker)
        log.info("outbox stopped: %s", self.counters)

    # --- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        refill = max(1, self.batch // 2)
        while not self._stopping:
            self._changed.clear()
            wanted, self._wanted = self._wanted, False
            room = self.batch - len(self._sending)
            # Claiming a few at a time costs a transaction each: wait for half a batch of room.
            if room > 0 and (wanted or room >= refill or not self._sending):
                await self._claim(room)
            if self._stopping:
                break
            await self._renew()
            try:
                await asyncio.wait_for(self._changed.wait(), self.poll_seconds)
            except TimeoutError:
                self._wanted = True  # another process may have published

    async def _renew(self) -> None:
        """Hold on to what is being sent: a slow chat or a loaded machine loses no claim."""
        if not self._sending or time.monotonic() - self._renewed < self.renew_every:
            return
        self._renewed = time.monotonic()
        try:
            await self.outbox.renew()
        except Exception:
            log.exception("renewing the outbox's claims failed; trying again shortly")

    async def _claim(self, room: int) -> None:
        try:
            deliveries = await self.outbox.claim(room)
        except Exception:
            log.exception("claiming notifications failed; trying again in %s s",
                          self.poll_seconds)
            return
        for delivery in deliveries:
            pace = Bulk(max_wait=self.max_wait)
            task = asyncio.create_task(self._deliver(delivery, pace),
                                       name=f"outbox-{delivery.notification.id}")
            self._sending[delivery.notification.id] = _Sending(task, pace)
            task.add_done_callback(
                lambda done, key=delivery.notification.id: self._finished(key, done))

    def _finished(self, key: int, task: asyncio.Task[None]) -> None:
        self._sending.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivering notification %s failed", key, exc_info=task.exception())
        self._changed.set()

    def _wake_in(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None

        def fire() -> None:
            self._timers.discard(timer)  # type: ignore[arg-type]
            self.wake()

        timer = loop.call_later(seconds, fire)
        self._timers.add(timer)

    # --- one notification ---------------------------------------------------------------------

    async def _deliver(self, delivery: Delivery, pace: Bulk) -> None:
        notification = delivery.notification
        try:
            text, markup = render(notification, Translator(delivery.language), delivery)
        except Exception as error:
            log.exception("notification %s cannot be rendered", notification.id)
            await self._failed(delivery, f"cannot be rendered: {error!r}")
            return
        try:
            message_id, edited = await self._send(delivery, text, markup, pace)
        except Postponed as wait:
            await self._retry(delivery, wait.seconds, str(wait), count_attempt=False)
        except RetryAfter as error:
            self.counters.too_many_requests += 1
            metrics.too_many_requests("outbox")
            await self._retry(delivery, retry_after_seconds(error), str(error),
                              count_attempt=False)
        except Forbidden as error:
            await self._unreachable(delivery, error.message)
        except ChatMigrated as error:
            # Rebinding a group that became a supergroup is not automatic (yet).
            log.warning("notification %s: chat %s is now %s; bind the group again",
                        notification.id, delivery.chat_id, error.new_chat_id)
            await self._failed(delivery, error.message)
        except BadRequest as error:
            reason = error.message.lower()
            if notification.group_id is not None and any(p in reason for p in GROUP_GONE):
                await self._unreachable(delivery, error.message)
            else:
                log.warning("Telegram refused notification %s for good: %s", notification.id,
                            error.message)
                await self._failed(delivery, error.message)
        except (TelegramError, OSError) as error:
            # Network errors, timeouts, Telegram's 5xx: try again later.
            await self._retry(delivery, retry_delay(notification.attempts + 1).total_seconds(),
                              f"{error.__class__.__name__}: {error}")
        else:
            if not await self._delivered(delivery, message_id):
                log.warning("notification %s was sent after its claim ran out; another worker "
                            "may send it again", notification.id)
            if edited:
                self.counters.edited += 1
            else:
                self.counters.sent += 1

    async def _send(self, delivery: Delivery, text: str, markup: InlineKeyboardMarkup | None,
                    pace: Bulk) -> tuple[int | None, bool]:
        """Send, or edit the message sent before; (message_id, whether it was an edit)."""
        notification = delivery.notification
        if notification.needs_edit:
            try:
                await self.bot.edit_message_text(
                    text, chat_id=notification.chat_id or delivery.chat_id,
                    message_id=notification.message_id, parse_mode=ParseMode.HTML,
                    reply_markup=markup, rate_limit_args=pace)
                return notification.message_id, True
            except BadRequest as error:
                reason = error.message.lower()
                if NOT_MODIFIED in reason:
                    return notification.message_id, True
                if not any(p in reason for p in EDIT_TARGET_GONE):
                    raise
                # The old message was deleted: the new content goes out as a new message.
        message: Message = await self.bot.send_message(
            delivery.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
            rate_limit_args=pace)
        return message.message_id, False

    async def _delivered(self, delivery: Delivery, message_id: int | None) -> bool:
        """Record a delivery together with the others that arrive while one is written."""
        recorded = asyncio.get_running_loop().create_future()
        self._unrecorded.append((delivery, message_id, recorded))
        if len(self._unrecorded) >= max(1, self.batch // 4):
            self._enough_to_record.set()
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record(), name="outbox-recorder")
        return await asyncio.shield(recorded)

    async def _record(self) -> None:
        while self._unrecorded:
            wait = self._recorded_at + RECORD_GAP - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._enough_to_record.wait(), wait)
            self._enough_to_record.clear()
            batch, self._unrecorded = self._unrecorded, []
            try:
                done = await self.outbox.delivered_many([(d, m) for d, m, _ in batch])
            except Exception as error:
                for *_, recorded in batch:
                    recorded.set_exception(error)
                continue
            finally:
                self._recorded_at = time.monotonic()
            for (*_, recorded), ok in zip(batch, done, strict=True):
                recorded.set_result(ok)

    async def _retry(self, delivery: Delivery, seconds: float, error: str, *,
                     count_attempt: bool = True) -> None:
        await self.outbox.retry(delivery, after=timedelta(seconds=seconds), error=error,
                                count_attempt=count_attempt)
        self.counters.retried += 1
        self._wake_in(seconds)

    async def _failed(self, delivery: Delivery, error: str) -> None:
        await self.outbox.failed(delivery, error)
        self.counters.failed += 1

    async def _unreachable(self, delivery: Delivery, error: str) -> None:
        refusal = await self.outbox.unreachable(delivery, error)
        self.counters.unreachable += 1
        log.info("notification %s: recipient unreachable (%s); %d told", delivery.notification.id,
                 error, refusal.notified)
        if refusal.notified:
            self.wake()
