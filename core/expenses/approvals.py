"""Approvals: the route a claim takes when submitted, the decisions on it, and its SLA.

The expenses service calls route_and_submit / budget_impacts / preview_route / withdraw
inside its own unit of work; the ApprovalService holds the approvers' use cases. The
rules are the domain's (ClaimApproval in core/domain/expenses/approvals.py): these use cases
load the claim and its steps, ask it, store what it decided and send the cards. Every
status change is a conditional update on the claim's status and version, so two presses
or two approvers at once give exactly one decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from core.config import ApprovalSlaConfig, ExpensesConfig
from core.domain.errors import DomainError, NotFound
from core.domain.expenses.approvals import (
    ClaimApproval,
    Handover,
    RouteStep,
    SlaAction,
    approval_route,
    check_reason,
    check_submittable,
    escalation_levels,
    own_claim,
    require_pending,
)
from core.domain.expenses.budgets import (
    ALERT_THRESHOLDS,
    Budget,
    BudgetImpact,
    OverrunPolicy,
    UnitKind,
    budgets_for,
    thresholds_reached,
)
from core.domain.expenses.claims import (
    ApprovalStep,
    Claim,
    ClaimAction,
    ClaimEvent,
    ClaimStatus,
    Receipt,
    StepKind,
    StepState,
    claim_number,
    duplicate_claims,
)
from core.domain.expenses.stats import opportunity_label
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.domain.org.model import Member, OrgSettings, OrgTree, Project, Role
from core.domain.org.permissions import can_see_money_of
from core.inbox.notifications import publish
from core.org.members import active_member
from core.ports import Clock, PhotoFiles, UnitOfWork, UnitOfWorkFactory

SUBJECT = "expense_claim"
# What SubmitResult.warnings may hold.
WARN_OVER_BUDGET = "over_budget"
WARN_ESCALATED = "escalated"


@dataclass(frozen=True)
class SubmitResult:
    claim: Claim  # pending, numbered
    steps: list[ApprovalStep]
    impacts: list[BudgetImpact]
    warnings: list[str]  # WARN_OVER_BUDGET, WARN_ESCALATED
    duplicates: list[str]  # numbers of other claims with one of its receipts


# The organisation as the approval rules read it -----------------------------------------

@dataclass(frozen=True)
class OrgView:
    """Departments, members and projects, loaded once per unit of work."""

    tree: OrgTree
    members: dict[int, Member]
    projects: dict[int, Project]

    @property
    def finance(self) -> list[Member]:
        return [m for m in self.members.values() if m.active and m.has(Role.FINANCE)]

    @cached_property
    def retired(self) -> frozenset[int]:
        """Inactive members: they approve, escalate to and hear about nothing."""
        return frozenset(m.id for m in self.members.values() if not m.active)

    def name(self, member_id: int | None) -> str:
        member = self.members.get(member_id) if member_id is not None else None
        return member.name if member else ""

    @cached_property
    def names(self) -> dict[int, str]:
        return {m.id: m.name for m in self.members.values()}

    def unit_name(self, kind: UnitKind | None, unit_id: int | None) -> str:
        if kind is UnitKind.DEPARTMENT and unit_id in self.tree.departments:
            return self.tree.departments[unit_id].name
        if kind is UnitKind.PROJECT and unit_id in self.projects:
            return self.projects[unit_id].name
        if kind is UnitKind.MEMBER and unit_id in self.members:
            return self.members[unit_id].name
        return ""

    def unit_department(self, kind: UnitKind, unit_id: int) -> int | None:
        """The department a unit belongs to: itself, a project's, a member's."""
        if kind is UnitKind.DEPARTMENT:
            return unit_id if unit_id in self.tree.departments else None
        if kind is UnitKind.PROJECT:
            project = self.projects.get(unit_id)
            return project.department_id if project else None
        member = self.members.get(unit_id)
        return member.department_id if member else None

    def unit_manager(self, kind: UnitKind, unit_id: int) -> int | None:
        """Who hears about a unit's budget: the nearest manager above it."""
        department = self.unit_department(kind, unit_id)
        if department is None:
            return None
        chain = self.tree.manager_chain(department, retired=self.retired)
        if kind is UnitKind.MEMBER:
            chain = [m for m in chain if m != unit_id] or chain
        return chain[0] if chain else None


