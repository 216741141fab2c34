"""Expense claims as their author writes, submits, lists and withdraws them; trips.

The draft row is the state of the conversation: every answer is written at once (each
write conditional on the draft's state and version), and the next question is derived
from the row, so a restart loses nothing. Submitting, withdrawing and budget figures are
the approval module's (approvals.py), called inside this module's unit of work.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date
from zoneinfo import ZoneInfo

from core.config import ExpensesConfig
from core.domain.days import Toward, parse_day
from core.domain.errors import DomainError, NotFound
from core.domain.expenses.budgets import BudgetImpact, UnitKind
from core.domain.expenses.claims import (
    Claim,
    ClaimAction,
    ClaimEvent,
    ClaimReference,
    ClaimStatus,
    Receipt,
    StepKind,
    check_description,
    check_spent_on,
)
from core.domain.expenses.drafts import (
    DraftStep,
    ExpenseReport,
    check_own_draft,
    check_trip_title,
    describe,
    may_view_claim,
    next_step,
    read_entry,
    receipt_missing,
    receipt_required,
)
from core.domain.org.model import Member, OrgSettings, OrgTree
from core.domain.paging import Pages
from core.expenses import approvals
from core.opportunities.pipeline import open_opportunities, workable_opportunity
from core.org.members import active_member
from core.ports import Clock, PhotoStore, UnitOfWork, UnitOfWorkFactory

PAGE_SIZE = 5


async def offered_opportunities(uow: UnitOfWork, member: Member) -> list[tuple[int, str]]:
    """The member's open opportunities as (id, "customer · title"), to link a claim to."""
    return [(o.id, f"{o.customer_name} · {o.title}" if o.customer_name else o.title)
            for o in await open_opportunities(uow, member.id)]


@dataclass(frozen=True)
class UnitChoice:
    kind: UnitKind
    unit_id: int
    name: str


@dataclass(frozen=True)
class DraftView:
    """A draft and the question to ask next, with the choices that question offers."""

    claim: Claim
    step: DraftStep
    today: date
    units: list[UnitChoice]
    opportunities: list[tuple[int, str]]
    receipt_required: bool


@dataclass(frozen=True)
class ClaimSummary:
    """What the author sees before submitting: the claim, its budgets, who will approve."""

    claim: Claim
    unit_name: str
    impacts: list[BudgetImpact]
    route: list[tuple[StepKind, str]]  # (kind, approver's name; "" for the finance step)
    receipt_missing: bool
    trips: list[ExpenseReport]  # open trips the draft could join
    trip: ExpenseReport | None


@dataclass(frozen=True)
class ClaimPage:
    claims: list[Claim]
    page: int
    pages: int


@dataclass(frozen=True)
class HistoryLine:
    event: ClaimEvent
    actor: str  # "" for the system


@dataclass(frozen=True)
class ClaimDetail:
    claim: Claim
    author: str
    unit_name: str
    history: list[HistoryLine]
    mine: bool
    opportunity: str | None = None  # "customer · title" of the claim's opportunity


@dataclass(frozen=True)
class TripView:
    trip: ExpenseReport
    claims: list[Claim]


class TripRefused(DomainError):
    """One claim of a trip cannot be submitted, so none is: `claim` and the reason."""

    code = "trip_refused"

    def __init__(self, claim: Claim, cause: DomainError) -> None:
        super().__init__(self.code, claim_id=claim.id)
        self.claim = claim
        self.cause = cause


