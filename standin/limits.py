"""Telegram's flood limits as sliding windows over a monotonic clock."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from standin.errors import too_many_requests

# History is kept this long when limits are off, so switching them on mid-run sees
# the recent traffic the way Telegram would.
_IDLE_HORIZON = 60.0


@dataclass(frozen=True)
class Window:
    """At most `count` events in any `seconds`-long stretch."""

    count: int
    seconds: float


@dataclass(frozen=True)
class Limits:
    """Telegram's published bot limits; every rate can be scaled for fast benchmarks.

    overall: messages per second across all chats; private: per private chat, with a
    burst allowance (burst messages per burst/rate seconds); group: per group per minute.
    """

    overall_per_second: float = 30.0
    private_per_second: float = 1.0
    group_per_minute: float = 20.0
    private_burst: int = 1
    overall_burst: int | None = None
    group_burst: int | None = None

    def scaled(self, factor: float) -> Limits:
        """The same limits with every rate multiplied by factor (bursts unchanged)."""
        if factor <= 0:
            raise ValueError("scale factor must be positive")
        overall, _, group = self.windows()
        return replace(
            self,
            overall_per_second=self.overall_per_second * factor,
            private_per_second=self.private_per_second * factor,
            group_per_minute=self.group_per_minute * factor,
            overall_burst=overall.count,
            group_burst=group.count,
        )

    def windows(self) -> tuple[Window, Window, Window]:
        """(overall, per private chat, per group) windows."""
        overall_count = self.overall_burst or max(1, round(self.overall_per_second))
        group_count = self.group_burst or max(1, round(self.group_per_minute))
        private_count = max(1, self.private_burst)
        return (
            Window(overall_count, overall_count / self.overall_per_second),
            Window(private_count, private_count / self.private_per_second),
            Window(group_count, group_count * 60.0 / self.group_per_minute),
        )

    @classmethod
    def from_dict(cls, data: dict[str, float | int | None]) -> Limits:
        """Build from a JSON object (control API); `scale` multiplies every rate."""
        fields = {k: v for k, v in data.items() if k != "scale" and v is not None}
        limits = cls(**fields)  # type: ignore[arg-type]
        scale = data.get("scale")
        return limits.scaled(float(scale)) if scale else limits

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-friendly form."""
        return {
            "overall_per_second": self.overall_per_second,
            "private_per_second": self.private_per_second,
            "group_per_minute": self.group_per_minute,
            "private_burst": self.private_burst,
            "overall_burst": self.overall_burst,
            "group_burst": self.group_burst,
        }


class FloodControl:
    """Remembers when messages went out and refuses the ones over the limits."""

    def __init__(self, now: Callable[[], float] = time.monotonic):
        self.now = now
        self._overall: deque[float] = deque()
        self._chats: dict[int, deque[float]] = {}

    def acquire(
        self,
        limits: Limits | None,
        chat_id: int,
        *,
        private: bool,
        count: int = 1,
        overall: bool = True,
    ) -> None:
        """Record `count` messages to chat_id, or raise 429 without recording anything."""
        now = self.now()
        chat_history = self._chats.setdefault(chat_id, deque())
        if limits is not None:
            overall_window, private_window, group_window = limits.windows()
            chat_window = private_window if private else group_window
            waits = [_wait(chat_history, chat_window, count, now)]
            if overall:
                waits.append(_wait(self._overall, overall_window, count, now))
            longest = max(waits)
            if longest > 0:
                raise too_many_requests(max(1, math.ceil(longest)))
        chat_history.extend([now] * count)
        if overall:
            self._overall.extend([now] * count)
        horizon = _IDLE_HORIZON
        if limits is not None:
            horizon = max(w.seconds for w in limits.windows())
        _prune(chat_history, now - horizon)
        _prune(self._overall, now - horizon)


def _prune(history: deque[float], before: float) -> None:
    """Forget events older than `before`."""
    while history and history[0] <= before:
        history.popleft()


def _wait(history: deque[float], window: Window, count: int, now: float) -> float:
    """Seconds until `count` more events fit in window (0 if they fit now)."""
    recent = [t for t in history if t > now - window.seconds]
    # A batch bigger than the window (a 10-photo album in a private chat) may go
    # once the window is empty rather than never.
    excess = len(recent) + count - window.count
    if excess <= 0 or not recent:
        return 0.0
    excess = min(excess, len(recent))
    return recent[excess - 1] + window.seconds - now
