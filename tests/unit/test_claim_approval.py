"""A claim's way through its approval route: submitted, decided, withdrawn, passed on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.expenses.approvals import (
    ClaimApproval,
    RouteStep,
    SlaAction,
    StepDecision,
    Withdrawal,
    approval_route,
    escalation_levels,
)
from core.domain.expenses.budgets import Budget, BudgetImpact, OverrunPolicy, UnitKind
from core.domain.expenses.claims import Claim, ClaimAction, ClaimStatus, StepKind, StepState
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
PEOPLE = (DANA, ERIN, CAROL, LI, FIONA)
NAMES = {m.id: m.name for m in PEOPLE}
THRESHOLDS = [Decimal("5000"), Decimal("20000")]
NOW = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)


def draft(amount: str = "120", **changes) -> Claim:
    values = dict(id=7, member_id=CAROL.id, amount=Decimal(amount), currency="CNY",
                  category="travel", spent_on=date(2026, 11, 25),
                  unit_kind=UnitKind.DEPARTMENT, unit_id=2, version=4)
    return Claim(**{**values, **changes})


def route_of(amount: str, *, finance_step: bool = True) -> list[RouteStep]:
    return approval_route(TREE, CAROL, Decimal(amount), THRESHOLDS, finance_ids=[FIONA.id],
                          finance_step=finance_step, retired=())


def submitted(amount: str = "120", *, finance_step: bool = True) -> ClaimApproval:
    """Submitted and stored: the steps have their ids."""
    approval = ClaimApproval.submit(draft(amount), route_of(amount, finance_step=finance_step),
                                    number="EXP-2026-000007", at=NOW)
    return ClaimApproval(approval.claim, [replace(s, id=100 + s.position)
                                          for s in approval.steps])


def applied(approval: ClaimApproval, change: StepDecision | Withdrawal) -> ClaimApproval:
    """The claim and its steps as the service stores the change."""
    changed = [*change.cancelled]
    if isinstance(change, StepDecision):
        changed += [change.step, *([change.next_step] if change.next_step else [])]
    by_position = {s.position: s for s in changed}
    return ClaimApproval(change.claim, [by_position.get(s.position, s) for s in approval.steps])


def approve(approval: ClaimApproval, actor: Member, *, at: datetime = LATER,
            version: int | None = None, **kwargs) -> StepDecision:
    return approval.approve(actor, at, version=approval.claim.version if version is None
                            else version, names=NAMES, **kwargs)


def reject(approval: ClaimApproval, actor: Member, reason: str = "No receipt", *,
           version: int | None = None, **kwargs) -> StepDecision:
    return approval.reject(actor, LATER, reason, version=approval.claim.version
                           if version is None else version, names=NAMES, **kwargs)


def refused(code: str, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


def states(approval: ClaimApproval) -> list[tuple[int | None, StepState]]:
    return [(s.approver_id, s.state) for s in approval.steps]


# Submitting.

def test_submitting_asks_the_first_approver_now_and_the_others_later():
    approval = submitted("6000")
    assert approval.claim.status is ClaimStatus.PENDING
    assert (approval.claim.number, approval.claim.submitted_at, approval.claim.version) == (
        "EXP-2026-000007", NOW, 5)
    assert states(approval) == [(ERIN.id, StepState.CURRENT), (DANA.id, StepState.WAITING),
                                (None, StepState.WAITING)]
    assert [s.reached_at for s in approval.steps] == [NOW, None, None]
    assert approval.current.approver_id == ERIN.id


def test_only_a_complete_draft_with_an_approver_is_submitted():
    refused("claim_not_draft", ClaimApproval.submit, draft(status=ClaimStatus.PENDING),
            route_of("120"), number="EXP-2026-000007", at=NOW)
    error = refused("claim_incomplete", ClaimApproval.submit, draft(category=None),
                    route_of("120"), number="EXP-2026-000007", at=NOW)
    assert error.params == {"missing": "category"}
    refused("no_approver", ClaimApproval.submit, draft(), [], number="EXP-2026-000007", at=NOW)


def test_an_escalating_budget_over_its_limit_adds_one_level():
    def impact(policy: OverrunPolicy, used: str) -> BudgetImpact:
        return BudgetImpact(Budget(1, UnitKind.DEPARTMENT, 2, None, Period.parse("2026-11"),
                                   Decimal("100"), policy), Decimal(used), Decimal("20"))

    assert escalation_levels([impact(OverrunPolicy.ESCALATE, "90")]) == 1
    assert escalation_levels([impact(OverrunPolicy.ESCALATE, "10")]) == 0
    assert escalation_levels([impact(OverrunPolicy.WARN, "90")]) == 0
    assert escalation_levels([impact(OverrunPolicy.ESCALATE, "90"),
                              impact(OverrunPolicy.BLOCK, "90")]) == 0


# Deciding.

def test_approving_a_step_asks_the_next_approver():
    approval = submitted("6000")
    decision = approve(approval, ERIN, chat_id=555)
    assert decision.action is ClaimAction.APPROVED and not decision.final
    assert (decision.claim.status, decision.claim.version) == (ClaimStatus.PENDING, 6)
    assert (decision.step.state, decision.step.decided_by, decision.step.decided_at) == (
        StepState.APPROVED, ERIN.id, LATER)
    assert (decision.next_step.approver_id, decision.next_step.state,
            decision.next_step.reached_at) == (DANA.id, StepState.CURRENT, LATER)
    assert decision.cancelled == ()
    assert (decision.event.action, decision.event.actor_id, decision.event.chat_id,
            decision.event.detail) == (ClaimAction.APPROVED, ERIN.id, 555,
                                       {"step": 1, "version": 5})


def test_approving_the_last_step_approves_the_claim():
    approval = submitted("120", finance_step=False)
    decision = approve(approval, ERIN)
    assert decision.final and decision.next_step is None
    assert (decision.claim.status, decision.claim.decided_at) == (ClaimStatus.APPROVED, LATER)


def test_a_rejection_says_why_and_cancels_the_steps_left():
    approval = submitted("6000")
    decision = reject(approval, ERIN, "  No receipt  ")
    assert decision.final
    assert (decision.claim.status, decision.claim.decided_at) == (ClaimStatus.REJECTED, LATER)
    assert (decision.step.state, decision.step.reason) == (StepState.REJECTED, "No receipt")
    assert [(s.position, s.state) for s in decision.cancelled] == [
        (2, StepState.CANCELLED), (3, StepState.CANCELLED)]
    assert decision.event.detail == {"step": 1, "version": 5, "reason": "No receipt"}
    assert states(applied(approval, decision)) == [
        (ERIN.id, StepState.REJECTED), (DANA.id, StepState.CANCELLED),
        (None, StepState.CANCELLED)]


def test_a_rejection_needs_a_reason_of_at_most_500_characters():
    refused("reason_empty", reject, submitted(), ERIN, "   ")
    refused("reason_too_long", reject, submitted(), ERIN, "x" * 501)


def test_manager_cannot_approve_own_claim():
    approval = submitted()
    with pytest.raises(NotAllowed) as caught:
        approve(ClaimApproval(replace(approval.claim, member_id=ERIN.id), approval.steps), ERIN)
    assert caught.value.code == "own_claim"


def test_only_the_current_approver_decides():
    approval = submitted("6000")
    with pytest.raises(NotAllowed) as caught:
        approve(approval, LI)
    assert caught.value.code == "not_your_approval"
    # Dana is asked later, not now.
    refused("not_your_approval", approve, approval, DANA)
    refused("not_your_approval", reject, approval, DANA)
    assert not approval.may_decide(DANA) and approval.may_decide(ERIN)


def test_someone_who_never_had_the_claim_learns_nothing_about_it():
    approval = applied(submitted("6000"), approve(submitted("6000"), ERIN))
    refused("not_your_approval", approve, approval, LI)
    # Finance receives a card of the finance step: it hears the claim was decided.
    refused("already_decided", approve, approval, FIONA, card_holders={FIONA.id})


def test_a_decided_step_is_not_decided_again():
    approval = submitted("6000")
    decided = applied(approval, approve(approval, ERIN))
    error = refused("already_decided", approve, decided, ERIN)
    assert error.params == {"by": "Erin", "status": "approved"}
    # The card Erin pressed still carries the version she saw.
    refused("already_decided", approve, decided, ERIN, version=approval.claim.version)


def test_a_press_on_an_older_version_of_the_claim_changes_nothing():
    approval = submitted()
    refused("claim_changed", approve, approval, ERIN, version=approval.claim.version - 1)


def test_a_withdrawn_claim_is_not_decided():
    approval = submitted()
    withdrawn = applied(approval, approval.withdraw(CAROL, LATER))
    refused("claim_withdrawn", approve, withdrawn, ERIN)
    refused("claim_withdrawn", reject, withdrawn, ERIN)
    refused("not_your_approval", approve, withdrawn, LI)


def test_a_draft_is_nobodys_to_decide():
    with pytest.raises(NotFound):
        approve(ClaimApproval(draft()), ERIN)


def test_a_retired_approver_no_longer_decides():
    approval = submitted()
    gone = replace(ERIN, active=False)
    assert not approval.may_decide(gone)
    refused("not_your_approval", approve, approval, gone)


def test_a_finance_step_is_decided_by_finance_only():
    approval = submitted()
    at_finance = applied(approval, approve(approval, ERIN))
    assert at_finance.current.kind is StepKind.FINANCE
    refused("already_decided", approve, at_finance, ERIN)
    refused("not_your_approval", approve, at_finance, LI)
    refused("not_your_approval", approve, at_finance, DANA)
    assert not at_finance.may_decide(DANA) and at_finance.may_decide(FIONA)
    decision = approve(at_finance, FIONA)
    assert decision.claim.status is ClaimStatus.APPROVED
    assert decision.event.detail == {"step": 2, "version": 6}


def test_a_delegate_decides_for_the_approver_and_the_log_says_for_whom():
    approval = submitted()
    refused("not_your_approval", approve, approval, DANA)
    decision = approve(approval, DANA, delegators={ERIN.id})
    assert decision.step.decided_by == DANA.id
    assert decision.event.detail == {"step": 1, "version": 5, "for": ERIN.id}


def test_a_press_that_lost_the_race_says_what_happened_first():
    approval = submitted()
    decided = applied(approval, approve(approval, ERIN))
    error = decided.lost_race(NAMES)
    assert (error.code, error.params) == ("already_decided", {"by": "Erin",
                                                              "status": "approved"})
    withdrawn = applied(approval, approval.withdraw(CAROL, LATER))
    assert withdrawn.lost_race(NAMES).code == "claim_withdrawn"


# The claimant takes it back.

def test_the_claimant_withdraws_a_pending_claim_and_its_open_steps_end():
    approval = submitted("6000")
    withdrawal = approval.withdraw(CAROL, LATER, chat_id=9)
    assert (withdrawal.claim.status, withdrawal.claim.version) == (ClaimStatus.WITHDRAWN, 6)
    assert withdrawal.claim.decided_at is None
    assert [s.position for s in withdrawal.cancelled] == [1, 2, 3]
    assert (withdrawal.event.action, withdrawal.event.actor_id, withdrawal.event.chat_id,
            withdrawal.event.detail) == (ClaimAction.WITHDRAWN, CAROL.id, 9, {})


def test_only_the_claimant_withdraws_and_only_while_pending():
    approval = submitted("120", finance_step=False)
    with pytest.raises(NotAllowed) as caught:
        approval.withdraw(ERIN, LATER)
    assert caught.value.code == "not_your_claim"
    approved = applied(approval, approve(approval, ERIN))
    error = refused("claim_decided", approved.withdraw, CAROL, LATER)
    assert error.params == {"status": "approved"}
    withdrawn = applied(approval, approval.withdraw(CAROL, LATER))
    refused("claim_withdrawn", withdrawn.withdraw, CAROL, LATER)
    refused("claim_not_pending", ClaimApproval(draft()).withdraw, CAROL, LATER)


# Slow approvers and those who leave.

REMIND, ESCALATE = timedelta(hours=24), timedelta(hours=48)


def test_the_sla_reminds_first_then_escalates_once_each():
    approval = submitted()
    due = approval.sla_due
    assert due(NOW + timedelta(hours=23), remind_after=REMIND, escalate_after=ESCALATE) is None
    assert due(NOW + REMIND, remind_after=REMIND, escalate_after=ESCALATE) is SlaAction.REMIND
    reminder = approval.remind(NOW + REMIND)
    assert (reminder.step.reminded_at, reminder.event.action, reminder.event.actor_id,
            reminder.event.detail) == (NOW + REMIND, ClaimAction.REMINDED, None,
                                       {"step": 1, "approver": ERIN.id})
    reminded = ClaimApproval(approval.claim, [reminder.step, *approval.steps[1:]])
    assert reminded.sla_due(NOW + timedelta(hours=30), remind_after=REMIND,
                            escalate_after=ESCALATE) is None
    assert reminded.sla_due(NOW + ESCALATE, remind_after=REMIND,
                            escalate_after=ESCALATE) is SlaAction.ESCALATE
    escalated = ClaimApproval(approval.claim, [replace(reminder.step, escalated=True),
                                               *approval.steps[1:]])
    assert escalated.sla_due(NOW + 10 * ESCALATE, remind_after=REMIND,
                             escalate_after=ESCALATE) is None


def test_escalation_passes_the_step_to_the_next_manager_up():
    approval = submitted("6000")
    handover = approval.escalate(TREE, CAROL, retired=(), at=NOW + ESCALATE)
    assert (handover.previous, handover.to) == (ERIN.id, DANA.id)
    assert (handover.step.approver_id, handover.step.escalated, handover.step.reminded_at) == (
        DANA.id, True, NOW + ESCALATE)
    # Dana decides this step now: her own later step would ask her twice.
    assert [(s.position, s.state) for s in handover.cancelled] == [(2, StepState.CANCELLED)]
    assert (handover.event.action, handover.event.detail) == (
        ClaimAction.ESCALATED, {"step": 1, "from": ERIN.id, "to": DANA.id, "hours": 48})


def test_escalation_at_the_top_or_past_retired_managers_only_reminds():
    approval = submitted()
    handover = approval.escalate(TREE, CAROL, retired={DANA.id}, at=NOW + ESCALATE)
    assert handover.to is None and handover.step.approver_id == ERIN.id
    assert handover.step.escalated
    assert handover.event.action is ClaimAction.REMINDED
    reminded = ClaimApproval(approval.claim, [replace(approval.steps[0], reminded_at=LATER),
                                              *approval.steps[1:]])
    again = reminded.escalate(TREE, CAROL, retired={DANA.id}, at=NOW + ESCALATE)
    assert (again.to, again.event, again.step.reminded_at) == (None, None, LATER)


def test_a_finance_step_is_never_escalated_to_a_manager():
    approval = submitted()
    at_finance = applied(approval, approve(approval, ERIN))
    handover = at_finance.escalate(TREE, CAROL, retired=(), at=NOW + ESCALATE)
    assert handover.to is None and handover.step.kind is StepKind.FINANCE


def test_a_step_waiting_on_someone_who_left_goes_to_the_next_active_manager():
    approval = submitted()
    handover = approval.pass_over(TREE, CAROL, retired={ERIN.id}, at=LATER)
    assert (handover.previous, handover.to, handover.step.approver_id) == (
        ERIN.id, DANA.id, DANA.id)
    assert (handover.event.action, handover.event.actor_id, handover.event.detail) == (
        ClaimAction.HANDED_OVER, None, {"step": 1, "from": ERIN.id, "to": DANA.id})
    assert approval.pass_over(TREE, CAROL, retired={ERIN.id, DANA.id}, at=LATER) is None
    assert approval.pass_over(TREE, None, retired={ERIN.id}, at=LATER) is None


def test_a_manager_who_decided_an_earlier_step_is_not_handed_the_next():
    approval = submitted("6000", finance_step=False)
    at_dana = applied(approval, approve(approval, ERIN))
    assert at_dana.pass_over(TREE, CAROL, retired={DANA.id}, at=LATER) is None


def test_a_claim_no_longer_pending_is_not_passed_on():
    approval = submitted()
    withdrawn = applied(approval, approval.withdraw(CAROL, LATER))
    refused("claim_withdrawn", withdrawn.pass_over, TREE, CAROL, retired={ERIN.id}, at=LATER)
    refused("claim_withdrawn", withdrawn.remind, LATER)
    assert withdrawn.sla_due(NOW + 10 * ESCALATE, remind_after=REMIND,
                             escalate_after=ESCALATE) is None


# Properties.

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50000"), places=2)


def deciders(approval: ClaimApproval) -> Member:
    step = approval.current
    return FIONA if step.kind is StepKind.FINANCE else next(
        m for m in PEOPLE if m.id == step.approver_id)


@given(amount=amounts, finance_step=st.booleans())
def test_approving_every_step_in_order_always_ends_approved(amount, finance_step):
    approval = submitted(str(amount), finance_step=finance_step)
    decisions = 0
    while approval.claim.status is ClaimStatus.PENDING:
        decision = approve(approval, deciders(approval))
        approval = applied(approval, decision)
        decisions += 1
    assert approval.claim.status is ClaimStatus.APPROVED
    assert decisions == len(approval.steps)
    assert all(s.state is StepState.APPROVED for s in approval.steps)
    assert approval.claim.version == submitted(str(amount)).claim.version + decisions


presses = st.lists(st.tuples(st.sampled_from(PEOPLE),
                             st.sampled_from(["approve", "reject", "withdraw"]),
                             st.booleans()), max_size=12)


@given(amount=amounts, finance_step=st.booleans(), script=presses)
def test_no_sequence_of_presses_decides_a_step_twice(amount, finance_step, script):
    """Whoever presses what, on a fresh card or on one they kept: each step is decided at
    most once, a claim ends at most once, and nothing changes after it ended."""
    approval = submitted(str(amount), finance_step=finance_step)
    seen = [approval]  # every version of the claim someone may still hold a card of
    decided: list[int] = []
    ended = 0
    for actor, action, stale in script:
        card = seen[0] if stale else approval
        try:
            if action == "withdraw":
                change = approval.withdraw(actor, LATER)
            elif action == "approve":
                change = approve(approval, actor, version=card.claim.version,
                                 card_holders={p.id for p in PEOPLE})
            else:
                change = reject(approval, actor, version=card.claim.version,
                                card_holders={p.id for p in PEOPLE})
        except DomainError:
            continue
        assert approval.claim.status is ClaimStatus.PENDING
        if isinstance(change, StepDecision):
            decided.append(change.step.position)
        if change.claim.status is not ClaimStatus.PENDING:
            ended += 1
        approval = applied(approval, change)
        seen.append(approval)
    assert len(decided) == len(set(decided))
    assert ended <= 1
    approvals = sum(1 for s in approval.steps if s.state is StepState.APPROVED)
    assert approvals <= len(approval.steps)
    if approval.claim.status is ClaimStatus.APPROVED:
        assert approvals == len(approval.steps)
    if approval.claim.status is not ClaimStatus.PENDING:
        assert approval.current is None
