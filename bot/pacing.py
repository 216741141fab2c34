"""Pacing Bot API calls to Telegram's flood limits with true sliding windows.

Telegram counts the messages that reach it in any one-second (per bot), one-second (per
private chat) and one-minute (per group) stretch. A leaky bucket such as aiolimiter's lets
an initial burst through and then the steady rate on top of it, which is more than 30
within one second and earns a 429; a sliding window never does. Each window keeps
Telegram's shape (30 in a second, 20 in a minute, 1 in a second) and stretches or shrinks
with the configured rate, the way the stand-in's `Limits.scaled` does, so a scaled
benchmark paces exactly like production.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from core.config import OutboxConfig

log = logging.getLogger("crmbot.pacing")

OVERALL_BURST = 30
GROUP_BURST = 20
PRIVATE_BURST = 1
# A margin on top of the exact bound below: every window is this much longer than
# Telegram's when counted from the moment a message left.
SAFETY = 0.02
INTERACTIVE_RETRIES = 3
# Spread-out messages may catch up on this many slots lost to a busy moment, no more.
CATCH_UP = 3
# Chats remembered before idle ones are forgotten (a fan-out touches thousands).
_LANES_KEPT = 2048

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


@dataclass
class Bulk:
    """rate_limit_args of a dispatcher send: paced per private chat too, a 429 is raised."""

    # A chat that cannot take the message within this long raises Postponed instead, so a
    # claim never outlives its lease waiting here.
    max_wait: float | None = None
    departed: bool = False  # the request has left for Telegram (it cannot be taken back)


class Postponed(Exception):
    """A bulk message would wait too long for its chat; nothing was sent."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the chat can take it in {seconds:.1f} s")
        self.seconds = seconds


