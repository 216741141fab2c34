"""Who approves a claim, and the claim's way through its route: submitted, decided step by
step, withdrawn, passed on when an approver is slow or has left.

`ClaimApproval` is the claim with its steps. Each transition checks whether it may happen,
raises a DomainError saying why not, and returns what changed (the claim after it, the steps
changed, the audit line) for the approvals service to store; nothing here reads or writes.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.expenses.budgets import BudgetImpact, OverrunPolicy, overrun_policy
from core.domain.expenses.claims import (
    ApprovalStep,
    Claim,
    ClaimAction,
    ClaimEvent,
    ClaimStatus,
    StepKind,
    StepState,
)
from core.domain.org.model import Member, OrgTree, Role
from core.domain.text import clean_text

REASON_MAX = 500
OPEN_STEPS = frozenset({StepState.WAITING, StepState.CURRENT})


# The route -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RouteStep:
    kind: StepKind
    approver_id: int | None
    escalated: bool = False


def escalation_levels(impacts: Iterable[BudgetImpact]) -> int:
    """Managers added above the usual route: one when the claim takes a budget set to
    escalate over its limit (and no budget blocks it)."""
    return 1 if overrun_policy(impacts) is OverrunPolicy.ESCALATE else 0


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


def check_reason(text: str) -> str:
    """A rejection says why: 1 to 500 characters."""
    reason = clean_text(text or "").strip()
    if not reason:
        raise DomainError("reason_empty")
    if len(reason) > REASON_MAX:
        raise DomainError("reason_too_long", limit=REASON_MAX)
    return reason


def check_submittable(claim: Claim) -> Claim:
    """A claim may be submitted while it is a draft with every field it needs."""
    if claim.status is not ClaimStatus.DRAFT:
        raise DomainError("claim_not_draft")
    if claim.missing() or claim.id is None:
        raise DomainError("claim_incomplete", missing=", ".join(claim.missing()))
    return claim


def require_pending(claim: Claim | None) -> Claim:
    """Refuse anything but a pending claim, saying what became of it."""
    if claim is None:
        raise NotFound("claim_not_found")
    if claim.status in (ClaimStatus.APPROVED, ClaimStatus.REJECTED):
        raise DomainError("claim_decided", status=str(claim.status))
    if claim.status is ClaimStatus.WITHDRAWN:
        raise DomainError("claim_withdrawn")
    if claim.status is not ClaimStatus.PENDING:
        raise DomainError("claim_not_pending")
    return claim


# What a transition changed ---------------------------------------------------------------

@dataclass(frozen=True)
class StepDecision:
    """An approver's press: the claim after it, the step decided, the next step made
    current (approved with steps left), the steps cancelled (rejected), the audit line."""

    claim: Claim
    step: ApprovalStep
    next_step: ApprovalStep | None
    cancelled: tuple[ApprovalStep, ...]
    event: ClaimEvent

    @property
    def action(self) -> ClaimAction:
        return self.event.action

    @property
    def final(self) -> bool:
        """The claim is decided for good (approved at the last step, or rejected)."""
        return self.next_step is None


@dataclass(frozen=True)
class Withdrawal:
    claim: Claim
    cancelled: tuple[ApprovalStep, ...]
    event: ClaimEvent


@dataclass(frozen=True)
class Reminder:
    """The current step's approvers are asked again (once a step)."""

    step: ApprovalStep
    event: ClaimEvent


@dataclass(frozen=True)
class Handover:
    """The current step passes to another approver: escalated by the SLA, or handed over
    because its approver left. `to` None: nobody above, the step stays (marked escalated)."""

    step: ApprovalStep  # the step after the move
    previous: int | None  # who it waited on before
    to: int | None
    # Later steps of the new approver: deciding this step, they are not asked twice.
    cancelled: tuple[ApprovalStep, ...]
    event: ClaimEvent | None


class SlaAction(enum.StrEnum):
    REMIND = "remind"
    ESCALATE = "escalate"


# The claim and its steps -----------------------------------------------------------------