async def load_org(uow: UnitOfWork) -> OrgView:
    members = await uow.members.all()
    return OrgView(OrgTree.of(await uow.departments.all()), {m.id: m for m in members},
                   {p.id: p for p in await uow.projects.all()})


def _local_day(now: datetime, settings: OrgSettings) -> date:
    return now.astimezone(ZoneInfo(settings.timezone)).date()


# Delegation ------------------------------------------------------------------------------

def delegates_of(org: OrgView, config: ExpensesConfig, approver_id: int,
                 today: date) -> list[Member]:
    """Active delegates deciding for the approver while they are away."""
    approver = org.members.get(approver_id)
    if approver is None:
        return []
    by_key = {m.key: m for m in org.members.values()}
    found = []
    for delegation in config.delegations:
        delegate = by_key.get(delegation.delegate)
        if (delegation.member == approver.key and delegate is not None and delegate.active
                and (delegation.until is None or today <= delegation.until)):
            found.append(delegate)
    return found


def delegators_of(org: OrgView, config: ExpensesConfig, actor: Member,
                  today: date) -> set[int]:
    """Approvers the actor decides for today, by configured delegation."""
    by_key = {m.key: m for m in org.members.values()}
    return {by_key[d.member].id for d in config.delegations
            if d.delegate == actor.key and d.member in by_key
            and (d.until is None or today <= d.until)}


def step_recipients(org: OrgView, config: ExpensesConfig, step: ApprovalStep,
                    claimant_id: int, today: date) -> list[Member]:
    """Who receives a step's card: the approver and their delegate, or finance."""
    if step.kind is StepKind.FINANCE:
        people = [m for m in org.finance if not own_claim(m, claimant_id)]
    else:
        approver = org.members.get(step.approver_id)
        people = [approver] if approver is not None and approver.active else []
        people += delegates_of(org, config, step.approver_id, today)
    seen: dict[int, Member] = {}
    for person in people:
        if not own_claim(person, claimant_id):
            seen.setdefault(person.id, person)
    return list(seen.values())


# Budgets ---------------------------------------------------------------------------------

def category_names(config: ExpensesConfig, key: str | None) -> tuple[str, str]:
    """A category's name in English and Chinese (the key itself if it left the config)."""
    for category in config.categories:
        if category.key == key:
            return category.name, category.name_zh or category.name
    return (key or "", key or "")


def budget_snapshot(org: OrgView, config: ExpensesConfig,
                    impact: BudgetImpact) -> dict[str, Any]:
    """A budget and its use, as a card or the claimant's summary shows it."""
    budget = impact.budget
    name, name_zh = category_names(config, budget.category) if budget.category else ("", "")
    return {"budget_id": budget.id, "category": budget.category, "category_name": name,
            "category_name_zh": name_zh, "unit": org.unit_name(budget.unit_kind, budget.unit_id),
            "period": budget.period.label, "used": str(impact.used),
            "limit": str(budget.amount), "after": str(impact.after),
            "percent": impact.percent, "over": str(impact.over), "policy": str(budget.policy)}


def budget_label(org: OrgView, config: ExpensesConfig, budget: Budget) -> str:
    """'Travel · East region · 2026-11' (English names, for logs and tests)."""
    category = category_names(config, budget.category)[0] if budget.category else "All"
    return " · ".join([category, org.unit_name(budget.unit_kind, budget.unit_id),
                       budget.period.label])


def budget_names(org: OrgView, config: ExpensesConfig, budget: Budget) -> dict[str, str]:
    """A refusal's budget in parts, so that it is named in the reader's language: the
    category in English and Chinese ("" for every category), the unit and the period."""
    name, name_zh = category_names(config, budget.category) if budget.category else ("", "")
    return {"budget_category": name, "budget_category_zh": name_zh,
            "budget_unit": org.unit_name(budget.unit_kind, budget.unit_id),
            "budget_period": budget.period.label}


async def budget_impacts(uow: UnitOfWork, claim: Claim) -> list[BudgetImpact]:
    """The budgets the claim is charged against, with what is used without it."""
    if claim.unit_kind is None or claim.unit_id is None or claim.spent_on is None \
            or claim.category is None or claim.amount is None:
        return []
    impacts = []
    for budget in budgets_for(await uow.budgets.all(), claim.unit_kind, claim.unit_id,
                              claim.category, claim.spent_on):
        used = await uow.approvals.usage(budget.unit_kind, budget.unit_id, budget.category,
                                         budget.period.start, budget.period.end,
                                         exclude=claim.id)
        impacts.append(BudgetImpact(budget, used, claim.amount))
    return impacts


