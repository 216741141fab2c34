"""The open deals' sums /pipeline reads are kept with every change of a deal: after any
sequence of creations, moves, reopenings, edits and refused presses they equal the
opportunities summed afresh, on each backend; the migration sums the deals already there."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from core.config import PipelineConfig
from core.domain.errors import DomainError
from core.domain.money import CENT
from core.domain.opportunities.pipeline import (
    OpportunityScope,
    StageChange,
    average_days,
    days_per_stage,
    weighted_amount,
)
from core.domain.period import Period
from core.opportunities.pipeline import NewOpportunity, OpportunityService
from storage import pipeline_counts
from storage.database import Database
from storage.migrate import upgrade
from storage.tables import (
    CustomerRow,
    DepartmentRow,
    MemberRow,
    OpportunityRow,
    OpportunityStageRow,
    PipelineClosedRow,
    PipelineCountRow,
    PipelineStayRow,
)
from tests.example_org import DEFAULTS, import_example

DANA, ERIN, WALT, CAROL, LI, SAM, FIONA = 1001, 1002, 1003, 2001, 2002, 2003, 3001
OWNERS = (CAROL, LI, SAM, ERIN)
# Who presses: the owner, the manager above, the admin, someone who may not.
PRESSERS = {CAROL: (CAROL, ERIN, DANA, SAM), LI: (LI, ERIN, DANA, WALT),
            SAM: (SAM, WALT, DANA, CAROL), ERIN: (ERIN, DANA, FIONA)}
STAGES = ("lead", "qualified", "proposal", "negotiation", "won", "lost")
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def service(database, clock) -> OpportunityService:
    await import_example(database, clock)
    return OpportunityService(database.uow, clock, DEFAULTS, PipelineConfig())


async def kept(database) -> dict[tuple[int, int, str], tuple[int, int, int]]:
    """The kept rows that hold any deal."""
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.execute(select(PipelineCountRow))
        return {(r.department_id, r.owner_id, r.stage): (r.deals, r.amount, r.weighted)
                for (r,) in rows if r.deals}


async def deals(database) -> list:
    """Every opportunity's figures, as stored."""
    deal = OpportunityRow
    async with database.uow(read_only=True) as uow:
        return list(await uow.session.execute(select(
            deal.department_id, deal.owner_id, deal.stage, deal.amount, deal.probability,
            deal.closed_at)))