class SlidingWindow:
    """At most `count` messages reach Telegram in any `seconds`-long stretch.

    Each message holds one of `count` places from the moment it leaves until `seconds`
    after Telegram answered it, and at least `seconds` plus SAFETY after it left. It
    reached Telegram somewhere in between, so however long it travelled, the message that
    takes its place next cannot arrive within `seconds` of it: latency jitter can make
    sends look neither closer nor more numerous at the server than the window allows.
    """

    def __init__(self, count: int, seconds: float, *, safety: float = SAFETY,
                 spread: bool = False, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.count = count
        self.seconds = seconds
        self.stretched = seconds * (1 + safety)
        # Spread out, messages leave one every seconds/count instead of in bursts of `count`:
        # a burst of 30 requests queues at both ends, which stretches every round trip and
        # with it how long each place stays taken.
        self.spacing = seconds / count if spread else 0.0
        self._next = 0.0
        self.clock = clock
        self.sleep = sleep
        self._holds: list[float] = []  # when the places of answered messages come free
        self._in_flight = 0
        self._line = asyncio.Lock()  # places are handed out in call order
        self._answered = asyncio.Event()

    def _taken(self, now: float) -> int:
        while self._holds and self._holds[0] <= now:
            heapq.heappop(self._holds)
        return self._in_flight + len(self._holds)

    def _fits(self, n: int, now: float) -> bool:
        taken = self._taken(now)
        # n bigger than the window (an album to a private chat) goes once the window is empty.
        return taken + n <= self.count or taken == 0

    def free_at(self, n: int = 1) -> float | None:
        """When n places will be free, if nothing is in flight (None: it depends on answers)."""
        now = self.clock()
        if self._fits(n, now):
            return now
        if self._in_flight:
            return None
        return heapq.nsmallest(min(len(self._holds), self._taken(now) + n - self.count),
                               self._holds)[-1]

    def idle(self) -> bool:
        return self._taken(self.clock()) == 0

    async def enter(self, n: int = 1) -> float:
        """Wait for n places; returns the moment they were taken."""
        async with self._line:
            while not self._fits(n, self.clock()):
                self._answered.clear()
                await self._until(self._holds[0] if self._holds else None)
            if self._next > self.clock():
                await self.sleep(self._next - self.clock())
            now = self.clock()
            self._next = max(self._next, now - CATCH_UP * self.spacing) + self.spacing * n
            self._in_flight += n
            return now

    def take(self, n: int = 1) -> float:
        """Take n places without waiting (a reply must not be slowed, but it counts)."""
        self._in_flight += n
        return self.clock()

    def leave(self, departed: float, n: int = 1) -> None:
        """Telegram answered the message that left at `departed`."""
        self._in_flight -= n
        free = max(departed + self.stretched, self.clock() + self.seconds)
        for _ in range(n):
            heapq.heappush(self._holds, free)
        self._answered.set()

    def abandon(self, n: int = 1) -> None:
        """The places were taken but the message never left."""
        self._in_flight -= n
        self._answered.set()

    async def _until(self, moment: float | None) -> None:
        """Sleep until `moment` (None: no limit), or until an answer frees a place."""
        waits = [asyncio.ensure_future(self._answered.wait())]
        if moment is not None:
            waits.append(asyncio.ensure_future(self.sleep(max(0.0, moment - self.clock()))))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()


@dataclass
class _Lane:
    """One chat: its window, its place in line, and how long Telegram asked it to wait."""

    window: SlidingWindow
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    paused_until: float = 0.0


def retry_after_seconds(error: RetryAfter) -> float:
    """Telegram's retry_after as seconds (PTB 22 warns when read as an int)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def message_weight(endpoint: str, data: dict[str, Any]) -> int:
    """How many messages a call puts into a chat (0: not a message, never paced)."""
    if endpoint == "sendMediaGroup":
        return max(1, len(data.get("media") or ()))
    if endpoint in ("copyMessages", "forwardMessages"):
        return max(1, len(data.get("message_ids") or ()))
    if endpoint == "sendChatAction":
        return 0
    if endpoint.startswith(("send", "edit")) or endpoint in (
            "copyMessage", "forwardMessage", "stopPoll"):
        return 1
    return 0


def chat_of(data: dict[str, Any]) -> int | str | None:
    """The chat a call writes to: an id, an @username, or None (inline messages)."""
    chat = data.get("chat_id")
    if isinstance(chat, str) and chat.lstrip("-").isdigit():
        return int(chat)
    return chat if isinstance(chat, int | str) else None


def is_private(chat: int | str) -> bool:
    return isinstance(chat, int) and chat > 0


class Pacer(BaseRateLimiter[Bulk]):
    """Sliding windows: overall, per group always, per private chat for bulk sends only.

    Interactive calls (no rate_limit_args) wait out a 429 and retry a few times; bulk calls
    (rate_limit_args=Bulk()) get the RetryAfter raised so the dispatcher reschedules the
    notification instead of holding a place. Either way only that chat waits.
    """

    def __init__(self, messages_per_second: float = 30, private_per_second: float = 1,
                 group_per_minute: float = 20, *, safety: float = SAFETY,
                 max_retries: int = INTERACTIVE_RETRIES, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self._window = {"safety": safety, "clock": clock, "sleep": sleep}
        self.overall = SlidingWindow(OVERALL_BURST, OVERALL_BURST / messages_per_second,
                                     spread=True, **self._window)
        self._private_seconds = PRIVATE_BURST / private_per_second
        self._group_seconds = GROUP_BURST * 60 / group_per_minute
        self.max_retries = max_retries
        self.clock = clock
        self.sleep = sleep
        self.too_many_requests = 0  # 429s Telegram answered, bulk and interactive
        self._lanes: dict[int | str, _Lane] = {}

    @classmethod
    def from_config(cls, config: OutboxConfig, **options: Any) -> Pacer:
        return cls(config.messages_per_second, config.private_per_second,
                   config.group_per_minute, **options)

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        self._lanes.clear()

    def _lane(self, chat: int | str) -> _Lane:
        lane = self._lanes.get(chat)
        if lane is None:
            if len(self._lanes) >= _LANES_KEPT:
                self._forget_idle()
            if is_private(chat):
                window = SlidingWindow(PRIVATE_BURST, self._private_seconds, **self._window)
            else:
                window = SlidingWindow(GROUP_BURST, self._group_seconds, **self._window)
            lane = self._lanes[chat] = _Lane(window)
        return lane

    def _forget_idle(self) -> None:
        now = self.clock()
        for chat, lane in list(self._lanes.items()):
            if not lane.lock.locked() and lane.paused_until <= now and lane.window.idle():
                del self._lanes[chat]

    async def _wait_until(self, moment: float) -> None:
        delay = moment - self.clock()
        if delay > 0:
            await self.sleep(delay)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Bulk | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        weight = message_weight(endpoint, data)
        chat = chat_of(data) if weight else None
        retries = 0
        while True:
            try:
                if not weight:
                    return await self._depart(callback, args, kwargs, rate_limit_args)
                if chat is None:
                    return await self._overall(weight, callback, args, kwargs, rate_limit_args)
                return await self._in_chat(chat, weight, callback, args, kwargs, rate_limit_args)
            except RetryAfter as error:
                self.too_many_requests += 1
                wait = retry_after_seconds(error)
                if chat is not None:
                    lane = self._lane(chat)
                    lane.paused_until = max(lane.paused_until, self.clock() + wait)
                if rate_limit_args is not None or retries >= self.max_retries:
                    raise
                retries += 1
                log.warning("429 on %s to %s: waiting %.0f s (retry %d of %d)", endpoint,
                            chat, wait, retries, self.max_retries)
                if chat is None:
                    await self.sleep(wait)

    async def _overall(self, weight: int, callback, args, kwargs, bulk: Bulk | None):
        departed = await self.overall.enter(weight)
        try:
            return await self._depart(callback, args, kwargs, bulk)
        finally:
            self.overall.leave(departed, weight)

    async def _in_chat(self, chat: int | str, weight: int, callback, args, kwargs,
                       bulk: Bulk | None):
        lane = self._lane(chat)
        # The chat's lock keeps its messages in order while other chats go on.
        async with lane.lock:
            paced = bulk is not None or not is_private(chat)
            if paced and bulk is not None and bulk.max_wait is not None:
                ready = lane.window.free_at(weight)
                ready = max(ready if ready is not None else 0.0, lane.paused_until)
                if ready - self.clock() > bulk.max_wait:
                    raise Postponed(ready - self.clock())
            await self._wait_until(lane.paused_until)
            if paced:
                await lane.window.enter(weight)
            else:
                lane.window.take(weight)
            try:
                departed = await self.overall.enter(weight)
            except BaseException:
                lane.window.abandon(weight)
                raise
            try:
                return await self._depart(callback, args, kwargs, bulk)
            finally:
                self.overall.leave(departed, weight)
                lane.window.leave(departed, weight)

    @staticmethod
    async def _depart(callback, args, kwargs, bulk: Bulk | None):
        if bulk is not None:
            bulk.departed = True
        return await callback(*args, **kwargs)
