"""/stats against a real database: sums exact to the cent, and each person's share of them."""

from __future__ import annotations

import itertools
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.handlers.stats import money, sections, stats_chart, stats_text
from bot.i18n import Translator
from core.config import ExpensesConfig
from core.domain.budget import Budget, OverrunPolicy, UnitKind
from core.domain.errors import NotAllowed
from core.domain.expense_stats import StatusFilter
from core.domain.org import OrgSettings
from core.domain.org_file import parse_org_file
from core.domain.period import Period
from core.expense_stats import ExpenseStatsService
from core.org import OrgService
from storage.tables import ClaimRow
from tests.conftest import EXAMPLE_ORG

DEFAULTS = OrgSettings("Defaults Inc.", "UTC", "EUR", "en")
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
        await uow.commit()


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


@pytest.fixture
async def org(database, clock):
    await OrgService(database.uow, clock, DEFAULTS).import_org(
        parse_org_file(tomllib.loads(EXAMPLE_ORG.read_text())))
    return database


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
    assert f"{money(want['total'][''])}" in text and "102,030.58" in text
    for category, amount in want["category"].items():
        line = next(row for row in text.splitlines() if row.startswith(CATEGORIES[category][:15]))
        assert line.endswith(money(amount)), line
    chart = stats_chart(view, t)
    assert chart.png.startswith(b"\x89PNG")
    by_category = {CATEGORIES[k]: v for k, v in want["category"].items()}
    by_member = {NAMES[k]: v for k, v in want["member"].items()}
    assert [dict(series) for _, series in chart.panels] == [by_category, by_member]
    # What was drawn: the same amounts, as bar lengths, next to the same labels.
    assert [dict(bars) for bars in chart.drawn] == [
        {k: float(v) for k, v in by_category.items()}, {k: float(v) for k, v in by_member.items()}]
    assert dict(sections(view, t))["By category"] == view.by_category


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
