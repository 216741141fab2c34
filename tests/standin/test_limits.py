"""Flood limits as sliding windows, on a fake monotonic clock."""

from __future__ import annotations

import pytest

from standin.errors import ApiError
from standin.limits import FloodControl, Limits


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def retry_after(call: object) -> int:
    """The retry_after of the 429 raised by call()."""
    with pytest.raises(ApiError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.code == 429
    assert caught.value.description.startswith("Too Many Requests: retry after ")
    return caught.value.parameters["retry_after"]  # type: ignore[index]


def test_private_window_and_retry_after() -> None:
    clock = FakeClock()
    flood = FloodControl(clock)
    limits = Limits(private_per_second=1)
    flood.acquire(limits, 1001, private=True)
    assert retry_after(lambda: flood.acquire(limits, 1001, private=True)) == 1
    flood.acquire(limits, 1002, private=True)  # other chats are unaffected
    clock.now += 1.01
    flood.acquire(limits, 1001, private=True)


def test_private_burst() -> None:
    clock = FakeClock()
    flood = FloodControl(clock)
    limits = Limits(private_per_second=1, private_burst=3)
    for _ in range(3):
        flood.acquire(limits, 1001, private=True)
    assert retry_after(lambda: flood.acquire(limits, 1001, private=True)) == 3


def test_group_per_minute_and_overall() -> None:
    clock = FakeClock()
    flood = FloodControl(clock)
    limits = Limits()
    for _ in range(20):
        flood.acquire(limits, -100, private=False)
        clock.now += 0.5
    # The oldest of the 20 leaves the 60 s window 50 s from now.
    assert retry_after(lambda: flood.acquire(limits, -100, private=False)) == 50
    clock.now += 1
    for chat in range(30):
        flood.acquire(limits, 2000 + chat, private=True)
    assert retry_after(lambda: flood.acquire(limits, 3000, private=True)) == 1


def test_album_counts_each_item_and_edits_skip_the_overall_limit() -> None:
    clock = FakeClock()
    flood = FloodControl(clock)
    limits = Limits(overall_per_second=30)
    flood.acquire(limits, -100, private=False, count=10)
    flood.acquire(limits, -101, private=False, count=10)
    flood.acquire(limits, -102, private=False, count=10)
    with pytest.raises(ApiError):
        flood.acquire(limits, -103, private=False)
    flood.acquire(limits, -103, private=False, overall=False)
    # A whole album may go into an empty private window even if it is larger than it.
    clock.now += 2
    flood.acquire(limits, 1001, private=True, count=10)


def test_scaled_and_switching() -> None:
    scaled = Limits().scaled(60)
    overall, private, group = scaled.windows()
    assert (group.count, group.seconds) == (20, pytest.approx(1.0))
    assert private.seconds == pytest.approx(1 / 60)
    assert overall.count == 30
    assert Limits.from_dict({"group_per_minute": 40, "scale": 2}).group_per_minute == 80
    clock = FakeClock()
    flood = FloodControl(clock)
    flood.acquire(None, 1001, private=True)  # limits off: recorded, never refused
    flood.acquire(None, 1001, private=True)
    with pytest.raises(ApiError):
        flood.acquire(Limits(), 1001, private=True)
