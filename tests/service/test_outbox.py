"""The outbox against a real database (SQLite and PostgreSQL): keys, claims, leases, refusals."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from bot.outbox import abandoned_here
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.inbox.notifications import GroupService, OutboxService, publish, publish_many
from storage.tables import NotificationRow
from tests.conftest import FixedClock
from tests.example_org import DEFAULTS, import_example

LEASE = timedelta(seconds=60)


@pytest.fixture
async def people(database, clock) -> dict[str, int]:
    """The example org imported; member ids by key."""
    await import_example(database, clock)
    async with database.uow(read_only=True) as uow:
        return {m.key: m.id for m in await uow.members.all()}


@pytest.fixture
def worker(database, clock):
    def make(name: str) -> OutboxService:
        return OutboxService(database.uow, clock, DEFAULTS, worker=name, lease=LEASE,
                             lease_clock=clock)
    return make


def note(key: str, member_id: int | None = None, *, group_id: int | None = None,
         kind: NotificationKind = NotificationKind.SYSTEM, **payload) -> NewNotification:
    return NewNotification(key=key, kind=kind, member_id=member_id, group_id=group_id,
                           payload=payload or {"text": key})


async def publish_all(database, clock, *news: NewNotification) -> list[int | None]:
    async with database.uow() as uow:
        made = [await publish(uow, new, now=clock.now(), settings=DEFAULTS) for new in news]
        await uow.commit()
    return [n.id if n else None for n in made]


async def rows(database, **where) -> list[SimpleNamespace]:
    """Notification rows as they are stored (plain copies, readable after the session)."""
    columns = NotificationRow.__table__.columns
    async with database.uow(read_only=True) as uow:
        query = select(NotificationRow).filter_by(**where).order_by(NotificationRow.id)
        return [SimpleNamespace(**{c.key: getattr(row, c.key) for c in columns})
                for row in await uow.session.scalars(query)]


def keys(deliveries) -> list[str]:
    return [d.notification.key for d in deliveries]


async def test_publishing_twice_with_one_key_records_one_notification(database, clock, people):
    first = await publish_all(database, clock, note("approval:7:carol", people["carol"]))
    again = await publish_all(database, clock, note("approval:7:carol", people["carol"],
                                                    text="changed"))
    assert first[0] is not None and again == [None]
    [row] = await rows(database)
    assert row.key == "approval:7:carol" and row.payload == {"text": "approval:7:carol"}


async def test_claims_come_oldest_first_one_at_a_time_per_recipient(database, clock, people,
                                                                     worker):
    await publish_all(database, clock, note("a", people["carol"]), note("b", people["li"]),
                      note("c", people["carol"]), note("d", people["sam"]))
    outbox = worker("w1")
    claimed = await outbox.claim(10)
    assert keys(claimed) == ["a", "b", "d"]  # Carol's second waits for her first
    assert [d.chat_id for d in claimed] == [2001, 2002, 2003]
    assert [d.language for d in claimed] == ["en", "zh_Hans", "en"]
    assert await outbox.claim(10) == []
    await outbox.delivered(claimed[0], message_id=11)
    assert keys(await outbox.claim(10)) == ["c"]


async def test_a_notification_waiting_for_a_retry_holds_back_the_later_ones(database, clock,
                                                                            people, worker):
    await publish_all(database, clock, note("first", people["carol"]),
                      note("second", people["carol"]))
    outbox = worker("w1")
    [first] = await outbox.claim(10)
    await outbox.retry(first, after=timedelta(seconds=30), error="timed out")
    assert await outbox.claim(10) == []
    clock.advance(seconds=31)
    assert keys(await outbox.claim(10)) == ["first"]


async def test_a_reminder_held_for_quiet_hours_does_not_hold_back_the_rest(database, clock,
                                                                           people, worker):
    later = NewNotification(key="plan-reminder", kind=NotificationKind.PLAN_REMINDER,
                            member_id=people["carol"], payload={},
                            due_at=clock.now() + timedelta(hours=8))
    await publish_all(database, clock, later, note("decision", people["carol"]))
    assert keys(await worker("w1").claim(10)) == ["decision"]


async def test_two_workers_claiming_at_once_get_disjoint_sets(database, clock, people, worker):
    async with database.uow() as uow:
        await publish_many(uow, [note(f"n{i}", people[key]) for i, key in enumerate(
            ["dana", "erin", "walt", "carol", "li", "sam", "fiona"])], now=clock.now(),
            settings=DEFAULTS)
        await uow.commit()
    first, second = await asyncio.gather(worker("w1").claim(4), worker("w2").claim(4))
    assert set(keys(first)).isdisjoint(keys(second))
    assert sorted(keys(first) + keys(second)) == [f"n{i}" for i in range(7)]


async def test_a_claim_held_open_is_skipped_not_waited_for(database, clock, people, worker):
    if database.is_sqlite:
        pytest.skip("SQLite has one writer at a time: claims cannot overlap")
    await publish_all(database, clock, note("a", people["carol"]), note("b", people["li"]),
                      note("c", people["sam"]))
    async with database.uow() as holding:
        taken = await holding.notifications.claim_due(clock.now(), "w1",
                                                      clock.now() + LEASE, 2)
        # w1's transaction is still open with its rows locked; w2 must not wait for it.
        other = await asyncio.wait_for(worker("w2").claim(10), timeout=5)
        await holding.commit()
    assert [n.key for n in taken] == ["a", "b"]
    assert keys(other) == ["c"]


async def test_an_expired_lease_makes_a_claim_claimable_again(database, clock, people, worker):
    await publish_all(database, clock, note("a", people["carol"]))
    slow, fast = worker("slow"), worker("fast")
    [mine] = await slow.claim(10)
    assert await fast.claim(10) == []
    clock.advance(seconds=61)
    [theirs] = await fast.claim(10)
    assert theirs.notification.id == mine.notification.id


async def test_delivered_by_a_worker_that_lost_its_claim_changes_nothing(database, clock,
                                                                         people, worker):
    await publish_all(database, clock, note("a", people["carol"]))
    slow, fast = worker("slow"), worker("fast")
    [mine] = await slow.claim(10)
    clock.advance(seconds=61)
    [theirs] = await fast.claim(10)
    assert await slow.delivered(mine, message_id=5) is False
    [row] = await rows(database)
    assert (row.state, row.claimed_by, row.message_id) == ("pending", "fast", None)
    assert await fast.delivered(theirs, message_id=6) is True
    [row] = await rows(database)
    assert (row.state, row.message_id, row.sent_version) == ("delivered", 6, 1)


async def test_many_recorded_at_once_only_where_the_claim_was_kept(database, clock, people,
                                                                    worker):
    await publish_all(database, clock, note("a", people["carol"]), note("b", people["li"]))
    slow, fast = worker("slow"), worker("fast")
    first, second = await slow.claim(10)
    async with database.uow() as uow:
        await uow.notifications.revise("b", {"text": "b, revised"})
        await uow.commit()
    clock.advance(seconds=61)
    await fast.claim(1)  # both leases ran out; another worker took "a"
    assert await slow.delivered_many([(first, 11), (second, 12)]) == [False, True]
    a, b = await rows(database)
    assert (a.state, a.claimed_by, a.message_id) == ("pending", "fast", None)
    # "b" was revised while in flight: delivered, and pending again as an edit of message 12.
    assert (b.state, b.sent_version, b.version, b.message_id) == ("pending", 1, 2, 12)


async def test_revised_after_delivery_it_is_sent_again_as_an_edit(database, clock, people,
                                                                   worker):
    await publish_all(database, clock, note("claim:9", people["erin"], text="Claim 9: pending"))
    outbox = worker("w1")
    [delivery] = await outbox.claim(10)
    await outbox.delivered(delivery, message_id=77)
    async with database.uow() as uow:
        await uow.notifications.revise("claim:9", {"text": "Claim 9: approved"})
        await uow.commit()
    [edit] = await outbox.claim(10)
    notification = edit.notification
    assert notification.needs_edit
    assert (notification.chat_id, notification.message_id) == (1002, 77)
    assert notification.payload == {"text": "Claim 9: approved"}
    await outbox.delivered(edit, message_id=77)
    [row] = await rows(database)
    assert (row.state, row.sent_version, row.message_id) == ("delivered", 2, 77)


async def test_a_revision_while_in_flight_is_sent_as_an_edit_afterwards(database, clock, people,
                                                                        worker):
    await publish_all(database, clock, note("claim:9", people["erin"], text="v1"))
    outbox = worker("w1")
    [delivery] = await outbox.claim(10)
    async with database.uow() as uow:
        await uow.notifications.revise("claim:9", {"text": "v2"})
        await uow.commit()
    await outbox.delivered(delivery, message_id=77)
    [edit] = await outbox.claim(10)
    assert edit.notification.needs_edit and edit.notification.payload == {"text": "v2"}


async def test_an_edit_whose_message_was_gone_keeps_the_new_message(database, clock, people,
                                                                     worker):
    await publish_all(database, clock, note("claim:9", people["erin"], text="v1"))
    outbox = worker("w1")
    await outbox.delivered((await outbox.claim(10))[0], message_id=77)
    async with database.uow() as uow:
        await uow.notifications.revise("claim:9", {"text": "v2"})
        await uow.commit()
    await outbox.delivered((await outbox.claim(10))[0], message_id=90)
    [row] = await rows(database)
    assert (row.message_id, row.sent_version) == (90, 2)


async def test_an_unreachable_member_is_skipped_and_told_about_once(database, clock, people,
                                                                    worker):
    await publish_all(database, clock, *(note(f"carol:{i}", people["carol"]) for i in range(3)))
    outbox = worker("w1")
    [first] = await outbox.claim(10)
    refusal = await outbox.unreachable(first, "Forbidden: bot was blocked by the user")
    assert refusal.notified == 2  # Erin (her manager) and Dana (the admin)
    again = await outbox.unreachable(first, "Forbidden: bot was blocked by the user")
    assert again.notified == 0
    await publish_all(database, clock, note("carol:later", people["carol"]))
    carols = await rows(database, member_id=people["carol"])
    assert {r.state for r in carols} == {"skipped"}
    claimed = await outbox.claim(100)
    assert sorted(d.notification.member_id for d in claimed) == sorted(
        [people["erin"], people["dana"]])
    assert {d.notification.payload["event"] for d in claimed} == {"member_unreachable"}
    notices = await rows(database, kind="system")
    assert len([r for r in notices if r.payload.get("event") == "member_unreachable"]) == 2
    async with database.uow(read_only=True) as uow:
        assert not (await uow.members.get(people["carol"])).reachable


async def test_a_group_the_bot_left_is_unbound_and_its_binder_told(database, clock, people,
                                                                   worker):
    groups = GroupService(database.uow, clock, DEFAULTS)
    binding = await groups.bind(1002, -100500, "East team", bot_is_member=True)
    group_id = binding.group.id
    await publish_all(database, clock, note("digest:1", group_id=group_id),
                      note("digest:2", group_id=group_id))
    outbox = worker("w1")
    [delivery] = await outbox.claim(10)
    assert delivery.chat_id == -100500
    refusal = await outbox.unreachable(delivery, "Forbidden: bot was kicked from the group chat")
    assert refusal.notified == 1  # Erin bound it and manages East: told once
    assert await groups.bound(-100500) is None
    assert [r.state for r in await rows(database, group_id=group_id)] == ["skipped", "skipped"]
    [notice] = await outbox.claim(10)
    assert notice.notification.member_id == people["erin"]
    assert notice.notification.payload == {"event": "group_unbound_removed",
                                           "group": "East team"}


async def test_a_digest_skipped_while_unbound_is_sent_when_revised_after_binding_again(
        database, clock, people, worker):
    groups = GroupService(database.uow, clock, DEFAULTS)
    group_id = (await groups.bind(1002, -100500, "East team", bot_is_member=True)).group.id
    await publish_all(database, clock, note("digest:today", group_id=group_id))
    await groups.unbind(1002, -100500)
    assert [r.state for r in await rows(database, group_id=group_id)] == ["skipped"]
    await groups.bind(1002, -100500, "East team", bot_is_member=True)
    async with database.uow() as uow:
        await uow.notifications.revise("digest:today", {"text": "refreshed"})
        await uow.commit()
    [delivery] = await worker("w1").claim(10)
    assert delivery.notification.key == "digest:today"
    assert delivery.notification.payload == {"text": "refreshed"}


async def test_release_hands_back_only_this_workers_claims(database, clock, people, worker):
    await publish_all(database, clock, note("a", people["carol"]), note("b", people["li"]))
    mine, theirs = worker("w1"), worker("w2")
    await mine.claim(1)
    await theirs.claim(1)
    assert await mine.release() == 1
    assert [r.claimed_by for r in await rows(database)] == [None, "w2"]
    assert await mine.release_all() == 1
    assert [r.claimed_by for r in await rows(database)] == [None, None]


async def test_publishing_ten_thousand_at_once_is_idempotent(database, clock, people):
    members = [people[k] for k in ("dana", "erin", "walt", "carol", "li", "sam", "fiona")]
    news = [note(f"fanout:{i}", members[i % len(members)]) for i in range(10_000)]
    async with database.uow() as uow:
        assert await publish_many(uow, news, now=clock.now(), settings=DEFAULTS) == 10_000
        await uow.commit()
    async with database.uow() as uow:
        assert await publish_many(uow, news, now=clock.now(), settings=DEFAULTS) == 0
        await uow.commit()
    async with database.uow(read_only=True) as uow:
        total = await uow.session.scalar(select(func.count()).select_from(NotificationRow))
    assert total == 10_000


async def test_moving_the_teams_clock_does_not_end_a_lease(database, clock, people):
    """Leases are kept in real seconds; a demo or test jumping to the evening frees nothing."""
    await publish_all(database, clock, note("a", people["carol"]))
    real = FixedClock(datetime(2026, 12, 4, 14, 5, tzinfo=UTC))
    slow, fast = (OutboxService(database.uow, clock, DEFAULTS, worker=name, lease=LEASE,
                                lease_clock=real) for name in ("slow", "fast"))
    [mine] = await slow.claim(10)
    clock.advance(hours=9)
    assert await fast.claim(10) == []
    real.advance(seconds=61)
    [theirs] = await fast.claim(10)
    assert theirs.notification.id == mine.notification.id


async def test_a_live_worker_renews_its_claims(database, clock, people, worker):
    await publish_all(database, clock, note("a", people["carol"]))
    slow, fast = worker("slow"), worker("fast")
    await slow.claim(10)
    clock.advance(seconds=50)
    assert await slow.renew() == 1
    clock.advance(seconds=50)
    assert await fast.claim(10) == []  # 100 s after the claim, yet renewed 50 s ago


async def test_a_restarted_process_takes_back_what_its_earlier_life_held(database, clock,
                                                                         people, worker):
    await publish_all(database, clock, note("a", people["carol"]), note("b", people["li"]))
    gone = worker(f"{socket.gethostname()}:{os.getpid()}:earlier")
    elsewhere = worker("another-host:1:abcdef01")
    await gone.claim(1)
    await elsewhere.claim(1)
    restarted = worker(f"{socket.gethostname()}:{os.getpid()}:now")
    assert await restarted.release_abandoned(abandoned_here) == 1
    assert keys(await restarted.claim(10)) == ["a"]  # at once, not after the lease


async def test_a_new_active_process_learns_what_went_to_groups_in_the_last_minute(
        database, clock, people, worker):
    groups = GroupService(database.uow, clock, DEFAULTS)
    group_id = (await groups.bind(1002, -100500, "East team", bot_is_member=True)).group.id
    await publish_all(database, clock, note("digest:1", group_id=group_id),
                      note("to-carol", people["carol"]))
    predecessor = worker("w1")
    for delivery in await predecessor.claim(10):
        await predecessor.delivered(delivery, 77)
    clock.advance(seconds=20)
    assert await worker("w2").recent_group_sends(timedelta(minutes=1)) == [(-100500, 20.0)]
    clock.advance(seconds=60)
    assert await worker("w2").recent_group_sends(timedelta(minutes=1)) == []
