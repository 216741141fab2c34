"""Claims on each backend: drafts written step by step, submit, withdraw, visibility, trips."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from core.config import ExpensesConfig, PipelineConfig
from core.domain.errors import DomainError
from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.claims import ClaimStatus
from core.domain.expenses.drafts import DraftStep
from core.expenses.claims import ExpenseService, TripRefused
from core.opportunities.pipeline import NewOpportunity, OpportunityService
from storage.photos import PhotoStore
from storage.tables import ClaimEventRow, ClaimRow
from tests.example_org import DEFAULTS, import_example
from tests.pictures import jpeg, scene

CAROL, LI, SAM, ERIN, FIONA = 2001, 2002, 2003, 1002, 3001


def service(database, clock, tmp_path) -> ExpenseService:
    return ExpenseService(database.uow, clock, DEFAULTS, ExpensesConfig(),
                          PhotoStore(tmp_path / "photos"))


@pytest.fixture
async def expenses(database, clock, tmp_path):
    await import_example(database, clock)
    return service(database, clock, tmp_path)


async def harbor_renewal(database, clock) -> int:
    """Carol's open opportunity at Harbor Logistics."""
    async with database.uow(read_only=True) as uow:
        harbor = await uow.customers.by_key("harbor-logistics")
    created = await OpportunityService(database.uow, clock, DEFAULTS, PipelineConfig()).create(
        CAROL, NewOpportunity(title="Harbor Logistics renewal", amount=Decimal("80000"),
                              expected_close=date(2026, 12, 20), customer_id=harbor.id))
    return created.id


async def test_guided_draft_is_written_step_by_step_and_survives_a_new_service(
        expenses, database, clock, tmp_path):
    renewal = await harbor_renewal(database, clock)
    view = await expenses.begin(CAROL, "1,234.5", quick=False)
    assert view.step is DraftStep.DESCRIPTION
    view = await expenses.skip(CAROL, view.claim.id, DraftStep.DESCRIPTION, guided=True)
    assert view.step is DraftStep.CATEGORY
    view = await expenses.set_category(CAROL, view.claim.id, "travel", guided=True)
    assert view.step is DraftStep.DATE
    view = await expenses.set_date(CAROL, view.claim.id, "yesterday", guided=True)
    assert view.step is DraftStep.UNIT
    assert [u.kind for u in view.units] == [UnitKind.DEPARTMENT, UnitKind.PROJECT,
                                            UnitKind.MEMBER]
    project = view.units[1]
    view = await expenses.set_unit(CAROL, view.claim.id, project.kind, project.unit_id,
                                   guided=True)
    assert view.step is DraftStep.OPPORTUNITY
    assert view.opportunities == [(renewal, "Harbor Logistics · Harbor Logistics renewal")]
    with pytest.raises(DomainError, match="opportunity_not_offered"):
        await expenses.set_opportunity(CAROL, view.claim.id, renewal + 1)
    view = await expenses.set_opportunity(CAROL, view.claim.id, renewal, guided=True)
    assert view.step is DraftStep.RECEIPT
    # A new service on the same database (a restart) finds the draft where it was left.
    again = service(database, clock, tmp_path)
    draft = await again.latest_draft(CAROL)
    assert draft.amount == Decimal("1234.50") and draft.opportunity_id == renewal
    resumed = await again.resume(CAROL, draft.id)
    assert resumed.step is DraftStep.RECEIPT  # 1,234.50 is above 200


async def test_quick_entry_fills_what_it_can(expenses):
    view = await expenses.begin(CAROL, "120.50 taxi to Harbor Logistics", quick=True)
    claim = view.claim
    assert (claim.amount, claim.category, claim.description, claim.unit_kind) == (
        Decimal("120.50"), "travel", "taxi to Harbor Logistics", UnitKind.DEPARTMENT)
    assert claim.spent_on.isoformat() == "2026-11-26"
    assert view.step is DraftStep.SUMMARY


