"""An opportunity's card on each backend: a week of plans, logs, check-ins, photos and claims
in one timeline, newest first, page by page; claim totals as /stats counts them; forged ids
show nothing; plan items and claims linked to a deal only by those who work it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from core.config import ExpensesConfig, PipelineConfig
from core.domain.errors import DomainError, NotFound
from core.domain.inbox.reminders import WorkCalendar
from core.domain.opportunities.pipeline import (
    ClaimTotal,
    OpportunityScope,
    average_days,
    days_per_stage,
)
from core.domain.period import Period
from core.domain.schedule.execution import ItemOutcome
from core.domain.schedule.plans import NewItem
from core.expenses.claims import ExpenseService
from core.expenses.stats import ExpenseStatsService
from core.opportunities.pipeline import NewOpportunity, OpportunityService
from core.schedule.plans import PlanService, WorkLogService
from storage.photos import PhotoStore
from storage.tables import (
    CheckInRow,
    ClaimRow,
    CustomerRow,
    LogEntryRow,
    MemberRow,
    PlanItemRow,
)
from tests.days import checked_in, visit_photo
from tests.example_org import DEFAULTS
from tests.service.test_expense_stats import recount_claims

DANA, ERIN, WALT, CAROL, LI, SAM, FIONA = 1001, 1002, 1003, 2001, 2002, 2003, 3001


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


class Photos:
    """The photo store as the card reads it: the watermark's lines are kept visible."""

    def read(self, sha256: str) -> bytes:
        return sha256.encode()

    def watermark(self, data: bytes, lines: list[str]) -> bytes:
        return data + b"|" + " / ".join(lines).encode()


@pytest.fixture
def service(org, clock) -> OpportunityService:
    return OpportunityService(org.uow, clock, DEFAULTS, PipelineConfig(), Photos())


async def ids(database, table, column) -> dict[str, int]:
    async with database.uow(read_only=True) as uow:
        return dict((await uow.session.execute(select(column, table.id))).all())


async def create(service, database, clock, at: datetime, title="Cold-chain fleet",
                 owner=CAROL):
    clock.moment = at
    customers = await ids(database, CustomerRow, CustomerRow.key)
    return await service.create(owner, NewOpportunity(
        title=title, amount=Decimal("120000"), expected_close=date(2026, 12, 20),
        customer_id=customers["harbor-logistics"]))


async def claim(database, member: str, amount: str, category: str, status: str,
                submitted_at: datetime | None, opportunity_id: int | None,
                spent_on: date = date(2026, 11, 24), number: int = 0) -> None:
    """A claim as the claim flow and the approvals leave it (numbered once submitted)."""
    members = await ids(database, MemberRow, MemberRow.key)
    async with database.uow() as uow:
        department_id = await uow.session.scalar(
            select(MemberRow.department_id).where(MemberRow.id == members[member]))
        uow.session.add(ClaimRow(
            number=f"EXP-2026-{number:06d}" if submitted_at else None,
            member_id=members[member], department_id=department_id, amount=Decimal(amount),
            currency="CNY", category=category, spent_on=spent_on, unit_kind="department",
            unit_id=department_id, description="", opportunity_id=opportunity_id,
            status=status, version=2, created_at=submitted_at or utc(26, 1),
            updated_at=submitted_at or utc(26, 1), submitted_at=submitted_at,
            decided_at=submitted_at if status in ("approved", "rejected") else None))
        await uow.session.flush()
        await recount_claims(uow)
        await uow.commit()


async def log_entry(database, member: str, day: date, text: str, at: datetime,
                    opportunity_id: int | None) -> None:
    members = await ids(database, MemberRow, MemberRow.key)
    async with database.uow() as uow:
        log_id = await uow.work_logs.touch(members[member], day, at, late=False)
        uow.session.add(LogEntryRow(log_id=log_id, text=text, opportunity_id=opportunity_id,
                                    created_at=at))
        await uow.commit()


