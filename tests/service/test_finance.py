"""The finance ledger on each backend: paging in decision order, postings, races."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.domain.errors import DomainError, NotFound
from core.domain.expenses.finance import SETTLE
from core.expenses.finance import FinanceService, PostingRequest
from storage.tables import ClaimEventRow, ClaimRow
from tests.api.seed import (
    FIRST_DECISION,
    HARBOR_PROJECT,
    LI,
    add_claims,
    approve_many,
    claim_row,
    seed_org,
)


class NoPhotos:
    def read(self, sha256: str) -> bytes:
        raise FileNotFoundError(sha256)

    def watermark(self, data: bytes, lines: list[str]) -> bytes:
        return data


@pytest.fixture
async def finance(database, clock):
    await seed_org(database)
    return FinanceService(database.uow, clock, NoPhotos())


async def page_through(finance, limit: int, after=None) -> tuple[list[str], object]:
    numbers = []
    while True:
        page = await finance.approved(after, limit)
        numbers += [c.number for c in page.claims]
        after = page.position
        if not page.has_more:
            return numbers, after


async def test_pages_follow_the_decision_order_without_gaps(finance, database):
    numbers = await approve_many(database, 1, 25)
    # Decided at the same instant: the id breaks the tie.
    await add_claims(database, [claim_row(100, FIRST_DECISION + timedelta(seconds=3)),
                                claim_row(101, FIRST_DECISION + timedelta(seconds=3))])
    seen, _ = await page_through(finance, 4)
    expected = [*numbers[:4], "EXP-2026-000100", "EXP-2026-000101", *numbers[4:]]
    assert seen == expected


async def test_only_approved_claims_are_listed(finance, database):
    await add_claims(database, [
        claim_row(1, None, status="draft"), claim_row(2, None, status="pending"),
        claim_row(3, FIRST_DECISION, status="rejected"),
        claim_row(4, FIRST_DECISION, status="withdrawn"),
        claim_row(5, FIRST_DECISION, posted_at=FIRST_DECISION, ledger_ref="GL-1"),
        claim_row(6, FIRST_DECISION, unit=("project", HARBOR_PROJECT)),
        claim_row(7, FIRST_DECISION, member_id=LI, unit=("member", LI))])
    page = await finance.approved(None, 100)
    assert [c.number for c in page.claims] == ["EXP-2026-000005", "EXP-2026-000006",
                                                "EXP-2026-000007"]
    posted, project, personal = page.claims
    assert (posted.ledger_ref, posted.posted_at) == ("GL-1", FIRST_DECISION)
    assert (project.unit_kind, project.unit_key, project.unit_name) == (
        "project", "harbor", "Harbor Logistics rollout")
    assert (personal.member_name, personal.unit_kind, personal.unit_name) == (
        "李娜", "member", "李娜")


async def test_a_claim_waits_until_its_decision_has_settled(finance, database, clock):
    await add_claims(database, [claim_row(1, clock.now() - SETTLE + timedelta(seconds=1))])
    first = await finance.approved(None, 10)
    assert first.claims == [] and first.position is None
    clock.advance(seconds=1)
    assert [c.id for c in (await finance.approved(first.position, 10)).claims] == [1]


async def test_an_approval_committing_late_is_still_delivered(finance, database, clock):
    await approve_many(database, 1, 3, start=clock.now() - timedelta(minutes=10))
    # Decided 3 s before the read but committing after it, while one decided 2 s before the
    # read has committed: a cursor at the later one would skip the earlier one forever.
    await add_claims(database, [claim_row(60, clock.now() - timedelta(seconds=2))])
    seen, position = await page_through(finance, 10)
    await add_claims(database, [claim_row(50, clock.now() - timedelta(seconds=3))])
    clock.advance(seconds=61)
    assert seen == ["EXP-2026-000001", "EXP-2026-000002", "EXP-2026-000003"]
    assert [c.id for c in (await finance.approved(position, 10)).claims] == [50, 60]


async def test_posting_is_idempotent_and_audited(finance, database, clock):
    await approve_many(database, 1, 1)
    posting, changed = await finance.post("EXP-2026-000001", "GL-2026-77", by="ledger")
    assert changed and (posting.ledger_ref, posting.posted_at) == ("GL-2026-77", clock.now())
    clock.advance(minutes=5)
    again, changed = await finance.post("EXP-2026-000001", "GL-2026-77", by="ledger")
    assert (again, changed) == (posting, False)
    with pytest.raises(DomainError) as refused:
        await finance.post("EXP-2026-000001", "GL-OTHER", by="ledger")
    assert refused.value.code == "claim_posted_elsewhere"
    async with database.uow(read_only=True) as uow:
        events = (await uow.session.execute(select(
            ClaimEventRow.action, ClaimEventRow.actor_id, ClaimEventRow.detail))).all()
        claim = (await uow.session.execute(select(
            ClaimRow.posted_at, ClaimRow.ledger_ref, ClaimRow.version))).one()
    assert events == [("posted", None, {"ledger_ref": "GL-2026-77", "token": "ledger"})]
    assert claim == (posting.posted_at, "GL-2026-77", 4)


async def test_only_approved_claims_can_be_posted(finance, database):
    await add_claims(database, [claim_row(1, None, status="pending"),
                                claim_row(2, FIRST_DECISION, status="rejected")])
    for number in ("EXP-2026-000001", "EXP-2026-000002"):
        with pytest.raises(DomainError) as refused:
            await finance.post(number, "GL-1", by="ledger")
        assert refused.value.code == "claim_not_approved"
    with pytest.raises(NotFound):
        await finance.post("EXP-2026-000999", "GL-1", by="ledger")


async def test_a_batch_answers_each_line(finance, database):
    await approve_many(database, 1, 3)
    await finance.post("EXP-2026-000003", "GL-3", by="ledger")
    outcomes = await finance.post_many([
        PostingRequest("EXP-2026-000001", "GL-1"), PostingRequest("EXP-2026-000001", "GL-1"),
        PostingRequest("EXP-2026-000002", "GL-2"), PostingRequest("EXP-2026-000002", "GL-X"),
        PostingRequest("EXP-2026-000003", "GL-Y"), PostingRequest("EXP-2026-000404", "GL-4"),
    ], by="ledger")
    assert [(o.changed, o.error) for o in outcomes] == [
        (True, None), (False, None), (True, None), (False, "claim_posted_elsewhere"),
        (False, "claim_posted_elsewhere"), (False, "claim_not_found")]
    async with database.uow(read_only=True) as uow:
        refs = (await uow.session.execute(
            select(ClaimRow.ledger_ref).order_by(ClaimRow.id))).scalars().all()
    assert refs == ["GL-1", "GL-2", "GL-3"]


@pytest.mark.parametrize("refs", [("GL-A", "GL-A"), ("GL-A", "GL-B")])
async def test_two_postings_at_once_give_one(finance, database, refs):
    await approve_many(database, 1, 1)

    async def post(ref: str):
        try:
            return await finance.post("EXP-2026-000001", ref, by="ledger")
        except DomainError as error:
            return error.code

    results = await asyncio.gather(*(post(ref) for ref in refs))
    async with database.uow(read_only=True) as uow:
        events = (await uow.session.execute(select(ClaimEventRow.action))).scalars().all()
    assert events == ["posted"]
    changed = [r[1] for r in results if isinstance(r, tuple)]
    assert changed.count(True) == 1
    if refs[0] == refs[1]:
        assert changed == [True, False] or changed == [False, True]
    else:
        assert "claim_posted_elsewhere" in results
