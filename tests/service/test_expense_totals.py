"""The kept totals behind /stats follow every submission, decision and stage move: whatever
happens to the claims, they equal the claims summed afresh (on each backend)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update

from bot.org_file import parse_org_file
from core.config import ExpensesConfig, PipelineConfig
from core.domain.errors import DomainError
from core.domain.expenses.claims import ClaimStatus, StepState
from core.domain.expenses.stats import ClaimScope, Dimension, StatusFilter
from core.domain.period import Period
from core.expenses.approvals import route_and_submit, withdraw
from core.opportunities.pipeline import OpportunityService
from core.org.membership import OrgService
from storage.database import Database
from storage.expense_totals import recount
from storage.migrate import upgrade
from storage.tables import ClaimRow, ExpenseTotalRow, OrganizationRow
from tests.example_org import SHANGHAI, example, import_example
from tests.service.test_approvals import DEFAULTS, approvals
from tests.service.test_expense_stats import (
    HARBOR,
    PUDONG,
    XIHU,
    Deal,
    add_claims,
    add_deal,
    staged_claims,
    utc,
)

PERIODS = [Period.parse(p) for p in ("2026-10", "2026-11", "2026-Q4", "2026")]
CATEGORIES = ("travel", "meals", "lodging", "office", "entertainment")
CLAIMANTS = ("carol", "li", "sam", "mei", "erin")
NO_FINANCE_STEP = ExpensesConfig(finance_step=False)


FLEET = Deal("li", "chengdu-foods", "Delivery vans", (("lead", utc(2026, 10, 20, 3, 0)),))
CLINIC = Deal("sam", "pudong-medical", "Clinic fit-out", (
    ("lead", utc(2026, 11, 3, 3, 0)), ("qualified", utc(2026, 11, 25, 15, 30))))


async def ids(database) -> tuple[dict[str, object], dict[str, int]]:
    async with database.uow(read_only=True) as uow:
        return ({m.key: m for m in await uow.members.all()},
                {p.key: p.id for p in await uow.projects.all()})


async def drafts(database, clock, rng: random.Random, deals: list[int], count: int,
                 last_day: date) -> list[int]:
    """Complete drafts of several people, units, categories and deals, some on the days
    the deals move."""
    members, projects = await ids(database)
    rows = []
    for _ in range(count):
        member = members[rng.choice(CLAIMANTS)]
        kind = rng.choice(("department", "department", "project", "member"))
        unit_id = {"department": member.department_id,
                   "project": rng.choice(list(projects.values())), "member": member.id}[kind]
        rows.append(dict(
            member_id=member.id, department_id=member.department_id,
            amount=Decimal(rng.randint(1, 150_000)) / 100, currency="CNY",
            category=rng.choice(CATEGORIES),
            spent_on=last_day - timedelta(days=rng.choice((0, 0, 1, 5, 12, 20, 40))),
            unit_kind=kind, unit_id=unit_id, description="taxi",
            opportunity_id=rng.choice([*deals, None, None]),
            status=str(ClaimStatus.DRAFT), version=1, created_at=clock.now(),
            updated_at=clock.now()))
    async with database.uow() as uow:
        # Only the columns every version since 0005 has (one test starts before 0010).
        claim_ids = [await uow.session.scalar(insert(ClaimRow).values(row)
                                              .returning(ClaimRow.id)) for row in rows]
        await uow.commit()
        return claim_ids


async def submit(database, clock, claim_id: int) -> None:
    """As /expense submits: with the organization's settings (its time zone)."""
    async with database.uow() as uow:
        claim = await uow.approvals.claim(claim_id)
        claimant = await uow.members.get(claim.member_id)
        try:
            await route_and_submit(uow, claim, claimant,
                                   settings=await uow.organization.get(),
                                   config=NO_FINANCE_STEP, now=clock.now(), chat_id=None)
        except DomainError as error:
            assert error.code == "budget_blocked"  # it stays a draft: nothing counts
            return
        await uow.commit()


async def decide(database, clock, claim_id: int, roll: float) -> None:
    """Approve (the current step's approver), reject, withdraw, or leave it pending."""
    async with database.uow(read_only=True) as uow:
        claim = await uow.approvals.claim(claim_id)
        step = next((s for s in await uow.approvals.steps(claim_id)
                     if s.state is StepState.CURRENT), None)
        approver = None if step is None else await uow.members.get(step.approver_id)
    if claim.status is not ClaimStatus.PENDING or approver is None or roll < 0.1:
        return
    service = approvals(database, clock, NO_FINANCE_STEP)
    if roll < 0.6:
        await service.approve(approver.account_id, claim_id, version=claim.version,
                              chat_id=None)
    elif roll < 0.8:
        await service.reject(approver.account_id, claim_id, version=claim.version,
                             reason="not ours", chat_id=None)
    else:
        async with database.uow() as uow:
            author = await uow.members.get(claim.member_id)
            await withdraw(uow, claim, author, now=clock.now(), chat_id=None,
                           config=ExpensesConfig(), settings=DEFAULTS)
            await uow.commit()


