"""Budgets on each backend: who sees which, usage from claims, who may set them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.domain.errors import DomainError
from core.domain.expenses.budgets import OverrunPolicy, UnitKind
from core.domain.inbox.notifications import NotificationKind
from core.expenses.budgets import BudgetService
from tests.service.test_approvals import (
    CAROL,
    CONFIG,
    DANA,
    DEFAULTS,
    ERIN,
    FIONA,
    LI,
    WALT,
    filed,
    notifications,
)


def budgets(database, clock) -> BudgetService:
    return BudgetService(database.uow, clock, DEFAULTS, CONFIG)


def labels(overview) -> list[tuple[str, str, str, Decimal]]:
    return [(line.unit, line.category_name, line.budget.period.label, line.used)
            for line in overview.lines]


async def test_a_rep_sees_the_budgets_of_their_units_running_now(org, clock):
    await filed(org, clock, "carol", "120.50")
    await filed(org, clock, "li", "30", category="meals")
    overview = await budgets(org, clock).overview(CAROL)
    assert labels(overview) == [
        ("East region", "", "2026-Q4", Decimal("150.50")),
        ("East region", "Travel", "2026-11", Decimal("120.50")),
        ("Carol Lin", "Meals", "2026-11", Decimal("0.00")),
        ("Harbor Logistics rollout", "", "2026", Decimal("0.00"))]


async def test_finance_sees_every_budget_and_a_manager_their_subtree(org, clock):
    assert len((await budgets(org, clock).overview(FIONA)).lines) == 5
    walt = labels(await budgets(org, clock).overview(WALT))
    assert walt == [("West region", "", "2026-11", Decimal("0.00"))]
    assert len((await budgets(org, clock).overview(DANA)).lines) == 5


async def test_an_asked_period_shows_the_budgets_overlapping_it(org, clock):
    overview = await budgets(org, clock).overview(ERIN, "2026-12")
    assert [line.budget.period.label for line in overview.lines] == ["2026-Q4", "2026"]


async def test_a_manager_sets_a_budget_of_their_department_and_changes_it(org, clock):
    service = budgets(org, clock)
    line = await service.set(ERIN, "department:east", "travel", "2026-12", "12,000", "block")
    assert (line.budget.amount, line.budget.policy, line.unit) == (
        Decimal("12000.00"), OverrunPolicy.BLOCK, "East region")
    line = await service.set(ERIN, "department:east", "travel", "2026-12", "9000")
    assert (line.budget.amount, line.budget.policy) == (Decimal("9000.00"), OverrunPolicy.WARN)
    line = await service.set(ERIN, "project:harbor-rollout", "all", "2027", "5000", "escalate")
    assert (line.budget.unit_kind, line.budget.category) == (UnitKind.PROJECT, None)
    await service.set(FIONA, "member:sam", "meals", "2026-Q4", "800")


@pytest.mark.parametrize(("who", "args", "code"), [
    (CAROL, ("department:east", "travel", "2026-12", "100"), "budget_not_allowed"),
    (WALT, ("department:east", "travel", "2026-12", "100"), "budget_not_allowed"),
    (ERIN, ("member:sam", "travel", "2026-12", "100"), "budget_not_allowed"),
    (ERIN, ("project:west-expansion", None, "2026-12", "100"), "budget_not_allowed"),
    (ERIN, ("department:east", "travel", "2026-13", "100"), "budget_period_format"),
    (ERIN, ("department:east", "travel", "December", "100"), "budget_period_format"),
    (ERIN, ("department:east", "travel", "2026-12", "-5"), "amount_not_positive"),
    (ERIN, ("department:east", "travel", "2026-12", "lots"), "amount_format"),
    (ERIN, ("department:east", "travel", "2026-12", "12.345"), "amount_cents"),
    (ERIN, ("department:mars", "travel", "2026-12", "100"), "budget_unit_unknown"),
    (ERIN, ("galaxy:east", "travel", "2026-12", "100"), "budget_unit_format"),
    (ERIN, ("department:east", "yachts", "2026-12", "100"), "budget_category_unknown"),
    (ERIN, ("department:east", "travel", "2026-12", "100", "shrug"), "budget_policy_unknown"),
])
async def test_bad_budget_input_is_refused_and_changes_nothing(org, clock, who, args, code):
    service = budgets(org, clock)
    before = labels(await service.overview(FIONA, "2026"))
    with pytest.raises(DomainError) as error:
        await service.set(who, *args)
    assert error.value.code == code
    assert labels(await service.overview(FIONA, "2026")) == before


async def test_a_bad_period_to_look_at_is_refused(org, clock):
    with pytest.raises(DomainError) as error:
        await budgets(org, clock).overview(LI, "next month")
    assert error.value.code == "budget_period_format"


async def test_raising_a_limit_withdraws_the_alert_it_made_untrue(org, clock):
    await filed(org, clock, "carol", "9000")  # 90% of the east travel budget
    alerts = await notifications(org, NotificationKind.BUDGET_ALERT)
    assert [(a.payload["threshold"], a.payload["percent"]) for a in alerts] == [(80, 90)]
    await budgets(org, clock).set(ERIN, "department:east", "travel", "2026-11", "20000")
    [alert] = await notifications(org, NotificationKind.BUDGET_ALERT)
    assert (alert.payload["withdrawn"], alert.payload["percent"], str(alert.state)) == (
        True, 45, "skipped")
