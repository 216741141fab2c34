"""The Pacer's sliding windows and 429 handling, on virtual time (nothing really sleeps)."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from telegram.error import RetryAfter

from bootstrap import metrics
from bot.pacing import BULK_SHARE, CATCH_UP, SAFETY, Bulk, Pacer, Postponed, SlidingWindow
from tests.scrape import samples, value

# PTB warns about retry_after's future type whenever a RetryAfter is made.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class VirtualTime:
    """A clock and a sleep for the Pacer; run() advances time whenever every task waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._order), future))
        await future

    async def run(self, *coroutines):
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(t.done() for t in tasks):
            for _ in range(20):  # let every task run until it sleeps or finishes
                await asyncio.sleep(0)
            while self._sleepers and not all(t.done() for t in tasks):
                moment, _, future = heapq.heappop(self._sleepers)
                if not future.done():  # not a sleep given up meanwhile
                    self.now = max(self.now, moment)
                    future.set_result(None)
                    break
        return [t.result() for t in tasks]


class FakeTelegram:
    """Records when each call reached 'Telegram'; can answer the next calls with a 429."""

    def __init__(self, time: VirtualTime) -> None:
        self.time = time
        self.calls: list[tuple[float, object]] = []
        self.flood_answers = 0

    def call(self, chat: object):
        async def callback() -> dict:
            if self.flood_answers:
                self.flood_answers -= 1
                raise RetryAfter(3)
            self.calls.append((self.time.now, chat))
            return {"ok": True}
        return callback


@pytest.fixture
def time() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def telegram(time) -> FakeTelegram:
    return FakeTelegram(time)


def pacer(time: VirtualTime, **rates) -> Pacer:
    return Pacer(**rates, clock=time.clock, sleep=time.sleep)


def send(pacer: Pacer, telegram: FakeTelegram, chat, *, bulk: Bulk | None = None,
         endpoint: str = "sendMessage"):
    return pacer.process_request(telegram.call(chat), (), {}, endpoint, {"chat_id": chat}, bulk)


def most_in_any_stretch(times: list[float], seconds: float) -> int:
    """The most events in any half-open stretch (t - seconds, t], as Telegram counts them."""
    times = sorted(times)
    return max(sum(1 for u in times if t - seconds < u <= t) for t in times)


async def test_a_place_comes_free_a_window_after_telegram_answered(time):
    window = SlidingWindow(2, 1.0, safety=0.05, clock=time.clock, sleep=time.sleep)
    start = time.now
    first = await window.enter()
    second = await window.enter()
    window.leave(first)  # answered at once: free 1.05 s after it left
    time.now += 0.5
    window.leave(second)  # answered after 0.5 s: free 1 s after that
    assert window.free_at(1) == pytest.approx(start + 1.05)
    assert window.free_at(2) == pytest.approx(start + 1.5)
    [third] = await time.run(window.enter())
    assert third == pytest.approx(start + 1.05)


async def test_thirty_leave_spread_over_a_second_and_the_thirty_first_waits(time, telegram):
    limiter = pacer(time)
    start = time.now
    await time.run(*(send(limiter, telegram, 1000 + i, bulk=Bulk()) for i in range(31)))
    moments = [t for t, _ in telegram.calls]
    assert moments[:CATCH_UP + 1] == [start] * (CATCH_UP + 1)  # no bursts beyond a few
    gaps = [b - a for a, b in itertools.pairwise(moments[CATCH_UP:30])]
    assert gaps == pytest.approx([1 / 30] * len(gaps))
    assert moments[30] == pytest.approx(start + 1 + SAFETY)


async def test_no_second_ever_holds_more_than_thirty_nor_fewer(time, telegram):
    limiter = pacer(time)
    await time.run(*(send(limiter, telegram, 1000 + i, bulk=Bulk()) for i in range(200)))
    moments = [t for t, _ in telegram.calls]
    assert most_in_any_stretch(moments, 1.0) == 30
    # ... and no slower than the windows allow: each place is taken again as it comes free.
    assert [b - a for a, b in zip(moments, moments[30:], strict=False)] == pytest.approx(
        [1 + SAFETY] * 170)