async def test_bad_input_changes_nothing(expenses, database):
    view = await expenses.begin(CAROL, "45 lunch", quick=True)
    for call, code in [
            (expenses.set_category(CAROL, view.claim.id, "yacht"), "category_unknown"),
            (expenses.set_date(CAROL, view.claim.id, "2026-11-27"), "date_in_future"),
            (expenses.set_amount(CAROL, view.claim.id, "garbage"), "amount_format"),
            (expenses.set_unit(CAROL, view.claim.id, UnitKind.DEPARTMENT, 999),
             "unit_not_offered"),
            (expenses.set_category(SAM, view.claim.id, "travel"), "claim_not_found")]:
        with pytest.raises(DomainError) as refused:
            await call
        assert refused.value.code == code
    with pytest.raises(DomainError, match="not_an_image"):
        await expenses.add_receipt(CAROL, view.claim.id, b"%PDF-1.7", file_id=None,
                                   as_document=True)
    with pytest.raises(DomainError, match="photo_too_big"):
        await expenses.add_receipt(CAROL, view.claim.id, b"\0" * (21 * 1024 * 1024),
                                   file_id=None, as_document=True)
    assert (await expenses.latest_draft(CAROL)).version == view.claim.version


async def test_receipt_is_stored_and_required_above_the_limit(expenses, database, tmp_path):
    view = await expenses.begin(CAROL, "350 hotel", quick=True)
    assert view.step is DraftStep.RECEIPT
    with pytest.raises(DomainError, match="receipt_missing"):
        await expenses.submit(CAROL, view.claim.id)
    data = jpeg(scene(1))
    view = await expenses.add_receipt(CAROL, view.claim.id, data, file_id="f1",
                                      as_document=False)
    assert view.step is DraftStep.SUMMARY and view.claim.receipt_count == 1
    with pytest.raises(DomainError, match="receipt_duplicate"):
        await expenses.add_receipt(CAROL, view.claim.id, data, file_id="f2", as_document=False)
    result = await expenses.submit(CAROL, view.claim.id, chat_id=2001)
    assert result.claim.status is ClaimStatus.PENDING
    assert result.claim.number == f"EXP-2026-{view.claim.id:06d}"


async def filed_with_receipt(expenses, account_id: int, data: bytes):
    view = await expenses.begin(account_id, "350 hotel", quick=True)
    await expenses.add_receipt(account_id, view.claim.id, data, file_id=None,
                               as_document=False)
    return await expenses.submit(account_id, view.claim.id)


async def test_a_receipt_on_anyones_claim_still_claimed_is_a_possible_duplicate(expenses):
    carol = await filed_with_receipt(expenses, CAROL, jpeg(scene(1)))
    assert carol.duplicates == []
    li = await filed_with_receipt(expenses, LI, jpeg(scene(1), quality=70))
    assert li.duplicates == [carol.claim.number]
    await expenses.withdraw(CAROL, carol.claim.id)
    sam = await filed_with_receipt(expenses, SAM, jpeg(scene(1)))
    assert sam.duplicates == [li.claim.number]
    other = await filed_with_receipt(expenses, CAROL, jpeg(scene(2)))
    assert other.duplicates == []


async def test_summary_shows_budget_impact_and_route(expenses, database):
    first = await expenses.begin(LI, "180 taxi", quick=True)
    await expenses.submit(LI, first.claim.id)
    view = await expenses.begin(CAROL, "120 taxi", quick=True)
    summary = await expenses.summary(CAROL, view.claim.id)
    travel = next(i for i in summary.impacts if i.budget.category == "travel")
    assert (travel.used, travel.budget.amount, travel.after) == (
        Decimal("180"), Decimal("10000"), Decimal("300"))
    assert summary.route[0][1] == "Erin Zhao"


async def test_budget_block_is_refused_with_numbers_and_the_draft_kept(expenses, database):
    view = await expenses.begin(CAROL, "1600 lunch with the team", quick=True)
    personal = view.units[-1]  # Carol's own meals budget: 1,500, block
    await expenses.set_unit(CAROL, view.claim.id, personal.kind, personal.unit_id)
    await expenses.add_receipt(CAROL, view.claim.id, jpeg(scene(2)), file_id=None,
                               as_document=False)
    with pytest.raises(DomainError) as refused:
        await expenses.submit(CAROL, view.claim.id)
    assert refused.value.code == "budget_blocked"
    assert refused.value.params["over"] == Decimal("100.00")
    assert (await expenses.latest_draft(CAROL)).status is ClaimStatus.DRAFT


