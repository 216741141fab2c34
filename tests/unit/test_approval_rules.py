"""The approval route, who may decide, budget impact: pure rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.domain.expenses.approvals import RouteStep, approval_route, may_decide, own_claim
from core.domain.expenses.budgets import (
    Budget,
    BudgetImpact,
    OverrunPolicy,
    UnitKind,
    budgets_for,
    overrun_policy,
    thresholds_reached,
)
from core.domain.expenses.claims import ApprovalStep, StepKind, StepState
from core.domain.org.model import Department, Member, OrgTree, Role
from core.domain.period import Period

TREE = OrgTree.of([Department(1, "sales", "Sales", None, 10),
                   Department(2, "east", "East", 1, 20),
                   Department(3, "finance", "Finance", None, None)])
DANA = Member(10, "dana", "Dana", 1, frozenset({Role.MANAGER}))
ERIN = Member(20, "erin", "Erin", 2, frozenset({Role.MANAGER}))
CAROL = Member(30, "carol", "Carol", 2)
LI = Member(31, "li", "Li", 2)
FIONA = Member(40, "fiona", "Fiona", 3, frozenset({Role.FINANCE}))
THRESHOLDS = [Decimal("5000"), Decimal("20000")]


def route(claimant: Member, amount: str, **kwargs) -> list[RouteStep]:
    return approval_route(TREE, claimant, Decimal(amount), THRESHOLDS,
                          finance_ids=kwargs.pop("finance_ids", [FIONA.id]),
                          finance_step=kwargs.pop("finance_step", True),
                          retired=kwargs.pop("retired", ()), **kwargs)


def test_a_rep_is_approved_by_their_manager_then_finance():
    assert route(CAROL, "120") == [RouteStep(StepKind.MANAGER, ERIN.id),
                                   RouteStep(StepKind.FINANCE, None)]


def test_a_retired_manager_is_passed_over():
    assert route(CAROL, "120", retired={ERIN.id}) == [RouteStep(StepKind.MANAGER, DANA.id),
                                                      RouteStep(StepKind.FINANCE, None)]
    assert route(CAROL, "6000", retired={ERIN.id}) == [RouteStep(StepKind.MANAGER, DANA.id),
                                                       RouteStep(StepKind.FINANCE, None)]


def test_with_every_manager_retired_only_finance_approves():
    assert route(CAROL, "120", retired={ERIN.id, DANA.id}) == [
        RouteStep(StepKind.FINANCE, None)]
    assert route(CAROL, "120", retired={ERIN.id, DANA.id}, finance_step=False) == []


def test_a_department_manager_is_approved_by_the_parents_manager():
    assert route(ERIN, "120", finance_step=False) == [RouteStep(StepKind.MANAGER, DANA.id)]


def test_thresholds_add_the_next_level_and_stop_at_the_top():
    assert [s.approver_id for s in route(CAROL, "5000.01", finance_step=False)] == [20, 10]
    assert [s.approver_id for s in route(CAROL, "5000", finance_step=False)] == [20]
    assert [s.approver_id for s in route(CAROL, "30000", finance_step=False)] == [20, 10]


def test_an_escalating_budget_adds_a_marked_level():
    steps = route(CAROL, "120", extra_levels=1, finance_step=False)
    assert [(s.approver_id, s.escalated) for s in steps] == [(20, False), (10, True)]


def test_nobody_approves_their_own_claim():
    assert route(DANA, "120", finance_step=False) == []
    assert route(FIONA, "120", finance_ids=[FIONA.id]) == []


def test_the_current_approver_or_their_delegate_decides_never_the_claimant():
    step = ApprovalStep(1, 7, 1, StepKind.MANAGER, ERIN.id, StepState.CURRENT)
    assert may_decide(step, ERIN, CAROL.id)
    assert not may_decide(step, LI, CAROL.id)
    assert may_decide(step, DANA, CAROL.id, delegators=[ERIN.id])
    assert not may_decide(step, ERIN, ERIN.id)
    waiting = ApprovalStep(2, 7, 2, StepKind.MANAGER, DANA.id, StepState.WAITING)
    assert not may_decide(waiting, DANA, CAROL.id)


def test_any_finance_member_decides_a_finance_step():
    step = ApprovalStep(1, 7, 2, StepKind.FINANCE, None, StepState.CURRENT)
    assert may_decide(step, FIONA, CAROL.id)
    assert not may_decide(step, ERIN, CAROL.id)
    assert not may_decide(step, FIONA, FIONA.id)


def budget(amount: str, policy: OverrunPolicy, category: str | None = "travel") -> Budget:
    return Budget(1, UnitKind.DEPARTMENT, 2, category, Period.parse("2026-11"), Decimal(amount),
                  policy)


def test_a_claim_is_charged_against_its_unit_category_and_period():
    budgets = [budget("100", OverrunPolicy.WARN), budget("100", OverrunPolicy.WARN, None),
               budget("100", OverrunPolicy.WARN, "meals")]
    found = budgets_for(budgets, UnitKind.DEPARTMENT, 2, "travel", date(2026, 11, 30))
    assert [b.category for b in found] == ["travel", None]
    assert budgets_for(budgets, UnitKind.DEPARTMENT, 2, "travel", date(2026, 12, 1)) == []


def test_the_strictest_policy_of_the_budgets_overrun_wins():
    warn = BudgetImpact(budget("100", OverrunPolicy.WARN), Decimal("90"), Decimal("20"))
    block = BudgetImpact(budget("1000", OverrunPolicy.BLOCK), Decimal("90"), Decimal("20"))
    assert (warn.over, warn.percent) == (Decimal("10"), 110)
    assert overrun_policy([warn, block]) is OverrunPolicy.WARN
    assert overrun_policy([BudgetImpact(budget("100", OverrunPolicy.BLOCK), Decimal(90),
                                        Decimal(20)), warn]) is OverrunPolicy.BLOCK


def test_alert_thresholds_are_reached_at_80_and_100_percent():
    assert thresholds_reached(Decimal("799.99"), Decimal("1000")) == []
    assert thresholds_reached(Decimal("800"), Decimal("1000")) == [80]
    assert thresholds_reached(Decimal("1000"), Decimal("1000")) == [80, 100]


def test_a_claim_is_its_claimants_own_and_nobody_elses():
    assert own_claim(CAROL, CAROL.id)
    assert not own_claim(ERIN, CAROL.id)