async def claim_budgets(uow: UnitOfWork, claim: Claim) -> list[Budget]:
    """The budgets a submitted claim is charged against."""
    return [i.budget for i in await budget_impacts(uow, claim)]


def alert_key(budget_id: int, threshold: int) -> str:
    return f"budget:{budget_id}:{threshold}"


async def refresh_budget_alerts(uow: UnitOfWork, org: OrgView, config: ExpensesConfig,
                                budgets: Iterable[Budget], *, now: datetime,
                                settings: OrgSettings) -> int:
    """Bring the 80% / 100% alerts of these budgets to what is true now; alerts published.

    Called whenever usage or a limit changes. The unit's manager gets one alert for the
    highest threshold reached (crossing both at once is one alert), showing the usage as it
    is now; an alert no longer true (a claim rejected or withdrawn, a limit raised) is
    withdrawn: not sent if it is still waiting, marked as withdrawn if it was.
    """
    created = 0
    for budget in {b.id: b for b in budgets if b.id is not None}.values():
        manager = org.unit_manager(budget.unit_kind, budget.unit_id)
        if manager is None:
            continue
        used = await uow.approvals.usage(budget.unit_kind, budget.unit_id, budget.category,
                                         budget.period.start, budget.period.end)
        now_true = BudgetImpact(budget, used, Decimal(0))
        reached = thresholds_reached(used, budget.amount)
        for threshold in ALERT_THRESHOLDS:
            key = alert_key(budget.id, threshold)
            payload = {**budget_snapshot(org, config, now_true), "threshold": threshold,
                       "currency": settings.currency}
            sent = await uow.notifications.by_key(key)
            if threshold not in reached:
                if sent is not None and not sent.payload.get("withdrawn"):
                    await uow.notifications.withdraw(key, {**payload, "withdrawn": True})
            elif threshold == max(reached):
                if sent is None:
                    created += bool(await publish(uow, NewNotification(
                        key=key, kind=NotificationKind.BUDGET_ALERT, payload=payload,
                        member_id=manager, subject_type="budget", subject_id=budget.id),
                        now=now, settings=settings))
                else:
                    await uow.notifications.revise(key, payload)
            elif sent is not None and not sent.payload.get("withdrawn"):
                # Passed by a higher one: dropped while waiting, kept as it was if sent.
                await uow.notifications.withdraw(key, quietly=True)
    return created


# Cards -----------------------------------------------------------------------------------

def card_key(claim_id: int, position: int, member_id: int, suffix: str = "") -> str:
    return f"approval:{claim_id}:{position}:{member_id}{suffix}"


async def opportunity_title(uow: UnitOfWork, opportunity_id: int | None) -> str | None:
    """"customer · title" of the claim's opportunity (None without one)."""
    if opportunity_id is None:
        return None
    found = await uow.opportunities.get(opportunity_id)
    return opportunity_label(opportunity_id, *((found.customer_name, found.title) if found
                                               else (None, None)))


def claim_snapshot(org: OrgView, config: ExpensesConfig, claim: Claim,
                   opportunity: str | None = None) -> dict[str, Any]:
    """What a card says about the claim itself (`opportunity`: its "customer · title")."""
    name, name_zh = category_names(config, claim.category)
    return {"claim_id": claim.id, "number": claim.number, "version": claim.version,
            "claimant": org.name(claim.member_id), "claimant_id": claim.member_id,
            "amount": str(claim.amount), "currency": claim.currency,
            "category": claim.category, "category_name": name, "category_name_zh": name_zh,
            "spent_on": claim.spent_on.isoformat() if claim.spent_on else None,
            "unit": org.unit_name(claim.unit_kind, claim.unit_id),
            "unit_kind": str(claim.unit_kind) if claim.unit_kind else None,
            "description": claim.description, "receipts": claim.receipt_count,
            "opportunity_id": claim.opportunity_id, "opportunity": opportunity}


async def possible_duplicates(uow: UnitOfWork, claim: Claim) -> list[str]:
    """Numbers of other pending or approved claims, anyone's, with one of this claim's
    receipts: the same file, or a photo of the same receipt (its difference hash)."""
    receipts = await uow.approvals.receipts(claim.id)
    if not receipts:
        return []
    return duplicate_claims(receipts, await uow.approvals.receipts_elsewhere(
        claim.id, {r.sha256 for r in receipts}))


