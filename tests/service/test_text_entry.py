"""Typed text on each backend: control characters (NUL above all) are never stored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from core.config import ExpensesConfig, PipelineConfig
from core.domain.inbox.reminders import WorkCalendar
from core.domain.schedule.plans import NewItem
from core.expenses.claims import ExpenseService
from core.opportunities.pipeline import NewOpportunity, OpportunityService
from core.schedule.plans import PlanService, WorkLogService
from storage.photos import PhotoStore
from storage.tables import (
    ClaimRow,
    CustomerRow,
    ExpenseReportRow,
    LogEntryRow,
    OpportunityNoteRow,
    OpportunityRow,
    PlanItemRow,
)
from tests.example_org import DEFAULTS

CAROL = 2001
TODAY = date(2026, 11, 26)
FRIDAY = date(2026, 11, 27)
DIRTY = "taxi\x00 to\x1b the\x7f port\x85"


async def column(database, attribute) -> list:
    async with database.uow(read_only=True) as uow:
        return list(await uow.session.scalars(select(attribute)))


async def test_claim_description_and_trip_title_lose_control_characters(org, database, clock,
                                                                        tmp_path):
    expenses = ExpenseService(database.uow, clock, DEFAULTS, ExpensesConfig(),
                              PhotoStore(tmp_path / "photos"))
    quick = await expenses.begin(CAROL, f"45 {DIRTY}", quick=True)
    guided = await expenses.begin(CAROL, "30", quick=False)
    await expenses.set_description(CAROL, guided.claim.id, DIRTY)
    await expenses.create_trip(CAROL, "Hangzhou\x00 fair")
    assert await column(database, ClaimRow.description) == ["taxi to the port"] * 2
    assert quick.claim.description == "taxi to the port"
    assert await column(database, ExpenseReportRow.title) == ["Hangzhou fair"]


async def test_opportunity_texts_and_search_lose_control_characters(org, database, clock):
    service = OpportunityService(database.uow, clock, DEFAULTS, PipelineConfig())
    async with database.uow(read_only=True) as uow:
        harbor = await uow.session.scalar(
            select(CustomerRow.id).where(CustomerRow.key == "harbor-logistics"))
    created = await service.create(CAROL, NewOpportunity(
        title="Cold\x00-chain fleet", amount=Decimal("1000"), expected_close=date(2026, 12, 20),
        customer_id=harbor))
    await service.add_note(CAROL, created.id, DIRTY)
    assert await column(database, OpportunityRow.title) == ["Cold-chain fleet"]
    assert "taxi to the port" in await column(database, OpportunityNoteRow.text)
    found = await service.listed(CAROL, search="Cold\x00")
    assert [o.id for o in found.items] == [created.id]


async def test_plan_items_and_log_entries_lose_control_characters(org, database, clock):
    plans = PlanService(database.uow, clock, DEFAULTS, WorkCalendar())
    logs = WorkLogService(database.uow, clock, DEFAULTS, WorkCalendar())
    await plans.save(CAROL, FRIDAY, [NewItem(DIRTY)])
    await logs.add_unplanned(CAROL, TODAY, DIRTY)
    assert await column(database, PlanItemRow.text) == ["taxi to the port"]
    assert await column(database, LogEntryRow.text) == ["taxi to the port"]