async def test_withdraw_pending_but_not_approved(expenses, database):
    view = await expenses.begin(CAROL, "45 lunch", quick=True)
    await expenses.submit(CAROL, view.claim.id)
    with pytest.raises(DomainError, match="claim_not_found"):
        await expenses.withdraw(SAM, view.claim.id)
    withdrawn = await expenses.withdraw(CAROL, view.claim.id)
    assert withdrawn.status is ClaimStatus.WITHDRAWN
    other = await expenses.begin(CAROL, "46 lunch", quick=True)
    await expenses.submit(CAROL, other.claim.id)
    async with database.uow() as uow:
        await uow.session.execute(update(ClaimRow).where(ClaimRow.id == other.claim.id)
                                  .values(status="approved"))
        await uow.commit()
    with pytest.raises(DomainError) as refused:
        await expenses.withdraw(CAROL, other.claim.id)
    assert refused.value.code == "claim_decided"


async def test_claim_visibility(expenses):
    view = await expenses.begin(CAROL, "45 lunch", quick=True)
    with pytest.raises(DomainError, match="claim_not_found"):
        await expenses.show(ERIN, view.claim.id)  # a draft is its author's alone
    await expenses.submit(CAROL, view.claim.id)
    for who in (CAROL, ERIN, FIONA):
        detail = await expenses.show(who, view.claim.id)
        assert [line.event.action.value for line in detail.history] == ["created", "submitted"]
    for who in (LI, SAM):
        with pytest.raises(DomainError, match="claim_not_found"):
            await expenses.show(who, view.claim.id)


async def test_claims_are_paged_drafts_first(expenses):
    made = []
    for amount in range(11, 18):
        view = await expenses.begin(CAROL, f"{amount} lunch", quick=True)
        made.append(view.claim.id)
        if amount < 16:
            await expenses.submit(CAROL, view.claim.id)
    first = await expenses.my_claims(CAROL)
    assert first.pages == 2
    assert [c.id for c in first.claims] == [made[6], made[5], made[4], made[3], made[2]]
    assert [c.id for c in (await expenses.my_claims(CAROL, 1)).claims] == [made[1], made[0]]


async def test_trip_is_submitted_all_or_nothing(expenses, database):
    trip = await expenses.create_trip(CAROL, "  Hangzhou   fair ")
    assert trip.title == "Hangzhou fair"
    lunch = await expenses.begin(CAROL, "45 lunch", quick=True)
    hotel = await expenses.begin(CAROL, "150 hotel", quick=True)
    for claim_id in (lunch.claim.id, hotel.claim.id):
        await expenses.add_to_trip(CAROL, claim_id, trip.id)
    await expenses.set_amount(CAROL, hotel.claim.id, "350")  # needs a receipt now
    with pytest.raises(TripRefused) as refused:
        await expenses.submit_trip(CAROL, trip.id)
    assert refused.value.claim.id == hotel.claim.id
    assert refused.value.cause.code == "receipt_missing"
    assert {c.status for v in await expenses.trips(CAROL) for c in v.claims} == {
        ClaimStatus.DRAFT}
    with pytest.raises(DomainError, match="trip_not_found"):
        await expenses.submit_trip(SAM, trip.id)
    await expenses.add_receipt(CAROL, hotel.claim.id, jpeg(scene(3)), file_id=None,
                               as_document=False)
    results = await expenses.submit_trip(CAROL, trip.id)
    assert [r.claim.status for r in results] == [ClaimStatus.PENDING, ClaimStatus.PENDING]
    with pytest.raises(DomainError, match="trip_submitted"):
        await expenses.submit_trip(CAROL, trip.id)


async def test_edits_of_filled_fields_are_audited(expenses, database):
    view = await expenses.begin(CAROL, "45 lunch", quick=True)
    await expenses.set_amount(CAROL, view.claim.id, "46")
    async with database.uow(read_only=True) as uow:
        actions = list(await uow.session.scalars(select(ClaimEventRow.action)
                                                 .order_by(ClaimEventRow.id)))
    assert actions == ["created", "edited"]
