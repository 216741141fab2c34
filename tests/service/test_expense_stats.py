"""/stats against a real database: sums exact to the cent, and each person's share of them."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.handlers.stats import sections, stats_chart, stats_text
from bot.i18n import Translator
from core.config import ExpensesConfig
from core.domain.errors import NotAllowed
from core.domain.expenses.budgets import Budget, OverrunPolicy, UnitKind
from core.domain.expenses.stats import ClaimScope, Dimension, StatusFilter, head
from core.domain.money import format_amount
from core.domain.period import Period
from core.expenses.stats import ExpenseStatsService
from storage.database import Database
from storage.expense_totals import recount
from storage.tables import ClaimRow, OpportunityRow, OpportunityStageRow
from tests.conftest import PG_URL
from tests.example_org import DEFAULTS

ERIN, WALT, DANA, FIONA, CAROL = 1002, 1003, 1001, 3001, 2001
NOV = Period.parse("2026-11")
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Spent:
    """A claim as a test writes it: who, how much, and where it is charged."""

    member: str
    amount: str
    category: str = "travel"
    spent_on: date = date(2026, 11, 10)
    status: str = "approved"
    unit: tuple[str, str | None] = ("department", None)  # kind, key (None: own department)
    opportunity: int | None = None
    description: str = "taxi"
    submitted_at: datetime | None = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


async def org_ids(database) -> dict[str, dict[str, object]]:
    async with database.uow(read_only=True) as uow:
        return {"members": {m.key: m for m in await uow.members.all()},
                "departments": {d.key: d.id for d in await uow.departments.all()},
                "projects": {p.key: p.id for p in await uow.projects.all()}}


async def add_claims(database, claims: list[Spent]) -> None:
    """Insert claims straight into expense_claims, as the claim flow would have left them."""
    ids = await org_ids(database)
    rows = []
    for claim in claims:
        member = ids["members"][claim.member]
        kind, key = claim.unit
        if kind == "member":
            unit_id = member.id
        else:
            unit_id = ids[f"{kind}s"][key] if key else member.department_id
        decided = claim.submitted_at if claim.status in ("approved", "rejected") else None
        rows.append(ClaimRow(
            number=None if claim.status == "draft" else f"EXP-2026-{next(_numbers):06d}",
            member_id=member.id, department_id=member.department_id,
            amount=Decimal(claim.amount), currency="CNY", category=claim.category,
            spent_on=claim.spent_on, unit_kind=kind, unit_id=unit_id,
            description=claim.description, opportunity_id=claim.opportunity,
            status=claim.status, version=2, created_at=claim.submitted_at,
            updated_at=claim.submitted_at,
            submitted_at=None if claim.status == "draft" else claim.submitted_at,
            decided_at=decided))
    async with database.uow() as uow:
        uow.session.add_all(rows)
        await uow.session.flush()
        await recount_claims(uow)
        await uow.commit()


async def recount_claims(uow) -> None:
    """Claims were written behind the claim flow's back: work the kept totals out again."""
    await recount(uow.session, ZoneInfo((await uow.organization.get() or DEFAULTS).timezone))


async def add_budget(database, kind: UnitKind, unit_id: int, period: str, amount: str,
                     category: str | None = None) -> None:
    async with database.uow() as uow:
        await uow.budgets.add(Budget(None, kind, unit_id, category, Period.parse(period),
                                     Decimal(amount), OverrunPolicy.WARN))
        await uow.commit()


# Amounts chosen so that float arithmetic would drift: 0.1 + 0.2, many cents, large sums.
EAST_AND_WEST = [
    Spent("carol", "0.10"), Spent("carol", "0.20", "meals"), Spent("carol", "1234.56"),
    Spent("li", "99999.99", "lodging", status="pending", opportunity=7),
    Spent("li", "0.01", "meals", unit=("project", "harbor-rollout"), opportunity=7),
    Spent("carol", "33.33", "office", unit=("member", None)),
    Spent("sam", "500.05", "travel"), Spent("sam", "12.34", "meals", status="pending"),
    Spent("erin", "250.00", "entertainment"),
    # Not counted by default: rejected, withdrawn, drafts, and other months.
    Spent("carol", "777.77", status="rejected"), Spent("carol", "5.00", status="withdrawn"),
    Spent("li", "9.99", status="draft"), Spent("carol", "100.00", spent_on=date(2026, 10, 31)),
    Spent("sam", "100.00", spent_on=date(2026, 12, 1)),
]
DEPARTMENT_OF = {"carol": "east", "li": "east", "erin": "east", "sam": "west", "mei": "west"}