def card_payload(org: OrgView, config: ExpensesConfig, claim: Claim, step: ApprovalStep,
                 steps: list[ApprovalStep], impacts: list[BudgetImpact], *,
                 duplicates: list[str], reminder: bool = False,
                 opportunity: str | None = None) -> dict[str, Any]:
    warnings = []
    if any(i.overrun for i in impacts):
        warnings.append(WARN_OVER_BUDGET)
    if any(s.escalated for s in steps):
        warnings.append(WARN_ESCALATED)
    return {**claim_snapshot(org, config, claim, opportunity), "step": step.position,
            "steps": len(steps),
            "kind": str(step.kind), "approver": org.name(step.approver_id),
            "budgets": [budget_snapshot(org, config, i) for i in impacts],
            "warnings": warnings, "duplicates": duplicates, "reminder": reminder,
            "state": "open"}


async def publish_cards(uow: UnitOfWork, org: OrgView, config: ExpensesConfig, claim: Claim,
                        step: ApprovalStep, steps: list[ApprovalStep], *, now: datetime,
                        settings: OrgSettings, recipients: list[Member] | None = None,
                        suffix: str = "", reminder: bool = False) -> int:
    """The step's card to each of its recipients (idempotent by key)."""
    impacts = await budget_impacts(uow, claim)
    payload = card_payload(org, config, claim, step, steps, impacts, reminder=reminder,
                           duplicates=await possible_duplicates(uow, claim),
                           opportunity=await opportunity_title(uow, claim.opportunity_id))
    if recipients is None:
        recipients = step_recipients(org, config, step, claim.member_id,
                                     _local_day(now, settings))
    created = 0
    for person in recipients:
        if await publish(uow, NewNotification(
                key=card_key(claim.id, step.position, person.id, suffix),
                kind=NotificationKind.APPROVAL_REQUEST, payload=payload, member_id=person.id,
                subject_type=SUBJECT, subject_id=claim.id), now=now, settings=settings):
            created += 1
    return created


async def revise_cards(uow: UnitOfWork, claim_id: int, outcome: dict[str, Any], *,
                       positions: set[int] | None = None) -> int:
    """Show a decision on every card sent for the claim (or for some of its steps)."""
    revised = 0
    for key in await uow.approvals.card_keys(claim_id):
        card = await uow.notifications.by_key(key)
        if card is None or (positions is not None and card.payload.get("step") not in positions):
            continue
        await uow.notifications.revise(key, {**card.payload, **outcome})
        revised += 1
    return revised


# The seam with the claimant's side ---------------------------------------------------------

def _route(org: OrgView, config: ExpensesConfig, claim: Claim, claimant: Member,
           extra: int) -> list[RouteStep]:
    return approval_route(org.tree, claimant, claim.amount or Decimal(0),
                          config.approval_thresholds,
                          finance_ids=[m.id for m in org.finance],
                          finance_step=config.finance_step, retired=org.retired,
                          extra_levels=extra)


async def preview_route(uow: UnitOfWork, claim: Claim, claimant: Member, *,
                        config: ExpensesConfig) -> list[tuple[RouteStep, str]]:
    """Who would approve the claim if submitted now, each with a display name."""
    org = await load_org(uow)
    extra = escalation_levels(await budget_impacts(uow, claim))
    return [(step, org.name(step.approver_id) if step.kind is StepKind.MANAGER else "")
            for step in _route(org, config, claim, claimant, extra)]


def _blocking(impacts: list[BudgetImpact]) -> BudgetImpact | None:
    blocked = [i for i in impacts if i.overrun and i.budget.policy is OverrunPolicy.BLOCK]
    return max(blocked, key=lambda i: i.over) if blocked else None