@dataclass(frozen=True)
class ClaimApproval:
    """A claim with its approval steps, in route order."""

    claim: Claim
    steps: tuple[ApprovalStep, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(sorted(self.steps, key=lambda s: s.position)))

    # Submitting.

    @classmethod
    def submit(cls, claim: Claim, route: Sequence[RouteStep], *, number: str,
               at: datetime) -> ClaimApproval:
        """A complete draft becomes pending with its route: the first step is asked now."""
        check_submittable(claim)
        if not route:
            raise DomainError("no_approver")
        steps = tuple(
            ApprovalStep(None, claim.id, position, r.kind, r.approver_id,
                         StepState.CURRENT if position == 1 else StepState.WAITING,
                         reached_at=at if position == 1 else None, escalated=r.escalated)
            for position, r in enumerate(route, start=1))
        return cls(replace(claim, status=ClaimStatus.PENDING, number=number, submitted_at=at,
                           version=claim.version + 1), steps)

    # Reading.

    @property
    def current(self) -> ApprovalStep | None:
        """The step whose approver is asked now."""
        return next((s for s in self.steps if s.state is StepState.CURRENT), None)

    @property
    def last_decision(self) -> ApprovalStep | None:
        decided = [s for s in self.steps if s.decided_at is not None]
        return max(decided, key=lambda s: (s.decided_at, s.position)) if decided else None

    @property
    def open_steps(self) -> tuple[ApprovalStep, ...]:
        """The route as it stands: every step not cancelled (all of them if all were)."""
        return tuple(s for s in self.steps if s.state is not StepState.CANCELLED) or self.steps

    def may_decide(self, actor: Member, *, delegators: Iterable[int] = ()) -> bool:
        """Whether the actor may approve or reject the claim now."""
        step = self.current
        return (step is not None and self.claim.status is ClaimStatus.PENDING
                and may_decide(step, actor, self.claim.member_id, delegators=delegators))

    def involves(self, member_id: int, card_holders: Collection[int] = ()) -> bool:
        """The member had (or has) a card of the claim (`card_holders`: those its steps
        were sent to), is named on a step, or decided one."""
        return member_id in card_holders or any(
            s.decided_by == member_id or s.approver_id == member_id for s in self.steps)

    # Deciding.

    def decidable_by(self, actor: Member, *, version: int, delegators: Iterable[int] = (),
                     card_holders: Collection[int] = (),
                     names: Mapping[int, str] | None = None) -> ApprovalStep:
        """The step the actor decides at the version they saw; says why not otherwise.

        Those who had a card for the claim learn what became of it (`names` names who
        decided); anyone else only hears that it is not theirs to decide.
        """
        claim = self.claim
        if claim.status is ClaimStatus.DRAFT:
            raise NotFound("claim_not_found")
        if own_claim(actor, claim.member_id):
            raise NotAllowed("own_claim")
        delegators = set(delegators)
        allowed = self.may_decide(actor, delegators=delegators)
        if allowed and claim.version == version:
            return self.current
        if not self.involves(actor.id, card_holders):
            raise NotAllowed("not_your_approval")
        if claim.status is ClaimStatus.WITHDRAWN:
            raise DomainError("claim_withdrawn")
        last = self.last_decision
        if not allowed and last is not None:
            raise DomainError("already_decided", by=(names or {}).get(last.decided_by, ""),
                              status=str(last.state))
        if not allowed:
            raise NotAllowed("not_your_approval")
        raise DomainError("claim_changed")

    def approve(self, by: Member, at: datetime, *, version: int,
                delegators: Iterable[int] = (), card_holders: Collection[int] = (),
                names: Mapping[int, str] | None = None,
                chat_id: int | None = None) -> StepDecision:
        """Approve the current step: the next one is asked, or the claim is approved."""
        step = self.decidable_by(by, version=version, delegators=delegators,
                                 card_holders=card_holders, names=names)
        return self._decide(step, by, at, ClaimAction.APPROVED, None, chat_id)

    def reject(self, by: Member, at: datetime, reason: str, *, version: int,
               delegators: Iterable[int] = (), card_holders: Collection[int] = (),
               names: Mapping[int, str] | None = None,
               chat_id: int | None = None) -> StepDecision:
        """Reject the claim at the current step, saying why; the steps left are cancelled."""
        reason = check_reason(reason)
        step = self.decidable_by(by, version=version, delegators=delegators,
                                 card_holders=card_holders, names=names)
        return self._decide(step, by, at, ClaimAction.REJECTED, reason, chat_id)

    def _decide(self, step: ApprovalStep, by: Member, at: datetime, action: ClaimAction,
                reason: str | None, chat_id: int | None) -> StepDecision:
        following = [s for s in self.steps
                     if s.position > step.position and s.state is StepState.WAITING]
        if action is ClaimAction.REJECTED:
            status = ClaimStatus.REJECTED
        else:
            status = ClaimStatus.PENDING if following else ClaimStatus.APPROVED
        decided = replace(step, state=StepState(str(action)), decided_by=by.id,
                          decided_at=at, reason=reason)
        next_step = (replace(following[0], state=StepState.CURRENT, reached_at=at)
                     if status is ClaimStatus.PENDING else None)
        cancelled = self._cancel_open(but=step) if status is ClaimStatus.REJECTED else ()
        event = ClaimEvent(
            None, self.claim.id, action, by.id, at, chat_id,
            {"step": step.position, "version": self.claim.version,
             **({"reason": reason} if reason else {}),
             **({"for": step.approver_id} if step.approver_id not in (None, by.id) else {})})
        return StepDecision(self._moved(status, at), decided, next_step, cancelled, event)

    def lost_race(self, names: Mapping[int, str] | None = None) -> DomainError:
        """Why a decision read on an older copy was too late; `self` is the claim as it is
        now (someone withdrew or decided it between the read and the write)."""
        if self.claim.status is ClaimStatus.WITHDRAWN:
            return DomainError("claim_withdrawn")
        last = self.last_decision
        return DomainError("already_decided",
                           by=(names or {}).get(last.decided_by, "") if last else "",
                           status=str(last.state) if last else "")

    # The claimant takes it back.

    def withdraw(self, by: Member, at: datetime, *, chat_id: int | None = None) -> Withdrawal:
        """The author takes back a pending claim; the steps still open are cancelled."""
        if by.id != self.claim.member_id:
            raise NotAllowed("not_your_claim")
        require_pending(self.claim)
        return Withdrawal(self._moved(ClaimStatus.WITHDRAWN, at), self._cancel_open(),
                          ClaimEvent(None, self.claim.id, ClaimAction.WITHDRAWN, by.id, at,
                                     chat_id, {}))

    # Slow and departed approvers.

    def sla_due(self, at: datetime, *, remind_after: timedelta,
                escalate_after: timedelta) -> SlaAction | None:
        """What the SLA rule does now to a pending claim's current step (each once)."""
        step = self.current
        if step is None or self.claim.status is not ClaimStatus.PENDING \
                or step.reached_at is None:
            return None
        waited = at - step.reached_at
        if waited >= escalate_after and not step.escalated:
            return SlaAction.ESCALATE
        if waited >= remind_after and step.reminded_at is None:
            return SlaAction.REMIND
        return None

    def remind(self, at: datetime) -> Reminder:
        """Ask the current step's approvers again, with a line in the audit log."""
        step = self._current_or_refuse()
        return Reminder(replace(step, reminded_at=at), self._reminded(step, at))

    def escalate(self, tree: OrgTree, claimant: Member | None, *, retired: Collection[int],
                 at: datetime) -> Handover:
        """The next active manager above the approver takes the step over.

        Counted from where the approver stands in the claimant's chain, whether or not they
        still work here. Finance steps and the top of the tree have nobody above: the step
        stays, marked escalated, and its approvers are reminded if they were not yet.
        """
        step = self._current_or_refuse()
        target = None
        if step.kind is StepKind.MANAGER:
            chain = tree.manager_chain(claimant.department_id) if claimant else []
            above = chain[chain.index(step.approver_id) + 1:] \
                if step.approver_id in chain else []
            target = next((m for m in above
                           if m != self.claim.member_id and m not in retired), None)
        moved = replace(step, escalated=True, reminded_at=step.reminded_at or at)
        if target is None:
            event = self._reminded(step, at) if step.reminded_at is None else None
            return Handover(moved, step.approver_id, None, (), event)
        event = ClaimEvent(
            None, self.claim.id, ClaimAction.ESCALATED, None, at, None,
            {"step": step.position, "from": step.approver_id, "to": target,
             "hours": int((at - step.reached_at).total_seconds() // 3600)})
        return Handover(replace(moved, approver_id=target), step.approver_id, target,
                        self._asked_twice(step, target), event)

    def pass_over(self, tree: OrgTree, claimant: Member | None, *, retired: Collection[int],
                  at: datetime) -> Handover | None:
        """A step waiting on someone who left goes to the first active manager above the
        claimant who has not decided on the claim yet; None when there is nobody."""
        step = self._current_or_refuse()
        if claimant is None:
            return None
        decided = {s.decided_by for s in self.steps if s.position < step.position}
        chain = tree.manager_chain(claimant.department_id, retired=retired)
        target = next((m for m in chain if m != self.claim.member_id and m not in decided),
                      None)
        if target is None:
            return None
        return Handover(replace(step, approver_id=target), step.approver_id, target,
                        self._asked_twice(step, target), ClaimEvent(
                            None, self.claim.id, ClaimAction.HANDED_OVER, None, at, None,
                            {"step": step.position, "from": step.approver_id, "to": target}))

    # The parts.

    def _current_or_refuse(self) -> ApprovalStep:
        require_pending(self.claim)
        step = self.current
        if step is None:
            raise DomainError("claim_not_pending")
        return step

    def _moved(self, status: ClaimStatus, at: datetime) -> Claim:
        """The claim after a conditional status change: its version raised."""
        decided = status in (ClaimStatus.APPROVED, ClaimStatus.REJECTED)
        return replace(self.claim, status=status, version=self.claim.version + 1,
                       decided_at=at if decided else self.claim.decided_at)

    def _cancel_open(self, *, but: ApprovalStep | None = None) -> tuple[ApprovalStep, ...]:
        return tuple(replace(s, state=StepState.CANCELLED) for s in self.steps
                     if s.state in OPEN_STEPS and (but is None or s.position != but.position))

    def _asked_twice(self, step: ApprovalStep, target: int) -> tuple[ApprovalStep, ...]:
        return tuple(replace(s, state=StepState.CANCELLED) for s in self.steps
                     if s.position > step.position and s.approver_id == target
                     and s.state is StepState.WAITING)

    def _reminded(self, step: ApprovalStep, at: datetime) -> ClaimEvent:
        return ClaimEvent(None, self.claim.id, ClaimAction.REMINDED, None, at, None,
                          {"step": step.position, "approver": step.approver_id})
