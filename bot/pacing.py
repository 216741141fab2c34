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
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bootstrap import metrics
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
# Of the overall window's places, replies leave this many to bulk sends waiting beside them:
# a stream of replies that would fill the window on its own still lets a fan-out progress
# at a sixth of the rate, while any lighter stream of replies never waits behind bulk.
BULK_SHARE = 5
# While replies are flowing (one left within the last window), bulk sends leave this many of
# the overall window's places free, so the next reply finds one at once instead of waiting
# for a place to come free (up to a tenth of a second after a burst).
REPLY_ROOM = 1
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


@dataclass(eq=False)
class _Waiter:
    """One caller waiting for places in a window."""

    n: int
    urgent: bool
    woken: asyncio.Event = field(default_factory=asyncio.Event)


class SlidingWindow:
    """At most `count` messages reach Telegram in any `seconds`-long stretch.

    Each message holds one of `count` places from the moment it leaves until `seconds`
    after Telegram answered it, and at least `seconds` plus SAFETY after it left. It
    reached Telegram somewhere in between, so however long it travelled, the message that
    takes its place next cannot arrive within `seconds` of it: latency jitter can make
    sends look neither closer nor more numerous at the server than the window allows.

    Places are handed out in call order, except that urgent callers (replies to what a
    person just did) go before every waiting bulk send, as long as they hold fewer than
    `count - reserved` places: the last `reserved` are bulk's whenever bulk waits, so a
    stream of replies slows bulk sends down but never stops them. While urgent messages
    hold places, bulk sends leave `room` places free for the next one.
    """

    def __init__(self, count: int, seconds: float, *, safety: float = SAFETY,
                 spread: bool = False, reserved: int = 0, room: int = 0,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.count = count
        self.seconds = seconds
        self.stretched = seconds * (1 + safety)
        self.reserved = reserved
        self.room = room
        # Spread out, messages leave one every seconds/count instead of in bursts of `count`:
        # a burst of 30 requests queues at both ends, which stretches every round trip and
        # with it how long each place stays taken.
        self.spacing = seconds / count if spread else 0.0
        self._next = 0.0
        self.clock = clock
        self.sleep = sleep
        self._holds: list[float] = []  # when the places of answered messages come free
        self._in_flight = 0
        self._urgent_holds: list[float] = []  # the same, for urgent messages only
        self._urgent_in_flight = 0
        self._urgent: deque[_Waiter] = deque()
        self._bulk: deque[_Waiter] = deque()
        self._answered = asyncio.Event()

    def _taken(self, now: float) -> int:
        while self._holds and self._holds[0] <= now:
            heapq.heappop(self._holds)
        return self._in_flight + len(self._holds)

    def _urgent_taken(self, now: float) -> int:
        while self._urgent_holds and self._urgent_holds[0] <= now:
            heapq.heappop(self._urgent_holds)
        return self._urgent_in_flight + len(self._urgent_holds)

    def _fits(self, n: int, now: float, room: int = 0) -> bool:
        taken = self._taken(now)
        # n bigger than the window (an album to a private chat) goes once the window is empty.
        return taken + n <= self.count - room or taken == 0

    def _room(self, urgent: bool, now: float) -> int:
        """Places a caller leaves free: bulk leaves `room` while urgent messages hold some
        (and not their whole share: then the room would stand empty)."""
        if urgent:
            return 0
        return self.room if 0 < self._urgent_taken(now) < self.count - self.reserved else 0

    def _next_up(self) -> _Waiter | None:
        """Who gets the next places: the first urgent caller within its share, else bulk."""
        if self._urgent and (not self._bulk or self._urgent_taken(self.clock())
                             + self._urgent[0].n <= self.count - self.reserved):
            return self._urgent[0]
        if self._bulk:
            return self._bulk[0]
        return None

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

    async def enter(self, n: int = 1, *, urgent: bool = False) -> float:
        """Wait for n places; returns the moment they were taken."""
        me = _Waiter(n, urgent)
        line = self._urgent if urgent else self._bulk
        before = self._next_up()
        line.append(me)
        if before is not None and before is not self._next_up():
            before.woken.set()  # it no longer goes next: let it step back
        try:
            while True:
                me.woken.clear()
                first = self._next_up()
                if first is not me:
                    if first is not None:
                        first.woken.set()  # a share came free while the first slept
                    await me.woken.wait()
                    continue
                now = self.clock()
                if not self._fits(n, now, self._room(urgent, now)):
                    self._answered.clear()
                    await self._until(self._holds[0] if self._holds else None,
                                      self._answered, me.woken)
                    continue
                if self._next > self.clock():
                    await self._until(self._next, me.woken)
                    continue
                break
        except BaseException:
            line.remove(me)
            self._wake_next()
            raise
        line.popleft()
        now = self.clock()
        self._next = max(self._next, now - CATCH_UP * self.spacing) + self.spacing * n
        self._in_flight += n
        if urgent:
            self._urgent_in_flight += n
        self._wake_next()
        return now

    def _wake_next(self) -> None:
        first = self._next_up()
        if first is not None:
            first.woken.set()

    def take(self, n: int = 1) -> float:
        """Take n places without waiting (a reply must not be slowed, but it counts)."""
        self._in_flight += n
        return self.clock()

    def leave(self, departed: float, n: int = 1, *, urgent: bool = False) -> None:
        """Telegram answered the message that left at `departed`."""
        self._in_flight -= n
        free = max(departed + self.stretched, self.clock() + self.seconds)
        for _ in range(n):
            heapq.heappush(self._holds, free)
        if urgent:
            self._urgent_in_flight -= n
            for _ in range(n):
                heapq.heappush(self._urgent_holds, free)
        self._answered.set()

    def left_elsewhere(self, seconds_ago: float) -> None:
        """A message that left that long ago from another process holds its place as if it
        had left here."""
        free = self.clock() - seconds_ago + self.stretched
        if free > self.clock():
            heapq.heappush(self._holds, free)
            self._answered.set()

    def abandon(self, n: int = 1, *, urgent: bool = False) -> None:
        """The places were taken but the message never left."""
        self._in_flight -= n
        if urgent:
            self._urgent_in_flight -= n
        self._answered.set()

    async def _until(self, moment: float | None, *events: asyncio.Event) -> None:
        """Sleep until `moment` (None: no limit), or until one of `events` is set."""
        waits = [asyncio.ensure_future(event.wait()) for event in events]
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
    # The bulk message the chat's line is sending, and the replies that went ahead of it.
    bulk: Bulk | None = None
    overtaken: int = 0
    # When the chat's window is clear of the last bulk message; set once it is answered.
    bulk_clear: float = 0.0
    bulk_answered: asyncio.Event = field(default_factory=asyncio.Event)


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

    Interactive calls (no rate_limit_args) are replies to what someone just did: they take
    the overall window's places before any waiting bulk send (within all but BULK_SHARE
    places), and in a private chat they do not queue behind a bulk message waiting for
    that chat. They wait out a 429 and retry a few times; bulk calls
    (rate_limit_args=Bulk()) get the RetryAfter raised so the dispatcher reschedules the
    notification instead of holding a place. Either way only that chat waits.
    """

    def __init__(self, messages_per_second: float = 30, private_per_second: float = 1,
                 group_per_minute: float = 20, *, safety: float = SAFETY,
                 max_retries: int = INTERACTIVE_RETRIES, replies_first: bool = True,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._window = {"safety": safety, "clock": clock, "sleep": sleep}
        self.overall = SlidingWindow(OVERALL_BURST, OVERALL_BURST / messages_per_second,
                                     spread=True, reserved=BULK_SHARE, room=REPLY_ROOM,
                                     **self._window)
        # Off, replies and bulk sends share one line in call order (a benchmark's baseline).
        self.replies_first = replies_first
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

    @property
    def group_window(self) -> timedelta:
        return timedelta(seconds=self._group_seconds)

    def remember(self, chat: int | str, seconds_ago: float) -> None:
        """A message reached this chat that long ago through another process's pacer (the
        active process before a takeover): it holds a place in the chat's window."""
        if seconds_ago >= 0:
            self._lane(chat).window.left_elsewhere(seconds_ago)

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
                if rate_limit_args is None:  # the outbox counts its own
                    metrics.too_many_requests("reply")
                if rate_limit_args is not None or retries >= self.max_retries:
                    raise
                retries += 1
                log.warning("429 on %s to %s: waiting %.0f s (retry %d of %d)", endpoint,
                            chat, wait, retries, self.max_retries)
                if chat is None:
                    await self.sleep(wait)

    async def _overall(self, weight: int, callback, args, kwargs, bulk: Bulk | None):
        urgent = bulk is None and self.replies_first
        departed = await self.overall.enter(weight, urgent=urgent)
        try:
            return await self._depart(callback, args, kwargs, bulk)
        finally:
            self.overall.leave(departed, weight, urgent=urgent)

    async def _in_chat(self, chat: int | str, weight: int, callback, args, kwargs,
                       bulk: Bulk | None):
        lane = self._lane(chat)
        if bulk is None and is_private(chat) and self.replies_first:
            return await self._reply_in_private(lane, weight, callback, args, kwargs)
        # The chat's lock keeps its messages in order while other chats go on.
        async with lane.lock:
            paced = bulk is not None or not is_private(chat)
            while True:
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
                urgent = bulk is None and self.replies_first
                overtaken, lane.bulk = lane.overtaken, bulk
                try:
                    departed = await self.overall.enter(weight, urgent=urgent)
                except BaseException:
                    lane.window.abandon(weight)
                    lane.bulk = None
                    raise
                if lane.overtaken == overtaken:
                    break
                # A reply went to this chat meanwhile, in this message's place: it waits for
                # the chat's window again.
                self.overall.abandon(weight, urgent=urgent)
                lane.window.abandon(weight)
            try:
                return await self._depart(callback, args, kwargs, bulk)
            finally:
                self.overall.leave(departed, weight, urgent=urgent)
                lane.window.leave(departed, weight)
                if bulk is not None:
                    lane.bulk = None
                    lane.bulk_clear = max(departed + lane.window.stretched,
                                          self.clock() + lane.window.seconds)
                    lane.bulk_answered.set()

    async def _reply_in_private(self, lane: _Lane, weight: int, callback, args, kwargs):
        """A reply in a private chat: not paced per chat, and no turn in the chat's line.

        It goes ahead of a bulk message still waiting to leave for the chat (which then
        waits for the chat's window again), but after one already on its way: Telegram
        would refuse a second message within the chat's second.
        """
        while True:
            await self._wait_until(lane.paused_until)
            if lane.bulk is not None and lane.bulk.departed:
                lane.bulk_answered.clear()
                await lane.bulk_answered.wait()
                continue
            if lane.bulk_clear > self.clock():
                await self._wait_until(lane.bulk_clear)
                continue
            break
        if lane.bulk is not None:
            lane.overtaken += 1
        lane.window.take(weight)
        try:
            departed = await self.overall.enter(weight, urgent=True)
        except BaseException:
            lane.window.abandon(weight)
            raise
        try:
            return await self._depart(callback, args, kwargs, None)
        finally:
            self.overall.leave(departed, weight, urgent=True)
            lane.window.leave(departed, weight)

    @staticmethod
    async def _depart(callback, args, kwargs, bulk: Bulk | None):
        if bulk is not None:
            bulk.departed = True
        return await callback(*args, **kwargs)