async def test_a_group_gets_twenty_a_minute(time, telegram):
    limiter = pacer(time)
    await time.run(*(send(limiter, telegram, -100123) for _ in range(45)))
    moments = [t for t, _ in telegram.calls]
    assert most_in_any_stretch(moments, 60.0) == 20
    assert moments[20] - moments[0] == pytest.approx(60 * (1 + SAFETY))


async def test_a_groups_sends_from_another_process_count_in_its_minute(time, telegram):
    """After a takeover: the predecessor sent a group 20 messages in the last 50 s."""
    limiter = pacer(time)
    for seconds_ago in range(50, 10, -2):
        limiter.remember(-100123, seconds_ago)
    limiter.remember(-100999, 300)  # long enough ago to be out of any window
    started = time.now
    await time.run(*(send(limiter, telegram, chat) for chat in (-100123, -100999)))
    waited = {chat: t - started for t, chat in telegram.calls}
    assert waited[-100999] == 0
    # The first place comes free a minute after the oldest of the predecessor's sends.
    assert waited[-100123] == pytest.approx(60 * (1 + SAFETY) - 50)


async def test_replies_in_a_private_chat_are_not_slowed(time, telegram):
    limiter = pacer(time)
    start = time.now
    await send(limiter, telegram, 2001)
    await send(limiter, telegram, 2001, endpoint="editMessageText")
    await limiter.process_request(telegram.call(None), (), {}, "answerCallbackQuery", {}, None)
    assert [t for t, _ in telegram.calls] == [start, start, start]


async def test_bulk_sends_to_one_private_chat_go_one_a_second(time, telegram):
    limiter = pacer(time)
    start = time.now
    await time.run(*(send(limiter, telegram, 2001, bulk=Bulk()) for _ in range(3)))
    gap = 1 + SAFETY
    assert [t for t, _ in telegram.calls] == pytest.approx([start, start + gap, start + 2 * gap])


async def test_the_next_message_to_a_chat_waits_from_telegrams_answer(time, telegram):
    limiter = pacer(time)
    start = time.now

    async def slow_answer() -> dict:
        telegram.calls.append((time.now, 2001))
        await time.sleep(0.4)  # the request may have reached Telegram only just now
        return {"ok": True}

    bulk = {"chat_id": 2001}
    await time.run(limiter.process_request(slow_answer, (), {}, "sendMessage", bulk, Bulk()),
                   limiter.process_request(slow_answer, (), {}, "sendMessage", bulk, Bulk()))
    assert [t for t, _ in telegram.calls] == pytest.approx([start, start + 0.4 + 1])


async def test_a_waiting_chat_does_not_hold_up_the_others(time, telegram):
    limiter = pacer(time)
    start = time.now
    await time.run(send(limiter, telegram, 2001, bulk=Bulk()),
                   send(limiter, telegram, 2001, bulk=Bulk()),
                   send(limiter, telegram, 2002, bulk=Bulk()),
                   send(limiter, telegram, -100123, bulk=Bulk()))
    arrived = {chat: t for t, chat in reversed(telegram.calls)}
    assert arrived[2002] == start and arrived[-100123] == start


async def test_the_rates_scale_like_the_stand_ins_limits(time, telegram):
    limiter = pacer(time, messages_per_second=300, private_per_second=10, group_per_minute=200)
    await time.run(*(send(limiter, telegram, 1000 + i, bulk=Bulk()) for i in range(61)))
    moments = [t for t, _ in telegram.calls]
    assert most_in_any_stretch(moments, 0.1) == 30
    assert moments[-1] - moments[0] == pytest.approx(0.2 * (1 + SAFETY))


async def test_an_interactive_429_is_waited_out_and_retried(time, telegram):
    limiter = pacer(time)
    telegram.flood_answers = 1
    start = time.now
    await time.run(send(limiter, telegram, 2001))
    assert telegram.calls == [(start + 3, 2001)]
    assert limiter.too_many_requests == 1