def expected(claims: list[Spent], period: Period, statuses: set[str],
             departments: set[str] | None = None) -> dict[str, dict[str, Decimal]]:
    """The sums computed here from the test's own list, not by the code under test."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for claim in claims:
        if not period.contains(claim.spent_on) or claim.status not in statuses:
            continue
        if departments is not None and DEPARTMENT_OF[claim.member] not in departments:
            continue
        amount = Decimal(claim.amount)
        sums["total"][""] += amount
        sums["category"][claim.category] += amount
        sums["member"][claim.member] += amount
        sums["opportunity"]["—" if claim.opportunity is None else f"#{claim.opportunity}"] += (
            amount)
    return sums


def service(database, clock) -> ExpenseStatsService:
    return ExpenseStatsService(database.uow, clock, DEFAULTS, ExpensesConfig())


NAMES = {"carol": "Carol Lin", "li": "李伟", "sam": "Sam Okafor", "erin": "Erin Zhao"}
CATEGORIES = {"travel": "Travel", "meals": "Meals", "lodging": "Lodging",
              "office": "Office supplies", "entertainment": "Client entertainment"}


def by_label(lines) -> dict[str, Decimal]:
    return {line.label: line.amount for line in lines}


async def test_finance_sees_every_department_summed_to_the_cent(org, clock):
    await add_claims(org, EAST_AND_WEST)
    view = await service(org, clock).stats(FIONA, NOV)
    want = expected(EAST_AND_WEST, NOV, {"approved", "pending"})
    assert view.everyone and view.currency == "CNY"
    assert view.total.amount == want["total"][""] == Decimal("102030.58")
    assert view.total.count == 9
    assert by_label(view.by_category) == {CATEGORIES[k]: v for k, v in want["category"].items()}
    assert by_label(view.by_member) == {NAMES[k]: v for k, v in want["member"].items()}
    assert by_label(view.by_opportunity) == dict(want["opportunity"])
    assert by_label(view.by_unit) == {
        "East region": Decimal("1234.86") + Decimal("99999.99") + Decimal("250.00"),
        "West region": Decimal("512.39"), "Harbor Logistics rollout": Decimal("0.01"),
        "Carol Lin": Decimal("33.33")}
    assert {line.label: line.kind for line in view.by_unit}["Carol Lin"] == "member"


async def test_the_table_and_the_chart_show_the_databases_numbers(org, clock):
    await add_claims(org, EAST_AND_WEST)
    view = await service(org, clock).stats(FIONA, NOV)
    want = expected(EAST_AND_WEST, NOV, {"approved", "pending"})
    t = Translator("en")
    text = stats_text(view, t)
    assert "Expenses 2026-11 · approved + pending" in text
    assert "Claims of the whole organisation, in CNY." in text
    assert f"{format_amount(want['total'][''])}" in text and "102,030.58" in text
    for category, amount in want["category"].items():
        line = next(row for row in text.splitlines() if row.startswith(CATEGORIES[category][:15]))
        assert line.endswith(format_amount(amount)), line
    chart = stats_chart(view, t)
    assert chart.png.startswith(b"\x89PNG")
    by_category = {CATEGORIES[k]: v for k, v in want["category"].items()}
    by_member = {NAMES[k]: v for k, v in want["member"].items()}
    assert [dict(series) for _, series in chart.panels] == [by_category, by_member]
    # What was drawn: the same amounts, as bar lengths, next to the same labels.
    assert [dict(bars) for bars in chart.drawn] == [
        {k: float(v) for k, v in by_category.items()}, {k: float(v) for k, v in by_member.items()}]
    assert dict(sections(view, t))["By category"] == view.by_category


async def test_the_largest_lines_alone_show_what_every_line_shows(org, clock):
    """/stats reads only the largest people, deals and units (and those tied with the last
    of them): the lines shown and the rest summed are those of the whole breakdowns."""
    await add_claims(org, [*EAST_AND_WEST,
                           # Ties at every cut: the names decide, as with every line read.
                           Spent("erin", "512.39"), Spent("mei", "512.39", opportunity=7),
                           Spent("li", "512.39", "meals", unit=("member", None)),
                           Spent("mei", "1234.56", unit=("member", None))])
    stats = service(org, clock)
    for account, period, top in itertools.product((FIONA, ERIN), (NOV, Period.parse("2026")),
                                                  (1, 2, 3, 4)):
        whole = await stats.stats(account, period)
        largest = await stats.stats(account, period, top=top)
        assert largest.by_category == whole.by_category
        assert largest.by_stage == whole.by_stage
        assert top > 2 or largest.left_out  # something was left to the database to sum
        for by, every, kept in ((Dimension.UNIT, whole.by_unit, largest.by_unit),
                                (Dimension.MEMBER, whole.by_member, largest.by_member),
                                (Dimension.OPPORTUNITY, whole.by_opportunity,
                                 largest.by_opportunity)):
            assert len(kept) == min(top, len(every))
            for limit in range(2, top + 1):
                assert head(kept, limit, largest.left_out.get(by)) == head(every, limit), (
                    account, period, top, by)


async def test_a_manager_sees_only_the_departments_they_lead(org, clock):
    await add_claims(org, EAST_AND_WEST)
    stats = service(org, clock)
    east = await stats.stats(ERIN, NOV)
    assert not east.everyone
    assert east.total.amount == expected(EAST_AND_WEST, NOV, {"approved", "pending"},
                                         {"east"})["total"][""]
    assert set(by_label(east.by_member)) == {"Carol Lin", "李伟", "Erin Zhao"}
    west = await stats.stats(WALT, NOV)
    assert by_label(west.by_member) == {"Sam Okafor": Decimal("512.39")}
    assert "West region" in by_label(west.by_unit) and "East region" not in by_label(
        west.by_unit)
    assert "Erin Zhao" not in stats_text(west, Translator("en"))
    # The head of sales sees both regions below.
    both = await stats.stats(DANA, NOV)
    assert both.total.amount == east.total.amount + west.total.amount


async def test_a_rep_is_told_statistics_are_for_managers_and_finance(org, clock):
    await add_claims(org, EAST_AND_WEST)
    with pytest.raises(NotAllowed) as refused:
        await service(org, clock).stats(CAROL, NOV)
    assert refused.value.code == "stats_for_managers"
    with pytest.raises(NotAllowed):
        await service(org, clock).periods(CAROL)


async def test_an_empty_period_says_so(org, clock):
    await add_claims(org, EAST_AND_WEST)
    view = await service(org, clock).stats(ERIN, Period.parse("2025-Q1"))
    assert view.empty and view.total.amount == 0
    assert "No claims in 2025-Q1 (approved + pending)." in stats_text(view, Translator("en"))


async def test_status_filters_and_periods(org, clock):
    await add_claims(org, EAST_AND_WEST)
    stats = service(org, clock)
    for status, statuses in ((StatusFilter.APPROVED, {"approved"}),
                             (StatusFilter.PENDING, {"pending"}),
                             (StatusFilter.REJECTED, {"rejected"})):
        view = await stats.stats(FIONA, NOV, status)
        assert view.total.amount == expected(EAST_AND_WEST, NOV, statuses)["total"][""]
    quarter = await stats.stats(FIONA, Period.parse("2026-Q4"))
    assert quarter.total.amount == expected(EAST_AND_WEST, Period.parse("2026-Q4"),
                                            {"approved", "pending"})["total"][""]
    # Without a period: this month on the team's calendar.
    assert (await stats.stats(FIONA)).period == NOV
    assert list(await stats.periods(FIONA)) == ["this_month", "last_month", "this_quarter",
                                                 "this_year"]
    assert (await stats.periods(FIONA))["last_month"].label == "2026-10"


async def test_budget_against_approved_and_pending_of_its_unit(org, clock):
    # examples/org.toml has budgets: east travel Nov 10,000; east Q4 60,000; west Nov 20,000;
    # carol's meals Nov 1,500; the Harbor rollout project 2026 200,000.
    await add_claims(org, EAST_AND_WEST)
    ids = await org_ids(org)
    await add_budget(org, UnitKind.DEPARTMENT, ids["departments"]["east"], "2026-12", "1.00")
    east_view = await service(org, clock).stats(ERIN, NOV)
    lines = {(b.unit, b.budget.category, b.budget.period.label): b for b in east_view.budgets}
    assert set(lines) == {("East region", "travel", "2026-11"), ("East region", None, "2026-Q4"),
                          ("Carol Lin", "meals", "2026-11"),
                          ("Harbor Logistics rollout", None, "2026")}
    travel = lines[("East region", "travel", "2026-11")]
    # East region's own unit and category only: not the project's cent, not Carol's office.
    assert travel.used == Decimal("0.10") + Decimal("1234.56")
    assert (travel.remaining, travel.percent) == (Decimal("8765.34"), 12)
    # The quarter counts October too, approved + pending, never rejected or drafts.
    quarter = lines[("East region", None, "2026-Q4")]
    assert quarter.used == Decimal("101584.85") and quarter.remaining == Decimal("-41584.85")
    assert lines[("Carol Lin", "meals", "2026-11")].used == Decimal("0.00")
    assert lines[("Harbor Logistics rollout", None, "2026")].used == Decimal("0.01")
    text = stats_text(east_view, Translator("en"))
    assert "East region · Travel · 2026-11\n  10,000.00: used 1,234.66 (12%), left 8,765.34" in (
        text)
    west_view = await service(org, clock).stats(WALT, NOV)
    assert [(b.unit, b.used) for b in west_view.budgets] == [("West region", Decimal("512.39"))]


# Opportunities and the stage on each claim's date ----------------------------------------

@dataclass(frozen=True)
class Deal:
    """An opportunity as a test writes it: its moves (stage, when, in UTC) from creation."""

    owner: str
    customer: str
    title: str
    moves: tuple[tuple[str, datetime], ...]


async def add_deal(database, deal: Deal) -> int:
    """Insert the opportunity and its stage history, as the opportunity flow leaves them."""
    async with database.uow() as uow:
        owner = next(m for m in await uow.members.all() if m.key == deal.owner)
        customer = next(c for c in await uow.customers.all() if c.key == deal.customer)
        created, last = deal.moves[0][1], deal.moves[-1]
        row = OpportunityRow(
            owner_id=owner.id, department_id=owner.department_id, customer_id=customer.id,
            title=deal.title, amount=Decimal("50000.00"), currency="CNY", stage=last[0],
            probability=50, expected_close=date(2026, 12, 31), version=len(deal.moves),
            created_at=created, updated_at=last[1], last_activity_at=last[1])
        uow.session.add(row)
        await uow.session.flush()
        previous = None
        for stage, at in deal.moves:
            uow.session.add(OpportunityStageRow(opportunity_id=row.id, from_stage=previous,
                                                to_stage=stage, changed_by=owner.id, at=at))
            previous = stage
        await uow.commit()
        return row.id


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# The team is in Asia/Shanghai (UTC+8). Harbor's move to "proposal" at 17:00 UTC on the 14th
# is 01:00 on the 15th there: a claim of the 14th was spent while it was still a lead. Its
# move to "won" at 23:59 local on the 20th still counts for a claim of the 20th (the stage
# at the end of the day). A claim of 1 November predates the opportunity.
HARBOR = Deal("carol", "harbor-logistics", "Cold-chain fleet", (
    ("lead", utc(2026, 11, 2, 1, 0)), ("proposal", utc(2026, 11, 14, 17, 0)),
    ("won", utc(2026, 11, 20, 15, 59))))
PUDONG = Deal("sam", "pudong-medical", "MRI service contract", (
    ("qualified", utc(2026, 10, 1, 2, 0)), ("lost", utc(2026, 11, 5, 3, 0))))
# Created and qualified on the same local day: that day ends qualified.
XIHU = Deal("carol", "xihu-textiles", "Dye works", (
    ("lead", utc(2026, 11, 8, 2, 0)), ("qualified", utc(2026, 11, 8, 5, 0))))


def staged_claims(harbor: int, pudong: int, xihu: int) -> list[Spent]:
    return [
        Spent("carol", "7.00", spent_on=date(2026, 11, 8), opportunity=xihu),
        Spent("carol", "100.10", spent_on=date(2026, 11, 14), opportunity=harbor),
        Spent("carol", "200.20", "meals", spent_on=date(2026, 11, 15), opportunity=harbor),
        Spent("li", "300.30", spent_on=date(2026, 11, 20), status="pending",
              opportunity=harbor),
        Spent("li", "0.01", spent_on=date(2026, 11, 1), opportunity=harbor),
        Spent("carol", "50.00", spent_on=date(2026, 11, 14)),
        Spent("sam", "75.55", spent_on=date(2026, 11, 4), opportunity=pudong),
        Spent("sam", "24.45", spent_on=date(2026, 11, 6), status="pending",
              opportunity=pudong),
        # Not counted: rejected, and another month.
        Spent("sam", "999.00", spent_on=date(2026, 11, 6), status="rejected",
              opportunity=pudong),
        Spent("carol", "1.00", spent_on=date(2026, 10, 31), opportunity=harbor),
    ]


async def test_totals_by_the_stage_each_opportunity_had_on_the_claims_date(org, clock):
    harbor, pudong = await add_deal(org, HARBOR), await add_deal(org, PUDONG)
    await add_claims(org, staged_claims(harbor, pudong, await add_deal(org, XIHU)))
    view = await service(org, clock).stats(FIONA, NOV)
    # Worked out by hand from the moves above, in the pipeline's order, "—" last.
    assert [(line.label, line.count, line.amount) for line in view.by_stage] == [
        ("Lead", 1, Decimal("100.10")), ("Qualified", 2, Decimal("82.55")),
        ("Proposal", 1, Decimal("200.20")), ("Won", 1, Decimal("300.30")),
        ("Lost", 1, Decimal("24.45")), ("—", 2, Decimal("50.01"))]
    assert sum(line.amount for line in view.by_stage) == view.total.amount
    assert by_label(view.by_opportunity) == {
        "Harbor Logistics · Cold-chain fleet": Decimal("600.61"),
        "Pudong Medical Supplies · MRI service contract": Decimal("100.00"),
        "Xihu Textiles · Dye works": Decimal("7.00"),
        "—": Decimal("50.00")}
    chinese = await service(org, clock).stats(FIONA, NOV, language="zh_Hans")
    assert [line.label for line in chinese.by_stage] == ["线索", "已确认", "方案报价", "赢单",
                                                         "输单", "—"]
    text = stats_text(view, Translator("en"))
    assert "By stage on the date spent" in text
    rows = text.splitlines()
    # A title too long for the label column has a line of its own above its numbers.
    title = rows.index("Harbor Logistics · Cold-chain fleet")
    assert rows[title + 1].split() == ["4", "600.61"]
    assert next(r for r in rows if r.startswith("Proposal")).split() == [
        "Proposal", "1", "200.20"]


async def test_the_stage_on_a_date_agrees_with_the_history_read_day_by_day(org, clock):
    """Every claim's stage as the opportunities module reads it from the history, summed
    here, equals the kept totals; the team's calendar decides the day of each move."""
    harbor, pudong = await add_deal(org, HARBOR), await add_deal(org, PUDONG)
    claims = staged_claims(harbor, pudong, await add_deal(org, XIHU))
    await add_claims(org, claims)
    counted = [c for c in claims if NOV.contains(c.spent_on)
               and c.status in ("approved", "pending")]
    scope = ClaimScope(NOV, StatusFilter.COMMITTED.statuses)
    for zone in (ZoneInfo("Asia/Shanghai"), UTC):
        async with org.uow() as uow:
            await recount(uow.session, zone)
            stages = await uow.opportunities.stages_on(
                [(c.opportunity, c.spent_on) for c in counted if c.opportunity], zone)
            got = (await uow.expense_stats.breakdowns(scope)).groups[Dimension.STAGE]
            await uow.commit()
        want: dict[str | None, Decimal] = defaultdict(Decimal)
        for claim in counted:
            want[stages.get((claim.opportunity, claim.spent_on))] += Decimal(claim.amount)
        assert {s.key: s.amount for s in got} == dict(want)
        # In UTC the move to "proposal" falls on the 14th: the same claims group differently.
        assert want["proposal"] == Decimal("200.20" if zone is not UTC else "300.30")


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only")
async def test_postgresql_plans_a_managers_departments_knowing_them():
    """A manager's departments travel as one array: PostgreSQL plans each run with its values
    rather than keep a generic plan that guesses the list (a region's /stats took 4× as long)."""
    database = Database.connect(PG_URL)
    try:
        async with database.uow(read_only=True) as uow:
            assert await uow.session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    finally:
        await database.dispose()