async def a_week(service, database, clock) -> tuple[int, dict[str, int]]:
    """Monday to Thursday around one deal, with what must stay off its card mixed in."""
    made = {}
    made["before"] = await checked_in(database, "carol", utc(22, 2), customer="harbor-logistics")
    opp = await create(service, database, clock, utc(23, 1))
    plans = PlanService(database.uow, clock, DEFAULTS, WorkCalendar())
    logs = WorkLogService(database.uow, clock, DEFAULTS, WorkCalendar())
    customers = await ids(database, CustomerRow, CustomerRow.key)
    saved = await plans.save(CAROL, date(2026, 11, 24), [
        NewItem("Visit Harbor", None, "10:00", opp.id),
        NewItem("Call Pudong", customers["pudong-medical"], "11:00")])
    assert [i.customer_name for i in saved.items] == ["Harbor Logistics", "Pudong Medical Supplies"]
    made["carol_there"] = await checked_in(database, "carol", utc(24, 2, 5),
                                           customer="harbor-logistics")
    for sha in ("a" * 64, "b" * 64):
        await visit_photo(database, "carol", made["carol_there"], sha)
    made["li_linked"] = await checked_in(database, "li", utc(24, 3), flags="map_picked",
                                         lat=31.25, lon=121.5)
    async with database.uow() as uow:
        await uow.session.execute(update(CheckInRow).where(
            CheckInRow.id == made["li_linked"]).values(opportunity_id=opp.id))
        await uow.commit()
    made["carol_elsewhere"] = await checked_in(database, "carol", utc(24, 4),
                                               customer="pudong-medical")
    clock.moment = utc(24, 10)
    await logs.mark(CAROL, saved.items[0].id, ItemOutcome.DONE)
    await log_entry(database, "carol", date(2026, 11, 25), "Price list sent", utc(25, 3), opp.id)
    await log_entry(database, "carol", date(2026, 11, 24), "Walk-in at Xihu", utc(24, 9), None)
    clock.moment = utc(25, 4)
    await service.add_note(CAROL, opp.id, "They want the cold-chain option")
    clock.moment = utc(25, 5)
    await service.move(CAROL, opp.id, "qualified")
    await claim(database, "carol", "120.50", "travel", "approved", utc(26, 1), opp.id, number=1)
    await claim(database, "carol", "88.00", "meals", "pending", utc(26, 1, 10), opp.id, number=2)
    await claim(database, "carol", "0.10", "travel", "approved", utc(26, 1, 20), opp.id, number=3)
    await claim(database, "carol", "777.77", "travel", "rejected", utc(26, 1, 30), opp.id,
                number=4)
    await claim(database, "carol", "9.99", "meals", "draft", None, opp.id)
    await claim(database, "carol", "55.00", "travel", "approved", utc(26, 1, 40), None,
                spent_on=date(2026, 10, 30), number=5)
    clock.moment = utc(26, 2)
    return opp.id, made


async def every_page(service, account_id: int, opp_id: int) -> list:
    entries, page = [], 0
    while True:
        card = await service.card(account_id, opp_id, page)
        assert card.page == page
        entries += card.timeline
        if not card.has_more:
            return entries
        assert len(card.timeline) == 10
        page += 1