async def test_interactive_retries_are_bounded(time, telegram):
    limiter = pacer(time, max_retries=2)
    telegram.flood_answers = 5
    with pytest.raises(RetryAfter):
        await time.run(send(limiter, telegram, 2001))
    assert limiter.too_many_requests == 3 and telegram.calls == []


def replies_refused() -> float:
    page = samples(generate_latest(metrics.REGISTRY).decode())
    return value(page, "crmbot_too_many_requests_total", sender="reply")


async def test_each_429_to_a_reply_is_counted_on_the_metrics_page(time, telegram):
    limiter = pacer(time)
    telegram.flood_answers = 2
    before = replies_refused()
    await time.run(send(limiter, telegram, 2001))
    assert replies_refused() - before == 2


async def test_a_bulk_429_is_raised_and_pauses_only_that_chat(time, telegram):
    limiter = pacer(time)
    telegram.flood_answers = 1
    bulk = Bulk()
    with pytest.raises(RetryAfter):
        await send(limiter, telegram, 2001, bulk=bulk)
    assert bulk.departed
    start = time.now
    await time.run(send(limiter, telegram, 2001), send(limiter, telegram, 2002))
    arrived = {chat: t for t, chat in telegram.calls}
    assert arrived == {2002: start, 2001: start + 3}


async def test_a_bulk_send_that_would_wait_too_long_is_postponed_unsent(time, telegram):
    limiter = pacer(time)
    await time.run(*(send(limiter, telegram, -100123) for _ in range(20)))
    bulk = Bulk(max_wait=30)
    with pytest.raises(Postponed) as postponed:
        await send(limiter, telegram, -100123, bulk=bulk)
    first = telegram.calls[0][0]
    assert postponed.value.seconds == pytest.approx(first + 60 * (1 + SAFETY) - time.now)
    assert not bulk.departed and len(telegram.calls) == 20


# --- replies before bulk sends ------------------------------------------------------------


def at(time: VirtualTime, moment: float, coroutine):
    """Start `coroutine` at virtual `moment`."""
    async def later():
        await time.sleep(moment - time.now)
        return await coroutine
    return later()


def fan_out(limiter: Pacer, telegram: FakeTelegram, count: int, first: int = 100_000):
    return [send(limiter, telegram, first + i, bulk=Bulk()) for i in range(count)]


@pytest.mark.parametrize("replies_first", [True, False])
async def test_a_reply_goes_before_the_bulk_sends_queued_ahead_of_it(time, telegram,
                                                                     replies_first):
    limiter = pacer(time, replies_first=replies_first)
    start = time.now
    asked = start + 1.5  # the window is full and over 200 bulk sends wait
    await time.run(*fan_out(limiter, telegram, 300),
                   at(time, asked, send(limiter, telegram, 2001)))
    arrived = {chat: t for t, chat in telegram.calls}
    bulk_after = sum(1 for t, chat in telegram.calls if chat != 2001 and t > arrived[2001])
    if replies_first:
        # It waited only for the next place to come free, one spacing of the window.
        assert arrived[2001] - asked <= 1 / 30 + 1e-9
        assert bulk_after > 200
    else:  # the baseline: in call order, behind every bulk send that asked first
        assert arrived[2001] - asked > 5
        assert bulk_after == 0


async def test_a_reply_goes_ahead_of_a_bulk_message_still_waiting_for_its_chat(time, telegram):
    limiter = pacer(time)
    start = time.now
    asked = start + 1.5
    # 2001's notice is among 300 queued for the overall window when 2001 checks in, due to
    # leave a moment after the reply.
    notices = [*fan_out(limiter, telegram, 50), send(limiter, telegram, 2001, bulk=Bulk()),
               *fan_out(limiter, telegram, 249, first=200_000)]
    await time.run(*notices, at(time, asked, send(limiter, telegram, 2001)))
    reply, notice = [t for t, chat in telegram.calls if chat == 2001]
    assert reply - asked <= 1 / 30 + 1e-9
    assert notice >= reply + 1 + SAFETY  # the chat's second is kept
    assert len(telegram.calls) == 301