async def route_and_submit(uow: UnitOfWork, claim: Claim, claimant: Member, *,
                           settings: OrgSettings, config: ExpensesConfig, now: datetime,
                           chat_id: int | None) -> SubmitResult:
    """Check the budgets, route, number and submit a draft; send the first card."""
    check_submittable(claim)
    org = await load_org(uow)
    impacts = await budget_impacts(uow, claim)
    if (blocking := _blocking(impacts)) is not None:
        raise DomainError("budget_blocked", over=blocking.over,
                          budget=budget_label(org, config, blocking.budget),
                          limit=blocking.budget.amount,
                          **budget_names(org, config, blocking.budget))
    extra = escalation_levels(impacts)
    opened = ClaimApproval.submit(
        claim, _route(org, config, claim, claimant, extra),
        number=claim_number(_local_day(now, settings).year, claim.id), at=now)
    number = opened.claim.number
    stage = None
    if claim.opportunity_id is not None:
        on = (claim.opportunity_id, claim.spent_on)
        stage = (await uow.opportunities.stages_on([on], ZoneInfo(settings.timezone)))[on]
    if not await uow.approvals.submit(claim.id, version=claim.version, number=number,
                                      department_id=claimant.department_id, at=now,
                                      stage=stage):
        raise DomainError("claim_changed")
    steps = await uow.approvals.add_steps(list(opened.steps))
    submitted = await uow.approvals.claim(claim.id)
    warnings = ([WARN_OVER_BUDGET] if any(i.overrun for i in impacts) else []) + (
        [WARN_ESCALATED] if extra else [])
    await uow.approvals.add_event(ClaimEvent(
        None, claim.id, ClaimAction.SUBMITTED, claimant.id, now, chat_id,
        {"number": number, "amount": str(claim.amount), "steps": len(steps),
         "warnings": warnings}))
    await publish_cards(uow, org, config, submitted, steps[0], steps, now=now,
                        settings=settings)
    await refresh_budget_alerts(uow, org, config, [i.budget for i in impacts], now=now,
                                settings=settings)
    return SubmitResult(submitted, steps, impacts, warnings,
                        await possible_duplicates(uow, submitted))


async def withdraw(uow: UnitOfWork, claim: Claim, actor: Member, *, now: datetime,
                   chat_id: int | None, config: ExpensesConfig,
                   settings: OrgSettings) -> Claim:
    """The author takes back a pending claim; the approvers' cards and budget alerts say so."""
    withdrawal = ClaimApproval(claim, await uow.approvals.steps(claim.id)).withdraw(
        actor, now, chat_id=chat_id)
    if not await uow.approvals.transition(claim.id, version=claim.version,
                                          status=withdrawal.claim.status, at=now):
        require_pending(await uow.approvals.claim(claim.id))
        raise DomainError("claim_changed")
    await _cancel(uow, claim.id, withdrawal.cancelled)
    await uow.approvals.add_event(withdrawal.event)
    await revise_cards(uow, claim.id, {"state": str(ClaimStatus.WITHDRAWN),
                                       "by": actor.name, "at": now.isoformat()})
    await refresh_budget_alerts(uow, await load_org(uow), config, await claim_budgets(uow, claim),
                                now=now, settings=settings)
    return await uow.approvals.claim(claim.id)


async def _cancel(uow: UnitOfWork, claim_id: int, cancelled: Sequence[ApprovalStep]) -> None:
    """The claim ended: its open steps are cancelled (in one conditional update)."""
    if cancelled:
        await uow.approvals.cancel_open_steps(claim_id)


# The approvers' use cases ------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    """What a press decided: the claim after it and who is asked next (if anyone)."""

    claim: Claim
    action: ClaimAction  # APPROVED or REJECTED
    step: ApprovalStep
    next_step: ApprovalStep | None = None
    next_approver: str = ""
    claimant: str = ""


@dataclass(frozen=True)
class StepView:
    step: ApprovalStep
    approver: str  # the named approver, or "" for the finance pool
    decided_by: str


@dataclass(frozen=True)
class ClaimView:
    """A claim as an approver (or its author, or someone above them) reads it now."""

    claim: Claim
    claimant: str
    payload: dict[str, Any]  # what the card shows, from the current state
    steps: list[StepView]
    receipts: list[Receipt]
    events: list[ClaimEvent]
    can_decide: bool
    names: dict[int, str] = field(default_factory=dict)


async def load_approval(uow: UnitOfWork, claim_id: int) -> ClaimApproval:
    """A submitted claim with its steps; NotFound for a claim that does not exist."""
    claim = await uow.approvals.claim(claim_id)
    if claim is None:
        raise NotFound("claim_not_found")
    return ClaimApproval(claim, await uow.approvals.steps(claim_id))


def card_holders(org: OrgView, config: ExpensesConfig, approval: ClaimApproval,
                 today: date) -> set[int]:
    """Everyone a card of the claim's steps goes to (approvers, delegates, finance)."""
    return {person.id for step in approval.steps
            for person in step_recipients(org, config, step, approval.claim.member_id, today)}