async def summed_afresh(database) -> dict[tuple[int, int, str], tuple[int, int, int]]:
    """Every open deal added up in Python, one by one."""
    sums: dict[tuple[int, int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for deal in await deals(database):
        if deal.closed_at is None:
            cents = int(deal.amount / CENT)
            line = sums[(deal.department_id, deal.owner_id, deal.stage)]
            line[0] += 1
            line[1] += cents
            line[2] += cents * deal.probability
    return {key: tuple(line) for key, line in sums.items()}


async def history(database) -> list[tuple[StageChange, int, int]]:
    """Every move with its deal's owner and department."""
    moves, deal = OpportunityStageRow, OpportunityRow
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.execute(
            select(moves.id, moves.opportunity_id, moves.from_stage, moves.to_stage, moves.at,
                   deal.owner_id, deal.department_id)
            .join(deal, deal.id == moves.opportunity_id))
        return [(StageChange(opportunity_id, from_stage, to_stage, 0, at, id=move_id),
                 owner_id, department_id)
                for move_id, opportunity_id, from_stage, to_stage, at, owner_id, department_id
                in rows]


async def kept_stays(database) -> dict[tuple[date, int, str], tuple[int, int]]:
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.execute(select(PipelineStayRow))
        return {(r.day, r.department_id, r.stage): (r.stays, r.milliseconds) for (r,) in rows}


async def stays_afresh(database) -> dict[tuple[date, int, str], tuple[int, int]]:
    """Each stay that ended, paired from the history in the order of (moment, id), added to
    the UTC day it ended."""
    by_deal: dict[int, list[tuple[StageChange, int]]] = defaultdict(list)
    for change, _, department_id in await history(database):
        by_deal[change.opportunity_id].append((change, department_id))
    sums: dict[tuple[date, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for moves in by_deal.values():
        moves.sort(key=lambda m: (m[0].at, m[0].id))
        for (entered, _), (left, department_id) in pairwise(moves):
            line = sums[(left.at.astimezone(UTC).date(), department_id, entered.to_stage)]
            line[0] += 1
            line[1] += (left.at - entered.at) // timedelta(milliseconds=1)
    return {key: tuple(line) for key, line in sums.items()}


async def kept_closed(database) -> dict[tuple[date, int, str], tuple[int, int, int]]:
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.execute(select(PipelineClosedRow))
        return {(r.day, r.department_id, r.stage): (r.deals, r.amount, r.weighted)
                for (r,) in rows if r.deals}


async def closed_afresh(database) -> dict[tuple[date, int, str], tuple[int, int, int]]:
    sums: dict[tuple[date, int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for department_id, _, stage, amount, probability, closed_at in await deals(database):
        if closed_at is not None:
            cents = int(amount / CENT)
            line = sums[(closed_at.astimezone(UTC).date(), department_id, stage)]
            line[0] += 1
            line[1] += cents
            line[2] += cents * probability
    return {key: tuple(line) for key, line in sums.items()}


async def assert_counts_match_the_deals(database) -> None:
    assert await kept(database) == await summed_afresh(database)
    assert await kept_closed(database) == await closed_afresh(database)
    assert await kept_stays(database) == await stays_afresh(database)


async def assert_days_match_the_history(database, scope: OpportunityScope,
                                        period: Period) -> None:
    """The stays /pipeline reads, averaged, equal the domain's days per stage worked out
    from the whole history of the deals in scope."""
    start = datetime.combine(period.start, time(), SHANGHAI).astimezone(UTC)
    end = datetime.combine(period.end, time(), SHANGHAI).astimezone(UTC)
    changes = [change for change, owner_id, department_id in await history(database)
               if scope.everyone or owner_id == scope.member_id
               or department_id in (scope.department_ids or ())]
    async with database.uow(read_only=True) as uow:
        read = await uow.opportunities.stays_ending_between(scope, start, end)
    assert average_days(read) == days_per_stage(changes, start, end)


async def assert_pipeline_reads_match_the_deals(database, scope: OpportunityScope,
                                                period: Period) -> None:
    """What /pipeline reads equals the deals in scope summed afresh: the open ones per owner
    and stage, those closed in the period (in Shanghai) per stage."""
    start = datetime.combine(period.start, time(), SHANGHAI).astimezone(UTC)
    end = datetime.combine(period.end, time(), SHANGHAI).astimezone(UTC)
    open_ones: dict[tuple[int, str], list] = defaultdict(lambda: [0, Decimal("0.00"), 0])
    closed: dict[str, list] = defaultdict(lambda: [0, Decimal("0.00"), 0])
    for department_id, owner_id, stage, amount, probability, closed_at in await deals(database):
        if not (scope.everyone or owner_id == scope.member_id
                or department_id in (scope.department_ids or ())):
            continue
        if closed_at is None:
            line = open_ones[(owner_id, stage)]
        elif start <= closed_at < end:
            line = closed[stage]
        else:
            continue
        line[0] += 1
        line[1] += amount
        line[2] += amount * probability
    async with database.uow(read_only=True) as uow:
        read_open = await uow.opportunities.open_sums(scope)
        read_closed = await uow.opportunities.closed_sums(scope, start, end)
    assert {(owner, s.stage): (s.count, s.amount, s.weighted) for owner, s in read_open} == {
        key: (count, amount, weighted_amount(weighted, 1))
        for key, (count, amount, weighted) in open_ones.items()}
    assert {s.stage: (s.count, s.amount, s.weighted) for s in read_closed} == {
        key: (count, amount, weighted_amount(weighted, 1))
        for key, (count, amount, weighted) in closed.items()}


async def member_ids(database) -> dict[int, tuple[int, int]]:
    """Telegram account -> (member id, department id)."""
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.execute(select(MemberRow.account_id, MemberRow.id,
                                                MemberRow.department_id))
        return {account: (member_id, department) for account, member_id, department in rows}


async def customer_ids(database) -> list[int]:
    async with database.uow(read_only=True) as uow:
        return list(await uow.session.scalars(select(CustomerRow.id).order_by(CustomerRow.id)))


async def random_step(service, database, clock, rng: random.Random, customers: list[int],
                      made: list[tuple[int, int]], n: int) -> None:
    """One thing a person does to the pipeline, allowed or refused."""
    clock.advance(hours=rng.randrange(1, 40))
    roll = rng.random()
    try:
        if roll < 0.3 or not made:
            owner = rng.choice(OWNERS)
            stage = rng.choice(STAGES[:4])
            created = await service.create(owner, NewOpportunity(
                title=f"Deal {n}", amount=Decimal(rng.randrange(1, 10_000_000)) / 100,
                expected_close=date(2027, 12, 31), customer_id=rng.choice(customers),
                stage=stage, probability=rng.choice((None, None, rng.randrange(101)))))
            made.append((created.id, owner))
        elif roll < 0.75:
            opportunity_id, owner = rng.choice(made)
            target = rng.choice(STAGES)
            await service.move(rng.choice(PRESSERS[owner]), opportunity_id, target,
                               reason="price" if target == "lost" and rng.random() < 0.9
                               else None)
        else:
            opportunity_id, owner = rng.choice(made)
            await service.edit_amount(rng.choice(PRESSERS[owner]), opportunity_id,
                                      rng.choice(("1500", "0", "99.99", "12,345.67", "-3",
                                                  str(rng.randrange(1, 10**8)))))
    except DomainError:
        pass  # refused: it changes nothing, which the comparison checks too


async def test_kept_counts_equal_the_open_deals_after_random_changes(service, database, clock):
    rng = random.Random(20261205)
    customers = await customer_ids(database)
    made: list[tuple[int, int]] = []
    people = await member_ids(database)
    scopes = [OpportunityScope(0, None), OpportunityScope(people[CAROL][0]),
              OpportunityScope(people[ERIN][0], frozenset({people[ERIN][1]})),
              OpportunityScope(people[WALT][0], frozenset({people[WALT][1]}))]
    for n in range(120):
        await random_step(service, database, clock, rng, customers, made, n)
        if n % 10 == 9:
            await assert_counts_match_the_deals(database)
            for scope in scopes:
                for period in ("2026-Q4", "2026-12", "2027-Q1", "2027"):
                    await assert_pipeline_reads_match_the_deals(database, scope,
                                                                Period.parse(period))
                    await assert_days_match_the_history(database, scope, Period.parse(period))
    assert len(made) > 20 and await kept(database) and await kept_stays(database)
    assert await kept_closed(database)
    expected = await kept(database), await kept_closed(database), await kept_stays(database)
    async with database.uow() as uow:
        await pipeline_counts.recount(uow.session)
        await uow.commit()
    assert (await kept(database), await kept_closed(database),
            await kept_stays(database)) == expected


async def test_the_view_shows_the_kept_counts(service, database, clock):
    customers = await customer_ids(database)
    first = await service.create(CAROL, NewOpportunity(
        "Fleet", Decimal("1000.10"), date(2027, 1, 31), customer_id=customers[0]))
    await service.create(CAROL, NewOpportunity(
        "Depot", Decimal("99.90"), date(2027, 1, 31), customer_id=customers[1],
        stage="proposal", probability=40))
    await service.move(CAROL, first.id, "proposal")
    await service.edit_amount(CAROL, first.id, "2000")
    view = await service.stats(ERIN)
    lines = {line.stage: (line.count, line.amount, line.weighted) for line in view.lines}
    assert lines["lead"] == (0, Decimal("0.00"), Decimal("0.00"))
    assert lines["proposal"] == (2, Decimal("2099.90"), Decimal("1039.96"))
    await service.move(CAROL, first.id, "won")
    view = await service.stats(ERIN)
    lines = {line.stage: (line.count, line.amount) for line in view.lines}
    assert lines["proposal"] == (1, Decimal("99.90"))
    assert lines["won"] == (1, Decimal("2000.00")) and view.win_rate == Decimal("100.0")
    await assert_counts_match_the_deals(database)


async def test_concurrent_moves_of_one_owners_deals_add_up(service, database, clock):
    """On PostgreSQL, moves of deals sharing their rows (one owner, stages crossing) at once
    all count: they queue on the rows' locks, in one order, without deadlock."""
    if database.is_sqlite:
        pytest.skip("SQLite runs one writer at a time")
    customers = await customer_ids(database)
    made = [await service.create(CAROL, NewOpportunity(
        f"Deal {n}", Decimal(100 + n), date(2027, 1, 31), customer_id=customers[n % 3],
        stage=("lead", "qualified")[n % 2])) for n in range(12)]
    await asyncio.gather(*(service.move(CAROL, deal.id, ("qualified", "lead")[n % 2])
                           for n, deal in enumerate(made)))
    await asyncio.gather(*(service.edit_amount(ERIN, deal.id, str(500 + n))
                           for n, deal in enumerate(made)))
    await assert_counts_match_the_deals(database)


async def test_the_migration_sums_the_deals_already_there(tmp_path, clock):
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await upgrade(url, "0013")
    database = Database.connect(url)
    try:
        await import_example(database, clock)
        people = await member_ids(database)
        customers = await customer_ids(database)
        rng = random.Random(5)
        at = clock.now()
        async with database.uow() as uow:
            departments = list(await uow.session.scalars(select(DepartmentRow.id)))
            for n in range(40):
                owner, department = people[rng.choice(OWNERS)]
                stage = rng.choice(STAGES)
                deal_id = await uow.session.scalar(insert(OpportunityRow).values(
                    owner_id=owner, department_id=rng.choice([department, *departments]),
                    customer_id=rng.choice(customers), title=f"Deal {n}",
                    amount=Decimal(rng.randrange(1, 10**9)) / 100, currency="CNY",
                    stage=stage, probability=rng.randrange(101),
                    expected_close=date(2027, 1, 31), version=1, created_at=at,
                    updated_at=at, last_activity_at=at,
                    closed_at=at - timedelta(days=n) if stage in ("won", "lost") else None)
                    .returning(OpportunityRow.id))
                # Its history as the moves kept it: each knows when the stage it left began.
                entered, moved = None, at - timedelta(days=90)
                path = [None, *STAGES[:rng.randrange(1, 4)]]
                for from_stage, to_stage in pairwise(path):
                    await uow.session.execute(insert(OpportunityStageRow).values(
                        opportunity_id=deal_id, from_stage=from_stage, to_stage=to_stage,
                        changed_by=owner, at=moved, entered_at=entered))
                    entered, moved = moved, moved + timedelta(hours=rng.randrange(1, 500),
                                                              seconds=rng.random())
            await uow.commit()
    finally:
        await database.dispose()
    await upgrade(url)
    database = Database.connect(url)
    try:
        assert await kept(database) and await kept_closed(database)
        assert await kept_stays(database)
        await assert_counts_match_the_deals(database)
    finally:
        await database.dispose()
