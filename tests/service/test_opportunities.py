"""Opportunities on each backend: creating, duplicates, who sees and moves what, history,
lists and search, and the pipeline's sums."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.config import PipelineConfig
from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.opportunities.pipeline import StageChange
from core.domain.period import Period
from core.opportunities.pipeline import (
    NewCustomer,
    NewOpportunity,
    OpportunityService,
    open_opportunities,
)
from storage.tables import CustomerRow, OpportunityRow, OpportunityStageRow
from tests.example_org import DEFAULTS, SHANGHAI, import_example

DANA, ERIN, WALT, CAROL, LI, SAM, FIONA = 1001, 1002, 1003, 2001, 2002, 2003, 3001
TODAY = date(2026, 11, 26)  # Thursday in Shanghai at the fixed clock's 10:00


@pytest.fixture
async def service(database, clock) -> OpportunityService:
    await import_example(database, clock)
    return OpportunityService(database.uow, clock, DEFAULTS, PipelineConfig())


async def customer_id(database, key: str) -> int:
    async with database.uow(read_only=True) as uow:
        return await uow.session.scalar(select(CustomerRow.id).where(CustomerRow.key == key))


async def create(service, database, account_id=CAROL, title="Cold-chain fleet",
                 amount="120000", customer="harbor-logistics", close=date(2026, 12, 20),
                 **more):
    return await service.create(account_id, NewOpportunity(
        title=title, amount=Decimal(amount), expected_close=close,
        customer_id=await customer_id(database, customer), **more))


async def refused(code: str, call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code
    return caught.value


async def test_a_new_opportunity_starts_as_a_lead_with_its_probability(service, database):
    opp = await create(service, database)
    assert (opp.stage, opp.probability, opp.amount, opp.currency) == (
        "lead", 10, Decimal("120000"), "CNY")
    card = await service.card(CAROL, opp.id)
    assert card.opportunity.customer_name == "Harbor Logistics"
    assert card.opportunity.department_id == card.owner.department_id
    [created] = card.timeline
    assert (created.kind, created.detail["from"], created.detail["to"]) == ("stage", None, "lead")
    assert card.may_change and not card.may_reopen


async def test_a_new_customer_is_created_with_its_site(service, database):
    opp = await service.create(CAROL, NewOpportunity(
        title="Pilot", amount=Decimal("5000"), expected_close=date(2026, 12, 1),
        new_customer=NewCustomer("Lujiazui Foods 陆家嘴", 31.2397, 121.4998)))
    async with database.uow(read_only=True) as uow:
        row = await uow.session.get(CustomerRow, opp.customer_id)
        assert (row.name, row.key, row.lat, row.lon, row.radius_m) == (
            "Lujiazui Foods 陆家嘴", "lujiazui-foods", 31.2397, 121.4998, 200)
    again = await service.create(CAROL, NewOpportunity(
        title="Pilot", amount=Decimal("5000"), expected_close=date(2026, 12, 1),
        new_customer=NewCustomer("Lujiazui Foods", 31.0, 121.0)))
    async with database.uow(read_only=True) as uow:
        assert (await uow.session.get(CustomerRow, again.customer_id)).key == "lujiazui-foods-2"


@pytest.mark.parametrize(("amount", "code"), [
    ("-5", "amount_not_positive"), ("0", "amount_not_positive"),
    ("100000000.01", "opp_amount_too_large")])
async def test_a_negative_or_absurd_amount_is_refused_and_nothing_is_stored(
        service, database, amount, code):
    await refused(code, create(service, database, amount=amount))
    await refused("amount_format", service.read_amount("-"))
    async with database.uow(read_only=True) as uow:
        assert (await uow.session.scalars(select(OpportunityRow))).all() == []


async def test_a_close_date_in_the_past_is_refused_for_an_open_opportunity(service, database):
    await refused("opp_close_in_past", create(service, database, close=date(2026, 11, 25)))
    await refused("opp_close_in_past", service.read_close_date("2026-11-25"))
    assert await service.read_close_date("12-20") == date(2026, 12, 20)
    opp = await create(service, database)
    await refused("opp_close_in_past", service.edit_close_date(CAROL, opp.id, "2026-11-01"))


async def test_a_title_over_200_characters_is_refused(service, database):
    error = await refused("opp_title_too_long", create(service, database, title="x" * 201))
    assert error.params == {"limit": 200}
    assert (await create(service, database, title="y" * 200)).title == "y" * 200


async def test_a_duplicate_open_opportunity_is_refused_with_the_existing_one(service, database):
    first = await create(service, database)
    error = await refused("opportunity_duplicate",
                          create(service, database, account_id=LI, title=" cold-chain  FLEET"))
    assert error.params == {"existing_id": first.id}
    # Another customer, or once the first is closed, the same title is fine.
    await create(service, database, customer="xihu-textiles")
    await service.move(CAROL, first.id, "lost", reason="went with a competitor")
    assert (await create(service, database)).id != first.id


async def test_moving_stages_keeps_history_and_lost_needs_a_reason(service, database, clock):
    opp = await create(service, database)
    clock.advance(days=3)
    card = await service.move(CAROL, opp.id, "proposal", from_stage="lead")
    assert (card.opportunity.stage, card.opportunity.probability) == ("proposal", 50)
    await refused("opp_lost_reason", service.move(CAROL, opp.id, "lost"))
    await refused("opp_changed", service.move(CAROL, opp.id, "negotiation", from_stage="lead"))
    clock.advance(days=2)
    card = await service.move(CAROL, opp.id, "lost", reason="  budget cut ")
    assert card.opportunity.lost_reason == "budget cut"
    assert card.opportunity.closed_at == clock.now()
    assert card.opportunity.probability == 0
    assert [(e.detail["from"], e.detail["to"]) for e in card.timeline] == [
        ("proposal", "lost"), ("lead", "proposal"), (None, "lead")]
    async with database.uow(read_only=True) as uow:
        rows = (await uow.session.scalars(select(OpportunityStageRow).order_by(
            OpportunityStageRow.id))).all()
        assert [(r.to_stage, r.reason) for r in rows] == [
            ("lead", None), ("proposal", None), ("lost", "budget cut")]
        on = await uow.opportunities.stages_on(
            [(opp.id, date(2026, 11, 25)), (opp.id, TODAY), (opp.id, date(2026, 11, 29)),
             (opp.id, date(2026, 12, 31)), (999, TODAY)], SHANGHAI)
    assert on == {(opp.id, date(2026, 11, 25)): None, (opp.id, TODAY): "lead",
                  (opp.id, date(2026, 11, 29)): "proposal", (opp.id, date(2026, 12, 31)): "lost",
                  (999, TODAY): None}


async def test_only_a_manager_above_the_owner_or_an_admin_may_reopen(service, database):
    opp = await create(service, database)
    await service.move(CAROL, opp.id, "won")
    error = await refused("opp_reopen_not_allowed", service.move(CAROL, opp.id, "negotiation"))
    assert isinstance(error, NotAllowed)
    await refused("opp_not_found", service.move(WALT, opp.id, "negotiation"))
    assert (await service.card(ERIN, opp.id)).may_reopen
    card = await service.move(ERIN, opp.id, "negotiation", from_stage="won")
    assert (card.opportunity.stage, card.opportunity.closed_at) == ("negotiation", None)
    assert card.opportunity.probability == 75


async def test_another_departments_opportunity_is_not_found(service, database):
    opp = await create(service, database)
    for account_id in (WALT, SAM, LI):
        await refused("opp_not_found", service.card(account_id, opp.id))
        await refused("opp_not_found", service.move(account_id, opp.id, "qualified"))
        await refused("opp_not_found", service.add_note(account_id, opp.id, "hi"))
    await refused("opp_not_found", service.card(CAROL, opp.id + 1000))
    assert (await service.card(DANA, opp.id)).may_change  # the manager above East
    # Finance sees the deal and its money, but does not work it.
    finance = await service.card(FIONA, opp.id)
    assert finance.opportunity.amount == Decimal("120000") and not finance.may_change
    await refused("opp_read_only", service.edit_amount(FIONA, opp.id, "1"))


async def test_amount_and_notes_are_edited_and_the_timeline_pages(service, database, clock):
    opp = await create(service, database)
    card = await service.edit_amount(CAROL, opp.id, "150,000.50")
    assert card.opportunity.amount == Decimal("150000.50")
    await refused("amount_not_positive", service.edit_amount(CAROL, opp.id, "-1"))
    await refused("opp_note_empty", service.add_note(CAROL, opp.id, " "))
    for n in range(12):
        clock.advance(minutes=5)
        card = await service.add_note(ERIN if n % 2 else CAROL, opp.id, f"note {n}")
    assert card.opportunity.last_activity_at == clock.now()
    assert [e.detail["text"] for e in card.timeline[:2]] == ["note 11", "note 10"]
    assert card.names[card.timeline[0].member_id] == "Erin Zhao"
    assert len(card.timeline) == 10 and card.has_more
    second = await service.card(CAROL, opp.id, page=1)
    assert [e.kind for e in second.timeline] == ["note", "note", "stage", "change"]
    assert second.timeline[-1].detail == {"field": "amount", "from": "120000.00",
                                          "to": "150000.50"}
    assert not second.has_more


async def test_lists_show_mine_or_my_subtree_overdue_first_and_search(service, database, clock):
    late = await create(service, database, title="Forklifts", close=date(2026, 11, 28))
    soon = await create(service, database, title="Scanners", close=date(2026, 12, 5),
                        customer="pudong-medical")
    later = await create(service, database, account_id=LI, title="Cold rooms",
                         close=date(2027, 1, 10), customer="xihu-textiles")
    west = await create(service, database, account_id=SAM, title="Frozen dumplings",
                        close=date(2026, 12, 1), customer="chengdu-foods")
    clock.advance(days=4)  # the forklifts are overdue now
    mine = await service.listed(CAROL)
    assert [o.id for o in mine.items] == [late.id, soon.id] and not mine.owners
    erin = await service.listed(ERIN)
    assert [o.id for o in erin.items] == [late.id, soon.id, later.id]
    assert erin.owners[later.owner_id] == "李伟"
    assert [o.id for o in (await service.listed(DANA)).items] == [
        late.id, west.id, soon.id, later.id]
    assert [o.id for o in (await service.listed(ERIN, search="PUD")).items] == [soon.id]
    assert [o.id for o in (await service.listed(ERIN, search="cold")).items] == [later.id]
    assert (await service.listed(ERIN, search="100%")).items == []
    await service.move(CAROL, soon.id, "qualified")
    assert [o.id for o in (await service.listed(ERIN, stage="qualified")).items] == [soon.id]
    await refused("opp_stage_unknown", service.listed(ERIN, stage="dreaming"))
    async with database.uow(read_only=True) as uow:
        member = await uow.members.by_account_id(CAROL)
        assert [o.id for o in await open_opportunities(uow, member.id)] == [late.id, soon.id]


async def test_the_pipeline_sums_by_stage_with_win_rate_and_days(service, database, clock):
    deals = [await create(service, database, title=f"Deal {n}", amount=amount)
             for n, amount in enumerate(["100", "200.50", "300", "400"])]
    west = await create(service, database, account_id=SAM, title="West", amount="999")
    clock.advance(days=2)
    await service.move(CAROL, deals[0].id, "proposal")
    await service.move(CAROL, deals[1].id, "won")
    await service.move(CAROL, deals[2].id, "lost", reason="price")
    await service.move(SAM, west.id, "won")
    clock.advance(days=4)
    await service.move(CAROL, deals[0].id, "negotiation")
    view = await service.stats(ERIN, Period.parse("2026-Q4"))
    lines = {line.stage: (line.count, line.amount, line.weighted) for line in view.lines}
    assert lines["lead"] == (1, Decimal("400.00"), Decimal("40.00"))
    assert lines["negotiation"] == (1, Decimal("100.00"), Decimal("75.00"))
    assert lines["won"] == (1, Decimal("200.50"), Decimal("200.50"))
    assert lines["lost"] == (1, Decimal("300.00"), Decimal("0.00"))
    assert (view.won, view.lost, view.win_rate) == (1, 1, Decimal("50.0"))
    assert view.days == {"lead": Decimal("2.0"), "proposal": Decimal("4.0")}
    assert [p.name for p in view.people] == ["Carol Lin"]
    assert view.open_total.amount == Decimal("500.00")
    everyone = await service.stats(DANA, Period.parse("2026-Q4"))
    # One line per person with open deals: Sam's only deal is won.
    assert everyone.everyone and [p.name for p in everyone.people] == ["Carol Lin"]
    assert everyone.won == 2
    # Deals closed in another period are left out; open ones stay.
    earlier = await service.stats(ERIN, Period.parse("2026-Q3"))
    assert (earlier.won, earlier.lost) == (0, 0)
    assert sum(line.count for line in earlier.lines) == 2
    finance = await service.stats(FIONA, Period.parse("2026-Q4"))
    assert finance.everyone and finance.open_total == everyone.open_total
    rep = await service.stats(CAROL, Period.parse("2026-Q4"))
    assert rep.people == [] and sum(line.count for line in rep.lines) == 4


async def test_a_stale_version_changes_nothing(service, database):
    opp = await create(service, database)
    async with database.uow() as uow:
        stored = await uow.opportunities.get(opp.id)
        assert await uow.opportunities.update(stored, version=stored.version + 1,
                                              stage=stored.stage) is False
        assert await uow.opportunities.update(stored, version=stored.version,
                                              stage="won") is False
        change = await uow.opportunities.add_change(StageChange(
            opp.id, "lead", "qualified", stored.owner_id, datetime(2026, 11, 27, tzinfo=UTC)),
            day=date(2026, 11, 27))
        assert change.id is not None
        await uow.commit()
    assert (await service.card(CAROL, opp.id)).timeline[0].at == datetime(
        2026, 11, 27, tzinfo=UTC)
    assert timedelta(0) < datetime(2026, 11, 27, tzinfo=UTC) - opp.created_at
    assert NotFound("x").code == "x"
