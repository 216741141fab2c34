"""The record of inbound updates (SQLite and PostgreSQL): kept until handled, repeats known."""

from __future__ import annotations

from core.inbound import InboundService


def update(update_id: int, text: str = "/help") -> tuple[int, dict]:
    return update_id, {"update_id": update_id, "message": {"text": text}}


async def test_an_update_delivered_again_is_recognised(database, clock):
    inbound = InboundService(database.uow, clock)
    assert await inbound.received([update(7), update(8)]) == {7, 8}
    assert await inbound.received([update(8), update(9)]) == {9}
    assert [i for i, _ in await inbound.unhandled()] == [7, 8, 9]


async def test_handled_updates_are_forgotten_once_acknowledged(database, clock):
    inbound = InboundService(database.uow, clock)
    await inbound.received([update(7), update(8), update(9)])
    await inbound.handled([7, 9])
    assert [(i, p["message"]["text"]) for i, p in await inbound.unhandled()] == [(8, "/help")]
    await inbound.received([], acknowledged_below=10)
    # 8 was never handled: it stays to be handled at the next start; 7 and 9 are gone.
    assert await inbound.received([update(7), update(9)]) == {7, 9}


async def test_a_webhooks_handled_updates_are_forgotten_after_a_day(database, clock):
    inbound = InboundService(database.uow, clock)
    await inbound.received([update(7)])
    await inbound.handled([7])
    clock.advance(hours=23)
    assert await inbound.received([update(7)]) == set()
    clock.advance(hours=2)
    await inbound.received([])
    assert await inbound.received([update(7)]) == {7}


async def test_a_large_batch_is_recorded_in_one_go(database, clock):
    inbound = InboundService(database.uow, clock)
    batch = [update(i) for i in range(1, 1001)]
    assert len(await inbound.received(batch)) == 1000