async def summed_afresh(database, scope: ClaimScope,
                       zone: ZoneInfo = SHANGHAI) -> dict[Dimension, dict[object, tuple]]:
    """The scope's claims read one by one and summed here, each with its deal's stage on
    its date as the history says."""
    async with database.uow(read_only=True) as uow:
        rows = (await uow.session.execute(select(
            ClaimRow.amount, ClaimRow.category, ClaimRow.unit_kind, ClaimRow.unit_id,
            ClaimRow.member_id, ClaimRow.opportunity_id, ClaimRow.spent_on,
            ClaimRow.department_id).where(
            ClaimRow.spent_on >= scope.period.start, ClaimRow.spent_on < scope.period.end,
            ClaimRow.status.in_(sorted(scope.statuses))))).all()
        rows = [r for r in rows if scope.department_ids is None
                or r.department_id in scope.department_ids]
        stages = await uow.opportunities.stages_on(
            {(r.opportunity_id, r.spent_on) for r in rows if r.opportunity_id}, zone)
    sums: dict[Dimension, dict[object, list]] = {by: defaultdict(lambda: [Decimal(0), 0])
                                                 for by in Dimension}
    for row in rows:
        keys = {Dimension.CATEGORY: row.category,
                Dimension.UNIT: (row.unit_kind, row.unit_id),
                Dimension.MEMBER: row.member_id,
                Dimension.OPPORTUNITY: row.opportunity_id,
                Dimension.STAGE: stages.get((row.opportunity_id, row.spent_on))}
        for by, key in keys.items():
            sums[by][key][0] += row.amount
            sums[by][key][1] += 1
    return {by: {key: tuple(v) for key, v in groups.items()} for by, groups in sums.items()}


async def kept(database, scope: ClaimScope) -> dict[Dimension, dict[object, tuple]]:
    async with database.uow(read_only=True) as uow:
        found = await uow.expense_stats.breakdowns(scope)
    return {by: {s.key: (s.amount, s.count) for s in sums} for by, sums in found.groups.items()}


async def assert_totals_match_the_claims(database, zone: ZoneInfo = SHANGHAI) -> None:
    async with database.uow(read_only=True) as uow:
        departments = {d.key: d.id for d in await uow.departments.all()}
    scopes = [ClaimScope(period, status.statuses, departments_seen)
              for period in PERIODS for status in StatusFilter
              for departments_seen in (None, frozenset({departments["east"]}))]
    for scope in scopes:
        assert await kept(database, scope) == await summed_afresh(database, scope, zone), scope
    async with database.uow(read_only=True) as uow:
        budgets = await uow.budgets.all()
        assert budgets
        used = await uow.expense_stats.committed(budgets)
        for budget in budgets:
            direct = await uow.approvals.usage(budget.unit_kind, budget.unit_id,
                                               budget.category, budget.period.start,
                                               budget.period.end)
            assert used[budget.id] == direct, budget


async def totals_table(database) -> set[tuple]:
    """The kept rows that count something (a group emptied by a decision stays at zero)."""
    async with database.uow(read_only=True) as uow:
        rows = (await uow.session.execute(select(ExpenseTotalRow.__table__))).all()
    return {tuple(row) for row in rows if row.claims}


