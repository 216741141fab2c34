"""Who approves a claim: the route through the manager hierarchy, and who may decide a step."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.domain.expenses.claims import ApprovalStep, StepKind, StepState
from core.domain.org.model import Member, OrgTree, Role


@dataclass(frozen=True)
class RouteStep:
    kind: StepKind
    approver_id: int | None
    escalated: bool = False


def approval_route(tree: OrgTree, claimant: Member, amount: Decimal,
                   thresholds: Sequence[Decimal], *, finance_ids: Iterable[int],
                   finance_step: bool, retired: Collection[int],
                   extra_levels: int = 0) -> list[RouteStep]:
    """Who approves, in order.

    The claimant's department manager first (the parent department's when the claimant
    heads it); one more level up for each threshold the amount exceeds and for each extra
    level (a budget set to escalate); then finance, unless the claimant is the only
    finance member. Nobody approves their own claim, and retired managers (`retired`, the
    ids of inactive members) are passed over. An empty route means nobody can.
    """
    chain = [m for m in tree.manager_chain(claimant.department_id, retired=retired)
             if m != claimant.id]
    levels = 1 + sum(1 for threshold in thresholds if amount > threshold)
    steps = [RouteStep(StepKind.MANAGER, approver) for approver in chain[:levels]]
    for approver in chain[levels:levels + extra_levels]:
        steps.append(RouteStep(StepKind.MANAGER, approver, escalated=True))
    if finance_step and any(m != claimant.id for m in finance_ids):
        steps.append(RouteStep(StepKind.FINANCE, None))
    return steps


def own_claim(actor: Member, claimant_id: int) -> bool:
    """Nobody approves, rejects or is sent their own claim, whoever else they act for."""
    return actor.id == claimant_id


def may_decide(step: ApprovalStep, actor: Member, claimant_id: int, *,
               delegators: Iterable[int] = ()) -> bool:
    """The current step's approver (or someone they delegated to) may decide, never the
    claimant; any finance member decides a finance step."""
    if step.state is not StepState.CURRENT or own_claim(actor, claimant_id) or not actor.active:
        return False
    if step.kind is StepKind.FINANCE:
        return actor.has(Role.FINANCE)
    return step.approver_id == actor.id or step.approver_id in set(delegators)