async def test_the_manager_sees_the_whole_week_in_order(service, org, clock):
    opp_id, made = await a_week(service, org, clock)
    entries = await every_page(service, ERIN, opp_id)
    assert [(e.kind, e.at) for e in entries] == [
        ("claim", utc(26, 1, 30)), ("claim", utc(26, 1, 20)), ("claim", utc(26, 1, 10)),
        ("claim", utc(26, 1)), ("stage", utc(25, 5)), ("note", utc(25, 4)),
        ("log", utc(25, 3)), ("check_in", utc(24, 3)), ("check_in", utc(24, 2, 5)),
        ("plan", utc(24, 2)), ("stage", utc(23, 1))]
    claims = [e.detail for e in entries if e.kind == "claim"]
    assert [(c["number"], c["status"], c["amount"]) for c in claims] == [
        ("EXP-2026-000004", "rejected", Decimal("777.77")),
        ("EXP-2026-000003", "approved", Decimal("0.10")),
        ("EXP-2026-000002", "pending", Decimal("88.00")),
        ("EXP-2026-000001", "approved", Decimal("120.50"))]
    [plan] = [e for e in entries if e.kind == "plan"]
    assert (plan.detail["text"], plan.detail["customer"], plan.detail["outcome"],
            plan.detail["verified"]) == ("Visit Harbor", "Harbor Logistics", "done", True)
    li, carol = [e for e in entries if e.kind == "check_in"]
    assert (li.source_id, li.detail["flags"], li.detail["photos"]) == (
        made["li_linked"], ["map_picked"], 0)
    assert li.detail["map"] == "https://maps.google.com/?q=31.250000,121.500000"
    assert (carol.source_id, carol.detail["customer"], carol.detail["flags"],
            carol.detail["photos"]) == (made["carol_there"], "Harbor Logistics", [], 2)
    [log] = [e for e in entries if e.kind == "log"]
    assert log.detail["text"] == "Price list sent"
    card = await service.card(ERIN, opp_id)
    assert card.names[card.timeline[0].member_id] == "Carol Lin"
    assert (card.photos, card.money_visible, card.may_link) == (2, True, True)


async def test_claim_totals_are_what_stats_counts_for_those_claims(service, org, clock):
    opp_id, _ = await a_week(service, org, clock)
    card = await service.card(ERIN, opp_id)
    assert card.claim_totals == [ClaimTotal("travel", 2, Decimal("120.60")),
                                 ClaimTotal("meals", 1, Decimal("88.00"))]
    # In November every approved or pending claim is this deal's: /stats must agree.
    stats = await ExpenseStatsService(org.uow, clock, DEFAULTS, ExpensesConfig()).stats(
        FIONA, Period.parse("2026-11"))
    names = {c.key: c.name for c in ExpensesConfig().categories}
    assert {line.label: (line.count, line.amount) for line in stats.by_category} == {
        names[t.category]: (t.count, t.amount) for t in card.claim_totals}
    [deal_line] = stats.by_opportunity
    assert deal_line.amount == sum(t.amount for t in card.claim_totals) == Decimal("208.60")
    finance = await service.card(FIONA, opp_id)
    assert finance.claim_totals == card.claim_totals and finance.money_visible
    assert not finance.may_change and not finance.may_link


async def test_photos_come_watermarked_with_who_when_and_where(service, org, clock):
    opp_id, _ = await a_week(service, org, clock)
    shown = await service.photos(ERIN, opp_id)
    assert [p.caption for p in shown] == [
        "Carol Lin · 2026-11-24 10:05 (Asia/Shanghai) · Harbor Logistics"] * 2
    assert shown[0].data == b"a" * 64 + b"|Carol Lin / 2026-11-24 10:05 (Asia/Shanghai) / " \
        b"Harbor Logistics"


async def test_another_departments_card_or_album_shows_nothing(service, org, clock):
    opp_id, _ = await a_week(service, org, clock)
    for account_id in (WALT, SAM, LI):
        for call in (service.card(account_id, opp_id), service.card(account_id, opp_id, 1),
                     service.photos(account_id, opp_id)):
            with pytest.raises(NotFound) as caught:
                await call
            assert caught.value.code == "opp_not_found"
    with pytest.raises(NotFound):
        await service.card(ERIN, opp_id + 1000)


async def test_check_ins_count_only_while_the_deal_was_open(service, org, clock):
    opp_id, made = await a_week(service, org, clock)
    clock.moment = utc(26, 3)
    await service.move(CAROL, opp_id, "won")
    after = await checked_in(org, "carol", utc(26, 4), customer="harbor-logistics")
    clock.moment = utc(26, 5)
    seen = {e.source_id for e in await every_page(service, ERIN, opp_id) if e.kind == "check_in"}
    assert seen == {made["li_linked"], made["carol_there"]}
    assert not seen & {made["before"], made["carol_elsewhere"], after}
    assert not (await service.card(CAROL, opp_id)).may_link