async def test_totals_follow_submissions_decisions_and_stage_moves(org, clock):
    """Claims submitted before and after their deals move (on both sides of the team's
    midnight), decided in every way; the totals equal the claims at every step, and a
    rebuild from scratch gives the same rows."""
    rng = random.Random(20261126)
    harbor, pudong, xihu = [await add_deal(org, deal) for deal in (HARBOR, PUDONG, XIHU)]
    fleet, clinic = await add_deal(org, FLEET), await add_deal(org, CLINIC)
    deals = [harbor, pudong, xihu, fleet, clinic]
    opportunities = OpportunityService(org.uow, clock, DEFAULTS, PipelineConfig())
    members, _ = await ids(org)
    owner = {xihu: members["carol"], fleet: members["li"], clinic: members["sam"]}
    # 10:00 in Shanghai on 26 November; the last move comes after the local midnight.
    moves = [(xihu, "proposal"), (fleet, "negotiation"), (clinic, "won"), (fleet, "lost")]
    for round_, (deal, stage) in enumerate(moves):
        today = clock.now().astimezone(SHANGHAI).date()
        claims = await drafts(org, clock, rng, deals, 8, today)
        for claim_id in claims:
            await submit(org, clock, claim_id)
        for claim_id in claims[: len(claims) // 2]:
            await decide(org, clock, claim_id, rng.random())
        await opportunities.move(owner[deal].account_id, deal, stage,
                                 reason="price" if stage == "lost" else None)
        for claim_id in claims[len(claims) // 2:]:
            await decide(org, clock, claim_id, rng.random())
        await assert_totals_match_the_claims(org)
        clock.advance(hours=5 if round_ < 2 else 11)
    kept_rows = await totals_table(org)
    async with org.uow() as uow:
        await recount(uow.session, SHANGHAI)
        await uow.commit()
    assert await totals_table(org) == kept_rows
    await assert_totals_match_the_claims(org)


async def test_concurrent_submissions_and_decisions_add_up(database, clock):
    """On PostgreSQL, claims of one month and category submitted and decided at once all
    count: the rows they share queue on their locks, in one order, without deadlock."""
    if database.is_sqlite:
        pytest.skip("SQLite runs one writer at a time")
    await import_example(database, clock)
    rng = random.Random(7)
    today = clock.now().astimezone(SHANGHAI).date()
    claims = await drafts(database, clock, rng, [], 12, today)
    await asyncio.gather(*(submit(database, clock, c) for c in claims))
    await asyncio.gather(*(decide(database, clock, c, 0.3 + 0.5 * (i % 2))
                           for i, c in enumerate(claims)))
    await assert_totals_match_the_claims(database)


async def test_the_migration_sums_the_claims_already_there(tmp_path, clock):
    """A database from before the totals: upgrading works out every claim's stage on its
    date and every total."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await upgrade(url, "0009")
    database = Database.connect(url)
    try:
        # The team's own time zone from the start: today's import needs nothing of 0010.
        await OrgService(database.uow, clock, replace(DEFAULTS, timezone="Asia/Shanghai")
                         ).import_org(parse_org_file(example()))
        harbor = await add_deal(database, HARBOR)
        rng = random.Random(3)
        claims = await drafts(database, clock, rng, [harbor], 10, date(2026, 11, 20))
        async with database.uow() as uow:
            # Submitted and approved as the claim flow did before the totals existed.
            for status, claim_id in zip(("approved", "pending", "rejected", "draft") * 3,
                                        claims, strict=False):
                await uow.session.execute(update(ClaimRow.__table__).where(
                    ClaimRow.id == claim_id).values(status=status))
            assert (await uow.session.scalar(select(OrganizationRow.timezone))) == (
                "Asia/Shanghai")
            await uow.commit()
    finally:
        await database.dispose()
    await upgrade(url)
    database = Database.connect(url)
    try:
        await assert_totals_match_the_claims(database)
        month = ClaimScope(Period.parse("2026-11"), StatusFilter.COMMITTED.statuses)
        assert (await kept(database, month))[Dimension.STAGE]
    finally:
        await database.dispose()


async def test_a_new_time_zone_refiles_the_claims_by_the_day_their_deals_moved(org, clock):
    """Harbor moved to "proposal" at 17:00 UTC on the 14th: still the 14th in UTC, already
    the 15th in Shanghai. When the team's time zone changes, a claim of the 14th moves
    from "lead" to "proposal"."""
    harbor, pudong = await add_deal(org, HARBOR), await add_deal(org, PUDONG)
    await add_claims(org, staged_claims(harbor, pudong, await add_deal(org, XIHU)))
    month = ClaimScope(Period.parse("2026-11"), StatusFilter.COMMITTED.statuses)
    shanghai = (await kept(org, month))[Dimension.STAGE]
    assert (shanghai["lead"], shanghai["proposal"]) == ((Decimal("100.10"), 1),
                                                        (Decimal("200.20"), 1))
    document = example()
    document["org"]["timezone"] = "UTC"
    await OrgService(org.uow, clock, DEFAULTS).import_org(parse_org_file(document))
    in_utc = (await kept(org, month))[Dimension.STAGE]
    assert "lead" not in in_utc
    assert in_utc["proposal"] == (Decimal("300.30"), 2)
    await assert_totals_match_the_claims(org, ZoneInfo("UTC"))