async def test_a_reply_waits_out_the_chats_second_after_a_bulk_message_left(time, telegram):
    limiter = pacer(time)
    start = time.now
    await time.run(send(limiter, telegram, 2001, bulk=Bulk()),
                   at(time, start + 0.5, send(limiter, telegram, 2001, endpoint="editMessageText")))
    assert [t - start for t, _ in telegram.calls] == pytest.approx([0, 1 + SAFETY])


async def test_bulk_sends_share_the_window_with_a_steady_stream_of_replies(time, telegram):
    limiter = pacer(time)
    start = time.now
    replies = [at(time, start + i / 10, send(limiter, telegram, 2000 + i)) for i in range(100)]
    await time.run(*fan_out(limiter, telegram, 400), *replies)
    bulk = [t for t, chat in telegram.calls if chat >= 100_000]
    reply = {chat: t for t, chat in telegram.calls if chat < 100_000}
    # 10 replies a second each go at once (within a spacing), and bulk takes the other 20.
    assert max(t - (start + (chat - 2000) / 10) for chat, t in reply.items()) <= 1 / 30 + 1e-9
    during = sum(1 for t in bulk if t < start + 10)
    assert 19 * 10 <= during <= 20 * 10 + CATCH_UP + 1
    assert most_in_any_stretch([t for t, _ in telegram.calls], 1.0) == 30


async def test_bulk_still_progresses_when_replies_alone_would_fill_the_window(time, telegram):
    limiter = pacer(time)
    start = time.now
    # 50 replies a second for 10 s: more than Telegram takes from the bot altogether.
    replies = [at(time, start + i / 50, send(limiter, telegram, 2000 + i)) for i in range(500)]
    await time.run(*fan_out(limiter, telegram, 100), *replies)
    bulk = [t for t, chat in telegram.calls if chat >= 100_000]
    moments = [t for t, _ in telegram.calls]
    assert most_in_any_stretch(moments, 1.0) == 30
    # Bulk keeps its share of the window: BULK_SHARE of every 30 places.
    assert sum(1 for t in bulk if t < start + 10) >= BULK_SHARE * 9
    assert len(telegram.calls) == 600


mixes = st.lists(
    st.tuples(st.floats(0, 3, allow_nan=False),          # when it is asked for
              st.booleans(),                              # bulk, or a reply
              st.integers(0, 40),                         # the chat (a few repeat)
              st.floats(0, 0.4, allow_nan=False),         # how long Telegram takes to answer
              st.sampled_from([1, 1, 1, 3])),             # messages (an album of 3)
    min_size=1, max_size=150)


@settings(max_examples=60)
@given(mixes)
def test_no_mix_of_replies_and_bulk_ever_exceeds_the_window(mix):
    time = VirtualTime()
    limiter = pacer(time)
    start = time.now
    arrivals: list[tuple[float, int, bool]] = []
    requests: list[tuple[float, int, bool]] = []

    def call(chat: int, latency: float, weight: int, is_bulk: bool):
        async def callback() -> dict:
            arrivals.extend([(time.now, chat, is_bulk)] * weight)
            requests.append((time.now, chat, is_bulk))
            await time.sleep(latency)
            return {"ok": True}
        return callback

    def request(moment, is_bulk, chat, latency, weight):
        endpoint, data = "sendMessage", {"chat_id": 3000 + chat}
        if weight > 1:
            endpoint, data["media"] = "sendMediaGroup", [{}] * weight
        return at(time, start + moment, limiter.process_request(
            call(3000 + chat, latency, weight, is_bulk), (), {}, endpoint, data,
            Bulk() if is_bulk else None))

    asyncio.run(time.run(*(request(*item) for item in mix)))
    assert len(arrivals) == sum(item[4] for item in mix)  # everything went, nothing twice
    assert most_in_any_stretch([t for t, _, _ in arrivals], 1.0) <= 30
    for chat in {c for _, c, b in requests if b}:  # a chat's second around a bulk send is kept
        sent = sorted((t, b) for t, c, b in requests if c == chat)
        assert all(later - earlier >= 1 for (earlier, bulk), (later, next_bulk)
                   in itertools.pairwise(sent) if bulk or next_bulk)