async def test_pages_hold_every_entry_once_in_order_even_at_the_same_moment(service, org,
                                                                           clock):
    opp = await create(service, org, clock, utc(20, 1))
    for n in range(23):
        clock.moment = utc(21 + n // 8, 2)  # eight notes share each moment
        await service.add_note(CAROL, opp.id, f"note {n}")
    entries = await every_page(service, ERIN, opp.id)
    assert len(entries) == 24
    assert [e.detail.get("text") for e in entries[:-1]] == [f"note {n}" for n in range(22, -1, -1)]
    assert entries[-1].kind == "stage"
    pages = [len((await service.card(ERIN, opp.id, page)).timeline) for page in range(4)]
    assert pages == [10, 10, 4, 0]
    assert not (await service.card(ERIN, opp.id, 3)).has_more


async def test_plan_items_link_only_to_deals_the_planner_works(service, org, clock):
    opp = await create(service, org, clock, utc(23, 1))
    plans = PlanService(org.uow, clock, DEFAULTS, WorkCalendar())
    for account_id in (WALT, SAM, LI):
        with pytest.raises(NotFound):
            await plans.opportunity(account_id, opp.id)
        with pytest.raises(NotFound):
            await plans.save(account_id, date(2026, 11, 24),
                             [NewItem("Visit Harbor", None, None, opp.id)])
    async with org.uow(read_only=True) as uow:
        assert not (await uow.session.scalars(select(PlanItemRow))).all()
    assert (await plans.opportunity(ERIN, opp.id)).id == opp.id
    assert [d.id for d in await plans.opportunities(CAROL)] == [opp.id]
    await service.move(CAROL, opp.id, "won")
    with pytest.raises(DomainError) as caught:
        await plans.opportunity(CAROL, opp.id)
    assert caught.value.code == "opp_closed"


async def test_a_claim_filed_from_the_card_starts_linked_to_it(service, org, clock, tmp_path):
    opp = await create(service, org, clock, utc(26, 1))
    expenses = ExpenseService(org.uow, clock, DEFAULTS, ExpensesConfig(), PhotoStore(tmp_path))
    assert await expenses.opportunity_label(CAROL, opp.id) == "Harbor Logistics · Cold-chain fleet"
    view = await expenses.begin(CAROL, "268 client lunch", quick=True, opportunity_id=opp.id)
    assert view.claim.opportunity_id == opp.id
    by_manager = await expenses.begin(ERIN, "40 taxi", quick=True, opportunity_id=opp.id)
    assert by_manager.claim.opportunity_id == opp.id
    for account_id in (WALT, SAM, FIONA):
        with pytest.raises(NotFound):
            await expenses.begin(account_id, "12 taxi", quick=True, opportunity_id=opp.id)
    async with org.uow(read_only=True) as uow:
        assert len((await uow.session.scalars(select(ClaimRow))).all()) == 2


async def test_pipeline_days_per_stage_agree_with_the_history_read_whole(service, org, clock):
    """The database sums stays from each move's entered_at; the pure rule pairs the whole
    history: both give the same averages, also for stays begun before the period."""
    deals = [await create(service, org, clock, utc(2 + n, 3), title=f"Deal {n}")
             for n in range(4)]
    for step, stage in enumerate(("qualified", "proposal", "negotiation")):
        for n, deal in enumerate(deals):
            clock.moment = utc(10 + 6 * step + n, 1 + 5 * n, 7 * step)
            await service.move(CAROL, deal.id, stage)
    start, end = utc(12, 0), utc(30, 0)
    async with org.uow(read_only=True) as uow:
        history = [c for deal in deals for c in await uow.opportunities.history(deal.id)]
        stays = await uow.opportunities.stays_ending_between(OpportunityScope(0, None), start,
                                                             end)
    assert average_days(stays) == days_per_stage(history, start, end)
    assert set(average_days(stays)) == {"lead", "qualified", "proposal"}