class ExpenseService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 config: ExpensesConfig, photos: PhotoStore) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self.config = config
        self._photos = photos

    # Reading the org -----------------------------------------------------------------------

    @property
    def _keywords(self) -> dict[str, list[str]]:
        return {c.key: c.keywords for c in self.config.categories}

    async def _settings(self, uow: UnitOfWork) -> OrgSettings:
        return await uow.organization.get() or self._defaults

    async def _today(self, uow: UnitOfWork) -> date:
        zone = ZoneInfo((await self._settings(uow)).timezone)
        return self._clock.now().astimezone(zone).date()

    async def _units(self, uow: UnitOfWork, member: Member) -> list[UnitChoice]:
        """My department, each active project I work on, and myself (personal)."""
        departments = {d.id: d for d in await uow.departments.all()}
        units = [UnitChoice(UnitKind.DEPARTMENT, member.department_id,
                            departments[member.department_id].name)]
        units += [UnitChoice(UnitKind.PROJECT, p.id, p.name)
                  for p in sorted(await uow.projects.all(), key=lambda p: p.name)
                  if p.active and member.id in p.member_ids]
        units.append(UnitChoice(UnitKind.MEMBER, member.id, member.name))
        return units

    async def _unit_name(self, uow: UnitOfWork, claim: Claim) -> str:
        if claim.unit_kind is UnitKind.DEPARTMENT:
            department = next((d for d in await uow.departments.all()
                               if d.id == claim.unit_id), None)
            return department.name if department else ""
        if claim.unit_kind is UnitKind.PROJECT:
            project = next((p for p in await uow.projects.all() if p.id == claim.unit_id), None)
            return project.name if project else ""
        if claim.unit_kind is UnitKind.MEMBER:
            owner = await uow.members.get(claim.unit_id)
            return owner.name if owner else ""
        return ""

    async def _view(self, uow: UnitOfWork, member: Member, claim: Claim,
                    after: DraftStep | None, guided: bool,
                    step: DraftStep | None = None) -> DraftView:
        opportunities = await offered_opportunities(uow, member)
        above = self.config.receipt_required_above
        step = step or next_step(claim, after, receipt_above=above, guided=guided,
                                 opportunities=bool(opportunities))
        return DraftView(claim, step, await self._today(uow), await self._units(uow, member),
                         opportunities, receipt_required(claim, above))

    async def _own_draft(self, uow: UnitOfWork, member: Member, claim_id: int) -> Claim:
        return check_own_draft(await uow.claims.get(claim_id), member)

    async def _save(self, uow: UnitOfWork, member: Member, before: Claim, after: Claim,
                    field: str, chat_id: int | None) -> Claim:
        """Store a change of the draft; a field that had a value is logged as edited."""
        now = self._clock.now()
        saved = await uow.claims.save_draft(after, now)
        if saved is None:
            raise DomainError("claim_changed")
        if _filled(before, field):
            await uow.claims.add_event(ClaimEvent(None, before.id, ClaimAction.EDITED, member.id,
                                                  now, chat_id, {"field": field}))
        return saved

    # Writing a draft -------------------------------------------------------------------------

    async def latest_draft(self, account_id: int) -> Claim | None:
        """The draft the member worked on last, offered to continue."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            return await uow.claims.latest_draft(member.id)

    async def opportunity_label(self, account_id: int, opportunity_id: int) -> str:
        """"customer · title" of an open deal the member works, to file a claim for it from
        its card; NotFound (or opp_closed) otherwise."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            deal = await workable_opportunity(uow, member, opportunity_id)
        return f"{deal.customer_name} · {deal.title}"

    async def begin(self, account_id: int, text: str, *, quick: bool,
                    chat_id: int | None = None,
                    opportunity_id: int | None = None) -> DraftView:
        """A new draft from the amount typed, with what was written after it as the
        description (and the category it suggests). Quick entry also takes today and the
        member's department, so only what is missing is asked. A claim filed from an
        opportunity's card starts linked to it (checked again here)."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            if opportunity_id is not None:
                await workable_opportunity(uow, member, opportunity_id)
            settings = await self._settings(uow)
            amount, rest = read_entry(text, settings.currency, self.config.max_amount)
            today = await self._today(uow)
            claim = describe(Claim(
                None, member.id, amount, settings.currency, None,
                today if quick else None, UnitKind.DEPARTMENT if quick else None,
                member.department_id if quick else None, "",
                opportunity_id=opportunity_id), check_description(rest), self._keywords)
            claim = await uow.claims.add(claim, member.department_id, self._clock.now())
            await uow.claims.add_event(ClaimEvent(None, claim.id, ClaimAction.CREATED,
                                                  member.id, self._clock.now(), chat_id, {}))
            view = await self._view(uow, member, claim, DraftStep.AMOUNT, not quick)
            await uow.commit()
        return view

    async def resume(self, account_id: int, claim_id: int,
                     step: DraftStep | None = None) -> DraftView:
        """A draft where it was left (the first thing still missing), or at `step`."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            claim = await self._own_draft(uow, member, claim_id)
            return await self._view(uow, member, claim, None, False, step)

    async def _change(self, account_id: int, claim_id: int, field: str, step: DraftStep,
                      guided: bool, chat_id: int | None, change) -> DraftView:
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            claim = await self._own_draft(uow, member, claim_id)
            changed = await change(uow, member, claim)
            saved = await self._save(uow, member, claim, changed, field, chat_id)
            view = await self._view(uow, member, saved, step, guided)
            await uow.commit()
        return view

    async def set_amount(self, account_id: int, claim_id: int, text: str, *,
                         guided: bool = False, chat_id: int | None = None) -> DraftView:
        async def change(uow: UnitOfWork, member: Member, claim: Claim) -> Claim:
            settings = await self._settings(uow)
            amount, rest = read_entry(text, settings.currency, self.config.max_amount)
            return describe(replace(claim, amount=amount), check_description(rest),
                            self._keywords)
        return await self._change(account_id, claim_id, "amount", DraftStep.AMOUNT, guided,
                                  chat_id, change)

    async def set_category(self, account_id: int, claim_id: int, key: str, *,
                           guided: bool = False, chat_id: int | None = None) -> DraftView:
        if key not in {c.key for c in self.config.categories}:
            raise DomainError("category_unknown")

        async def change(uow: UnitOfWork, member: Member, claim: Claim) -> Claim:
            return replace(claim, category=key)
        return await self._change(account_id, claim_id, "category", DraftStep.CATEGORY,
                                  guided, chat_id, change)

    async def set_date(self, account_id: int, claim_id: int, day: date | str, *,
                       guided: bool = False, chat_id: int | None = None) -> DraftView:
        """A day from a button, or typed ('11-20', 'yesterday'); not in the future, not
        older than the configured window."""
        async def change(uow: UnitOfWork, member: Member, claim: Claim) -> Claim:
            today = await self._today(uow)
            spent = (parse_day(day, today, Toward.PAST, refusal="spent_on_format")
                     if isinstance(day, str) else day)
            return replace(claim, spent_on=check_spent_on(spent, today,
                                                          self.config.max_age_days))
        return await self._change(account_id, claim_id, "date", DraftStep.DATE, guided,
                                  chat_id, change)

    async def set_unit(self, account_id: int, claim_id: int, kind: UnitKind, unit_id: int, *,
                       guided: bool = False, chat_id: int | None = None) -> DraftView:
        """One of the units offered to this member, nothing else."""
        async def change(uow: UnitOfWork, member: Member, claim: Claim) -> Claim:
            if (kind, unit_id) not in {(u.kind, u.unit_id)
                                       for u in await self._units(uow, member)}:
                raise DomainError("unit_not_offered")
            return replace(claim, unit_kind=kind, unit_id=unit_id)
        return await self._change(account_id, claim_id, "unit", DraftStep.UNIT, guided,
                                  chat_id, change)

    async def set_opportunity(self, account_id: int, claim_id: int,
                              opportunity_id: int | None, *, guided: bool = False,
                              chat_id: int | None = None) -> DraftView:
        async def change(uow: UnitOfWork, member: Member, claim: Claim) -> Claim:
            if opportunity_id is not None and opportunity_id not in {
                    i for i, _ in await offered_opportunities(uow, member)}:
                raise DomainError("opportunity_not_offered")
            return replace(claim, opportunity_id=opportunity_id)
        return await self._change(account_id, claim_id, "opportunity", DraftStep.OPPORTUNITY,
                                  guided, chat_id, change)

    async def set_description(self, account_id: int, claim_id: int, text: str, *,
                              guided: bool = False, chat_id: int | None = None) -> DraftView:
        async def change(uow: UnitOfWork, member: Member, claim: Claim) -> Claim:
            return describe(claim, check_description(text), self._keywords)
        return await self._change(account_id, claim_id, "description", DraftStep.DESCRIPTION,
                                  guided, chat_id, change)

    async def skip(self, account_id: int, claim_id: int, step: DraftStep, *,
                   guided: bool = False) -> DraftView:
        """Go past an optional step (opportunity, description, receipt) leaving it empty."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            claim = await self._own_draft(uow, member, claim_id)
            if step is DraftStep.RECEIPT and receipt_missing(
                    claim, self.config.receipt_required_above):
                raise DomainError("receipt_missing", above=self.config.receipt_required_above)
            return await self._view(uow, member, claim, step, guided)

    async def add_receipt(self, account_id: int, claim_id: int, data: bytes, *,
                          file_id: str | None, as_document: bool,
                          guided: bool = False) -> DraftView:
        """Keep a receipt photo (checked, hashed, thumbnailed) and attach it to the draft."""
        try:
            # Decoding and hashing an image is CPU work: off the event loop.
            saved = await asyncio.to_thread(self._photos.save, data)
        except ValueError as error:
            raise DomainError(getattr(error, "code", "corrupt_image")) from None
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            claim = await self._own_draft(uow, member, claim_id)
            now = self._clock.now()
            added = await uow.claims.add_receipt(Receipt(
                None, claim.id, saved.sha256, file_id, as_document, saved.width, saved.height,
                saved.size, now, saved.dhash))
            if added is None:
                raise DomainError("receipt_duplicate")
            if not await uow.claims.touch(claim.id, claim.version, now):
                raise DomainError("claim_changed")
            claim = await uow.claims.get(claim.id)
            view = await self._view(uow, member, claim, DraftStep.RECEIPT, guided)
            await uow.commit()
        return view

    async def discard(self, account_id: int, claim_id: int) -> None:
        """Delete a draft (with its receipts); submitted claims are never deleted."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            claim = await self._own_draft(uow, member, claim_id)
            if not await uow.claims.delete_draft(claim.id):
                raise DomainError("claim_changed")
            await uow.commit()

    # Summary and submitting --------------------------------------------------------------

    async def summary(self, account_id: int, claim_id: int) -> ClaimSummary:
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            claim = await self._own_draft(uow, member, claim_id)
            impacts, route = [], []
            if not claim.missing():
                impacts = await approvals.budget_impacts(uow, claim)
                route = [(step.kind, name) for step, name in await approvals.preview_route(
                    uow, claim, member, config=self.config)]
            trip = await uow.claims.report(claim.report_id) if claim.report_id else None
            return ClaimSummary(
                claim, await self._unit_name(uow, claim), impacts, route,
                receipt_missing(claim, self.config.receipt_required_above),
                [t for t in await uow.claims.open_reports(member.id) if t.id != claim.report_id],
                trip)

    async def _submit(self, uow: UnitOfWork, member: Member, claim: Claim,
                      chat_id: int | None) -> approvals.SubmitResult:
        """The author's checks, then the approval module routes and submits."""
        if claim.missing():
            raise DomainError("claim_incomplete", missing=", ".join(claim.missing()))
        if claim.category not in {c.key for c in self.config.categories}:
            raise DomainError("category_unknown")
        if receipt_missing(claim, self.config.receipt_required_above):
            raise DomainError("receipt_missing", above=self.config.receipt_required_above)
        check_spent_on(claim.spent_on, await self._today(uow), self.config.max_age_days)
        return await approvals.route_and_submit(
            uow, claim, member, settings=await self._settings(uow), config=self.config,
            now=self._clock.now(), chat_id=chat_id)

    async def submit(self, account_id: int, claim_id: int,
                     chat_id: int | None = None) -> approvals.SubmitResult:
        """Submit a draft; a refusal keeps the draft as it was."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            claim = await self._own_draft(uow, member, claim_id)
            result = await self._submit(uow, member, claim, chat_id)
            await uow.commit()
        return result

    # The author's claims --------------------------------------------------------------------

    async def my_claims(self, account_id: int, page: int = 0,
                        size: int = PAGE_SIZE) -> ClaimPage:
        """A page of my claims, drafts first, then newest first (`size` a page)."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            total = await uow.claims.count_mine(member.id)
            pages = Pages.of(total, size, page)
            return ClaimPage(await uow.claims.mine(member.id, pages.offset, size),
                             pages.number, pages.count)

    async def withdraw(self, account_id: int, claim_id: int,
                       chat_id: int | None = None) -> Claim:
        """Take back my pending claim (an approved or rejected one stays as decided)."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            claim = await uow.claims.get(claim_id)
            if claim is None or claim.member_id != member.id:
                raise NotFound("claim_not_found")
            withdrawn = await approvals.withdraw(uow, claim, member, now=self._clock.now(),
                                                 chat_id=chat_id, config=self.config,
                                                 settings=await self._settings(uow))
            await uow.commit()
        return withdrawn

    async def show(self, account_id: int, claim: int | ClaimReference) -> ClaimDetail:
        """A claim with its history, for those who may see it; 'not found' for anyone else,
        so that nobody learns which numbers exist (nor a number of another year)."""
        reference = claim if isinstance(claim, ClaimReference) else ClaimReference(claim)
        async with self._uows(read_only=True) as uow:
            viewer = await active_member(uow, account_id)
            claim = await uow.claims.get(reference.claim_id)
            if claim is not None and not reference.names(claim):
                claim = None
            claimant = await uow.members.get(claim.member_id) if claim else None
            if claim is None or claimant is None or not may_view_claim(
                    viewer, claim, claimant, OrgTree.of(await uow.departments.all()),
                    await uow.claims.approver_ids(claim.id)):
                raise NotFound("claim_not_found")
            events = await uow.claims.events(claim.id)
            actors = await uow.members.many({e.actor_id for e in events if e.actor_id})
            history = [HistoryLine(e, actors[e.actor_id].name if e.actor_id in actors else "")
                       for e in events]
            return ClaimDetail(claim, claimant.name, await self._unit_name(uow, claim), history,
                               viewer.id == claim.member_id,
                               await approvals.opportunity_title(uow, claim.opportunity_id))

    # Trips ---------------------------------------------------------------------------------

    async def create_trip(self, account_id: int, title: str) -> ExpenseReport:
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            trip = await uow.claims.add_report(ExpenseReport(
                None, member.id, check_trip_title(title), self._clock.now()))
            await uow.commit()
        return trip

    async def _own_trip(self, uow: UnitOfWork, member: Member, report_id: int) -> ExpenseReport:
        trip = await uow.claims.report(report_id)
        if trip is None or trip.member_id != member.id:
            raise NotFound("trip_not_found")
        if trip.submitted_at is not None:
            raise DomainError("trip_submitted")
        return trip

    async def trips(self, account_id: int) -> list[TripView]:
        """My open trips with their claims."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            return [TripView(trip, await uow.claims.in_report(trip.id))
                    for trip in await uow.claims.open_reports(member.id)]

    async def add_to_trip(self, account_id: int, claim_id: int, report_id: int,
                          chat_id: int | None = None) -> ExpenseReport:
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            claim = await self._own_draft(uow, member, claim_id)
            trip = await self._own_trip(uow, member, report_id)
            await self._save(uow, member, claim, replace(claim, report_id=trip.id), "trip",
                             chat_id)
            await uow.commit()
        return trip

    async def submit_trip(self, account_id: int, report_id: int,
                          chat_id: int | None = None) -> list[approvals.SubmitResult]:
        """Submit every draft of the trip in one unit of work: all of them or none."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            trip = await self._own_trip(uow, member, report_id)
            drafts = [c for c in await uow.claims.in_report(trip.id)
                      if c.status is ClaimStatus.DRAFT]
            if not drafts:
                raise DomainError("trip_empty")
            results = []
            for claim in drafts:
                try:
                    results.append(await self._submit(uow, member, claim, chat_id))
                except DomainError as error:
                    raise TripRefused(claim, error) from error
            if not await uow.claims.close_report(trip.id, self._clock.now()):
                raise DomainError("trip_submitted")
            await uow.commit()
        return results


def _filled(claim: Claim, field: str) -> bool:
    values = {"amount": claim.amount, "category": claim.category, "date": claim.spent_on,
              "unit": claim.unit_kind, "opportunity": claim.opportunity_id,
              "description": claim.description or None, "trip": claim.report_id}
    return values.get(field) is not None