class ApprovalService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 config: ExpensesConfig, sla: ApprovalSlaConfig | None = None,
                 photos: PhotoFiles | None = None) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self._config = config
        self._sla = sla or ApprovalSlaConfig()
        self._photos = photos

    # Deciding -----------------------------------------------------------------------------

    async def approve(self, account_id: int, claim_id: int, *, version: int,
                      chat_id: int | None) -> Decision:
        return await self._decide(account_id, claim_id, version=version, chat_id=chat_id,
                                  action=ClaimAction.APPROVED, reason=None)

    async def reject(self, account_id: int, claim_id: int, *, version: int, reason: str,
                     chat_id: int | None) -> Decision:
        return await self._decide(account_id, claim_id, version=version, chat_id=chat_id,
                                  action=ClaimAction.REJECTED, reason=check_reason(reason))

    async def check_reject(self, account_id: int, claim_id: int, *, version: int) -> Claim:
        """Before asking for a reason: may this person reject this claim at this version?"""
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            org = await load_org(uow)
            settings = await uow.organization.get() or self._defaults
            approval = await load_approval(uow, claim_id)
            approval.decidable_by(actor, version=version, **self._deciding(
                org, actor, approval, _local_day(self._clock.now(), settings)))
            return approval.claim

    def _deciding(self, org: OrgView, actor: Member, approval: ClaimApproval,
                  today: date) -> dict[str, Any]:
        """What the claim's rules read about the people around a decision today."""
        return {"delegators": delegators_of(org, self._config, actor, today),
                "card_holders": card_holders(org, self._config, approval, today),
                "names": org.names}

    async def _decide(self, account_id: int, claim_id: int, *, version: int,
                      chat_id: int | None, action: ClaimAction, reason: str | None) -> Decision:
        now = self._clock.now()
        async with self._uows() as uow:
            actor = await active_member(uow, account_id)
            org = await load_org(uow)
            settings = await uow.organization.get() or self._defaults
            approval = await load_approval(uow, claim_id)
            deciding = self._deciding(org, actor, approval, _local_day(now, settings))
            if action is ClaimAction.REJECTED:
                decision = approval.reject(actor, now, reason, version=version,
                                           chat_id=chat_id, **deciding)
            else:
                decision = approval.approve(actor, now, version=version, chat_id=chat_id,
                                            **deciding)
            claim, decided, next_step = approval.claim, decision.step, decision.next_step
            status = decision.claim.status
            if not await uow.approvals.transition(claim.id, version=claim.version,
                                                  status=status, at=now):
                now_is = ClaimApproval(await uow.approvals.claim(claim.id) or claim,
                                       await uow.approvals.steps(claim.id))
                raise now_is.lost_race(org.names)
            await uow.approvals.save_step(decided)
            if next_step is not None:
                await uow.approvals.save_step(next_step)
            await _cancel(uow, claim.id, decision.cancelled)
            await uow.approvals.add_event(decision.event)
            after = await uow.approvals.claim(claim.id)
            steps = await uow.approvals.steps(claim.id)
            outcome = {"state": str(status) if status is not ClaimStatus.PENDING else "passed",
                       "by": actor.name, "reason": reason, "at": now.isoformat()}
            await revise_cards(uow, claim.id, outcome, positions={decided.position})
            if next_step is None:
                # Earlier approvers keep their own step's line and learn how it ended.
                earlier = {s.position for s in steps if s.position < decided.position}
                await revise_cards(uow, claim.id, {
                    "final": str(status), "final_by": actor.name, "final_reason": reason},
                    positions=earlier)
            if next_step is not None:
                await publish_cards(uow, org, self._config, after, next_step, steps, now=now,
                                    settings=settings)
            if status is ClaimStatus.REJECTED:
                await refresh_budget_alerts(uow, org, self._config,
                                            await claim_budgets(uow, claim), now=now,
                                            settings=settings)
            await self._tell_claimant(uow, org, after, decided, next_step, now=now,
                                      settings=settings)
            await uow.commit()
            return Decision(after, decision.action, decided, next_step,
                            org.name(next_step.approver_id) if next_step else "",
                            org.name(after.member_id))

    async def _tell_claimant(self, uow: UnitOfWork, org: OrgView, claim: Claim,
                             step: ApprovalStep, next_step: ApprovalStep | None, *,
                             now: datetime, settings: OrgSettings) -> None:
        payload = {"claim_id": claim.id, "number": claim.number, "amount": str(claim.amount),
                   "currency": claim.currency, "action": str(step.state),
                   "status": str(claim.status), "by": org.name(step.decided_by),
                   "reason": step.reason, "step": step.position,
                   "next": (org.name(next_step.approver_id) if next_step
                            and next_step.kind is StepKind.MANAGER else None),
                   "next_kind": str(next_step.kind) if next_step else None}
        await publish(uow, NewNotification(
            key=f"decision:{claim.id}:{step.position}", kind=NotificationKind.APPROVAL_DECISION,
            payload=payload, member_id=claim.member_id, subject_type=SUBJECT,
            subject_id=claim.id), now=now, settings=settings)

    # Reading ------------------------------------------------------------------------------

    async def view(self, account_id: int, claim_id: int) -> ClaimView:
        """The claim's card, route, receipts and history for those who may see it."""
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            org = await load_org(uow)
            settings = await uow.organization.get() or self._defaults
            return await self._view(uow, org, actor, claim_id,
                                    _local_day(self._clock.now(), settings))

    async def _view(self, uow: UnitOfWork, org: OrgView, actor: Member, claim_id: int,
                    today: date) -> ClaimView:
        approval = await load_approval(uow, claim_id)
        claim, steps = approval.claim, list(approval.steps)
        if claim.status is ClaimStatus.DRAFT:
            raise NotFound("claim_not_found")
        claimant = org.members.get(claim.member_id)
        if not (approval.involves(actor.id, card_holders(org, self._config, approval, today))
                or claimant is None or can_see_money_of(actor, claimant, org.tree)):
            raise NotFound("claim_not_found")
        step = approval.current
        open_steps = list(approval.open_steps)
        impacts = await budget_impacts(uow, claim)
        payload = card_payload(org, self._config, claim, step or open_steps[-1],
                               open_steps, impacts,
                               duplicates=await possible_duplicates(uow, claim),
                               opportunity=await opportunity_title(uow,
                                                                   claim.opportunity_id))
        can = approval.may_decide(
            actor, delegators=delegators_of(org, self._config, actor, today))
        last = approval.last_decision
        if claim.status is not ClaimStatus.PENDING:
            payload.update(state=str(claim.status), by=org.name(last.decided_by)
                           if last and claim.status is not ClaimStatus.WITHDRAWN
                           else org.name(claim.member_id),
                           reason=last.reason if last else None)
        return ClaimView(
            claim, org.name(claim.member_id), payload,
            [StepView(s, org.name(s.approver_id), org.name(s.decided_by)) for s in steps],
            await uow.approvals.receipts(claim_id), await uow.approvals.events(claim_id),
            can, {m.id: m.name for m in org.members.values()})

    async def receipt_images(self, account_id: int, claim_id: int,
                             only: int | None = None) -> list[tuple[Receipt, bytes | None]]:
        """The claim's receipts for someone who may see it: the kept file, or None when
        the store has lost it (the messenger's file id may still show it). `only`: just the
        one at that place (from 0), none when there is no such receipt."""
        receipts = (await self.view(account_id, claim_id)).receipts
        if only is not None:
            receipts = receipts[only:only + 1] if only >= 0 else []
        images = []
        for receipt in receipts:
            try:
                data = self._photos.read(receipt.sha256) if self._photos else None
            except OSError:
                data = None
            images.append((receipt, data))
        return images

    async def waiting(self, account_id: int) -> list[ClaimView]:
        """Claims waiting for this person's decision now, the longest waiting first."""
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            org = await load_org(uow)
            settings = await uow.organization.get() or self._defaults
            ids = {actor.id} | delegators_of(org, self._config, actor,
                                             _local_day(self._clock.now(), settings))
            steps = await uow.approvals.waiting_for(ids, actor.has(Role.FINANCE))
            today = _local_day(self._clock.now(), settings)
            # One transaction and one reading of the org for the whole queue.
            views = [await self._view(uow, org, actor, s.claim_id, today) for s in steps]
        # The finance pool's steps include a finance member's own claims: never theirs.
        return [v for v in views if v.can_decide]

    # The SLA rule -------------------------------------------------------------------------

    async def run_sla(self, now: datetime | None = None) -> int:
        """Remind approvers who let a claim wait, then pass it one level up; once each."""
        now = now or self._clock.now()
        remind = timedelta(hours=self._sla.remind_after_hours)
        escalate = timedelta(hours=self._sla.escalate_after_hours)
        created = 0
        async with self._uows() as uow:
            settings = await uow.organization.get() or self._defaults
            org = await load_org(uow)
            for step in await uow.approvals.overdue_steps(now - min(remind, escalate)):
                claim = await uow.approvals.claim(step.claim_id)
                if claim is None or claim.status is not ClaimStatus.PENDING:
                    continue
                approval = ClaimApproval(claim, await uow.approvals.steps(claim.id))
                due = approval.sla_due(now, remind_after=remind, escalate_after=escalate)
                if due is SlaAction.ESCALATE:
                    created += await self._escalate(uow, org, approval, now, settings)
                elif due is SlaAction.REMIND:
                    created += await self._remind(uow, org, approval, now, settings)
            await uow.commit()
        return created

    async def _remind(self, uow: UnitOfWork, org: OrgView, approval: ClaimApproval,
                      now: datetime, settings: OrgSettings) -> int:
        claim, step = approval.claim, approval.current
        reminder = approval.remind(now)
        if not await uow.approvals.mark_reminded(step.id, now):
            return 0
        await uow.approvals.add_event(reminder.event)
        return await self._ask_again(uow, org, claim, step, now, settings)

    async def _ask_again(self, uow: UnitOfWork, org: OrgView, claim: Claim, step: ApprovalStep,
                         now: datetime, settings: OrgSettings) -> int:
        steps = await uow.approvals.steps(claim.id)
        return await publish_cards(uow, org, self._config, claim, step, steps, now=now,
                                   settings=settings, suffix=":reminder", reminder=True)

    async def _escalate(self, uow: UnitOfWork, org: OrgView, approval: ClaimApproval,
                        now: datetime, settings: OrgSettings) -> int:
        """The next manager above the approver takes the step over (finance steps and the
        top of the tree have nobody above: their approvers are reminded instead)."""
        claim, step = approval.claim, approval.current
        handover = approval.escalate(org.tree, org.members.get(claim.member_id),
                                     retired=org.retired, at=now)
        if not await uow.approvals.escalate_step(step.id, handover.to, now):
            return 0
        if handover.event is not None:
            await uow.approvals.add_event(handover.event)
        if handover.to is None:
            if handover.event is None:
                return 0
            return await self._ask_again(uow, org, claim, step, now, settings)
        return await self._passed_to(uow, org, claim, step, handover, "escalated", now,
                                     settings, suffix=":escalated")

    async def _passed_to(self, uow: UnitOfWork, org: OrgView, claim: Claim,
                         step: ApprovalStep, handover: Handover, state: str, now: datetime,
                         settings: OrgSettings, *, suffix: str) -> int:
        """The step now waits on another approver: the old cards say so, the new approver
        gets one."""
        for later in handover.cancelled:
            await uow.approvals.save_step(later)
        await revise_cards(uow, claim.id, {"state": state, "by": org.name(handover.to),
                                           "at": now.isoformat()}, positions={step.position})
        steps = await uow.approvals.steps(claim.id)
        moved = next(s for s in steps if s.id == step.id)
        open_steps = [s for s in steps if s.state is not StepState.CANCELLED]
        return await publish_cards(uow, org, self._config, claim, moved, open_steps,
                                   now=now, settings=settings, suffix=suffix)

    # People who left ------------------------------------------------------------------------

    async def pass_over_retired(self, now: datetime | None = None) -> int:
        """Claims waiting on someone who has left the company go to the manager who would be
        asked now, at once and whether or not the SLA rule runs."""
        now = now or self._clock.now()
        created = 0
        async with self._uows() as uow:
            org = await load_org(uow)
            steps = await uow.approvals.current_steps_of(org.retired) if org.retired else []
            if not steps:
                return 0
            settings = await uow.organization.get() or self._defaults
            for step in steps:
                claim = await uow.approvals.claim(step.claim_id)
                if claim is None or claim.status is not ClaimStatus.PENDING:
                    continue
                approval = ClaimApproval(claim, await uow.approvals.steps(claim.id))
                handover = approval.pass_over(org.tree, org.members.get(claim.member_id),
                                              retired=org.retired, at=now)
                if handover is None or not await uow.approvals.hand_over_step(
                        step.id, handover.previous, handover.to):
                    continue
                await uow.approvals.add_event(handover.event)
                created += await self._passed_to(uow, org, claim, step, handover,
                                                 "handed_over", now, settings,
                                                 suffix=f":handed_over:{handover.to}")
            await uow.commit()
        return created
