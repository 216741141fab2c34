"""Opportunities: creating deals, lists and search, the card, moving stages, the pipeline.

Who sees a deal: its owner, the managers above the owner, admins, and finance (for the
money). Who works it (stage, amount, date, notes): the owner, the managers above and
admins. A won or lost deal is reopened only by an admin or a manager above the owner.
Every press re-reads the deal and re-checks these rules in the same unit of work as the
write, and the write is conditional on the version and stage read.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.config import PipelineConfig
from core.domain.audit import OPPORTUNITY, changes_between
from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.money import CENT
from core.domain.opportunities.pipeline import (
    ClaimTotal,
    Note,
    Opportunity,
    OpportunityScope,
    Pipeline,
    Stage,
    StageSum,
    TimelineEntry,
    average_days,
    can_change,
    can_see,
    check_amount,
    check_close_date,
    check_note,
    check_probability,
    check_title,
    funnel,
    may_reopen,
    may_see_money,
    merge_timeline,
    parse_close_date,
    win_rate,
)
from core.domain.org.model import Customer, Member, OrgSettings, OrgTree, Role, customers_matching
from core.domain.org.permissions import is_manager, visible_departments
from core.domain.paging import Pages
from core.domain.period import Period
from core.domain.text import clean_text
from core.org.members import active_member
from core.ports import Clock, PhotoFiles, UnitOfWork, UnitOfWorkFactory
from core.schedule.calendar import ShownPhoto, watermarked

PAGE = 8  # opportunities per page of /opps
MAX_TIMELINE_PAGE = 999  # what a button's four digits can say
TIMELINE_PAGE = 10  # entries per page of a card's timeline
ALBUM_PHOTOS = 30  # the newest photos of a deal sent on request (three albums)
CUSTOMER_CHOICES = 6
MAX_CUSTOMER_NAME = 200
# A location shared this recently is where the rep stands: the site of a new customer.
SITE_WINDOW = timedelta(hours=1)
ZERO = Decimal("0.00")


def pipeline_of(config: PipelineConfig) -> Pipeline:
    return Pipeline(tuple(Stage(s.key, s.name, s.name_zh, s.probability, s.outcome)
                          for s in config.stages))


async def open_opportunities(uow: UnitOfWork, member_id: int) -> list[Opportunity]:
    """The member's open deals, closing soonest first: what check-ins and claims link to."""
    return await uow.opportunities.open_for(member_id)


async def workable_opportunity(uow: UnitOfWork, member: Member,
                               opportunity_id: int) -> Opportunity:
    """An open deal the member works (its owner, a manager above, an admin): what a plan
    item or a claim may be linked to from its card. NotFound for anything else, so a
    forged id tells nothing; a closed deal is refused as such."""
    opportunity = await uow.opportunities.get(opportunity_id)
    owner = await uow.members.get(opportunity.owner_id) if opportunity else None
    if owner is None or not can_change(member, owner,
                                       OrgTree.of(await uow.departments.all())):
        raise NotFound("opp_not_found")
    if opportunity.closed_at is not None:
        raise DomainError("opp_closed")
    return opportunity


@dataclass(frozen=True)
class NewCustomer:
    """A customer met for the first time, at the place the rep shared."""

    name: str
    lat: float
    lon: float
    address: str = ""


@dataclass(frozen=True)
class NewOpportunity:
    title: str
    amount: Decimal
    expected_close: date
    customer_id: int | None = None
    new_customer: NewCustomer | None = None
    stage: str | None = None  # default: the pipeline's first stage
    probability: int | None = None  # default: the stage's


@dataclass(frozen=True)
class OpportunityList:
    items: list[Opportunity]
    total: int
    page: int
    stage: str | None
    search: str | None
    today: date
    owners: dict[int, str]  # names, when the list shows others' deals too
    pipeline: Pipeline

    @property
    def pages(self) -> int:
        return Pages.of(self.total, PAGE).count


@dataclass(frozen=True)
class Card:
    """One deal as a viewer sees it: the facts, a page of the timeline, what they may do."""

    opportunity: Opportunity
    owner: Member
    timeline: list[TimelineEntry]
    names: dict[int, str]
    page: int
    has_more: bool
    may_change: bool
    may_reopen: bool
    today: date
    zone: ZoneInfo
    pipeline: Pipeline
    # Approved and pending claims by category; empty when the viewer may not see money.
    claim_totals: list[ClaimTotal] = field(default_factory=list)
    money_visible: bool = False
    photos: int = 0  # taken at the deal's check-ins, all pages

    @property
    def is_open(self) -> bool:
        return self.pipeline.is_open(self.opportunity.stage)

    @property
    def may_link(self) -> bool:
        """Plan a visit for it, file an expense for it: who works it, while it is open."""
        return self.may_change and self.opportunity.closed_at is None

    @property
    def overdue(self) -> bool:
        return self.opportunity.overdue(self.today, self.pipeline)

    def moves(self) -> list[Stage]:
        """Stages the viewer may press: all others while open; from a terminal stage, the
        open ones, for those who may reopen."""
        if not self.may_change or (not self.is_open and not self.may_reopen):
            return []
        return [s for s in self.pipeline.stages if s.key != self.opportunity.stage
                and (self.is_open or not s.terminal)]


@dataclass(frozen=True)
class PersonPipeline:
    """One person's open deals by stage."""

    member_id: int
    name: str
    lines: list[StageSum]

    @property
    def total(self) -> StageSum:
        return _total(self.lines)


@dataclass(frozen=True)
class PipelineView:
    """What /pipeline shows: sums by stage, the win rate and days per stage, per person."""

    period: Period
    currency: str
    everyone: bool
    lines: list[StageSum]
    people: list[PersonPipeline]
    won: int
    lost: int
    days: dict[str, Decimal]
    pipeline: Pipeline

    @property
    def win_rate(self) -> Decimal | None:
        return win_rate(self.won, self.lost)

    @property
    def open_lines(self) -> list[StageSum]:
        return [line for line in self.lines if self.pipeline.is_open(line.stage)]

    @property
    def open_total(self) -> StageSum:
        return _total(self.open_lines)

    @property
    def empty(self) -> bool:
        return not any(line.count for line in self.lines)


def _total(lines: Sequence[StageSum]) -> StageSum:
    total = StageSum("", 0, ZERO, ZERO)
    for line in lines:
        total = total + line
    return total


def _audited(opportunity: Opportunity) -> dict[str, str | None]:
    """The fields of a deal its audit trail follows, as text."""
    return {"title": opportunity.title, "amount": str(opportunity.amount.quantize(CENT)),
            "expected_close": opportunity.expected_close.isoformat()}


def customer_key(name: str, taken: set[str]) -> str:
    """A readable unique key for a customer created in the chat ("harbor-logistics-2")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48] or "customer"
    key, n = slug, 1
    while key in taken:
        n += 1
        key = f"{slug}-{n}"
    return key


class OpportunityService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 config: PipelineConfig, photos: PhotoFiles | None = None) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self._photos = photos
        self.pipeline = pipeline_of(config)
        self.max_amount = config.max_amount

    async def _settings(self, uow: UnitOfWork) -> OrgSettings:
        return await uow.organization.get() or self._defaults

    async def _today(self, uow: UnitOfWork) -> tuple[date, ZoneInfo]:
        zone = ZoneInfo((await self._settings(uow)).timezone)
        return self._clock.now().astimezone(zone).date(), zone

    # Reading what a person types (the conversation checks each answer as it comes).

    async def read_amount(self, text: str) -> Decimal:
        async with self._uows(read_only=True) as uow:
            currency = (await self._settings(uow)).currency
        return check_amount(text, currency, self.max_amount)

    async def read_close_date(self, text: str) -> date:
        async with self._uows(read_only=True) as uow:
            today, _ = await self._today(uow)
        return parse_close_date(text, today)

    @staticmethod
    def read_title(text: str) -> str:
        return check_title(text)

    @staticmethod
    def read_customer_name(text: str) -> str:
        name = " ".join(clean_text(text).split())
        if not name:
            raise DomainError("opp_customer_name_empty")
        if len(name) > MAX_CUSTOMER_NAME:
            raise DomainError("opp_customer_name_too_long", limit=MAX_CUSTOMER_NAME)
        return name

    async def customers(self, account_id: int, search: str | None = None) -> list[Customer]:
        """Customers to pick: those of the member's open deals first, or those matching."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            everyone = customers_matching(await uow.customers.all())
            if search is not None:
                return customers_matching(everyone, search)[:CUSTOMER_CHOICES]
            mine = {o.customer_id for o in await uow.opportunities.open_for(member.id)}
            return sorted(everyone, key=lambda c: c.id not in mine)[:CUSTOMER_CHOICES]

    async def recent_location(self, account_id: int) -> NewCustomer | None:
        """Where the member last shared their location (within the hour): a new customer's
        site. The name is filled in by the caller."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            shared = await uow.check_ins.latest(member.id, self._clock.now() - SITE_WINDOW)
        return None if shared is None else NewCustomer("", shared.lat, shared.lon)

    async def check_duplicate(self, customer_id: int, title: str) -> None:
        """Refuse early, before the amount and date are typed, a title already open there."""
        async with self._uows(read_only=True) as uow:
            duplicate = await uow.opportunities.find_duplicate(customer_id, check_title(title))
        if duplicate is not None:
            raise DomainError("opportunity_duplicate", existing_id=duplicate.id)

    async def customer(self, customer_id: int) -> Customer | None:
        async with self._uows(read_only=True) as uow:
            return (await uow.sites.many([customer_id])).get(customer_id)

    # Creating.

    async def create(self, account_id: int, new: NewOpportunity) -> Opportunity:
        """Store the deal (and its new customer) in one go; a duplicate open deal at the
        customer is refused with its id, so the person can open it instead."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            settings = await self._settings(uow)
            today, _ = await self._today(uow)
            stage = self.pipeline.get(new.stage) if new.stage else self.pipeline.first
            if stage.terminal:
                raise DomainError("opp_create_closed")
            title = check_title(new.title)
            amount = check_amount(str(new.amount), settings.currency, self.max_amount)
            check_close_date(new.expected_close, today)
            probability = check_probability(
                stage.probability if new.probability is None else new.probability)
            customer_id = await self._customer_id(uow, new)
            duplicate = await uow.opportunities.find_duplicate(customer_id, title)
            if duplicate is not None:
                raise DomainError("opportunity_duplicate", existing_id=duplicate.id)
            now = self._clock.now()
            created = await uow.opportunities.add(Opportunity(
                id=None, owner_id=member.id, department_id=member.department_id,
                customer_id=customer_id, title=title, amount=amount,
                currency=settings.currency, stage=stage.key, probability=probability,
                expected_close=new.expected_close, created_at=now), changed_by=member.id)
            await uow.commit()
            return created

    async def _customer_id(self, uow: UnitOfWork, new: NewOpportunity) -> int:
        if new.new_customer is None:
            if new.customer_id is None or not await uow.sites.many([new.customer_id]):
                raise NotFound("customer_not_found")
            return new.customer_id
        fresh = new.new_customer
        name = self.read_customer_name(fresh.name)
        if not (-90 <= fresh.lat <= 90 and -180 <= fresh.lon <= 180):
            raise DomainError("opp_customer_site")
        taken = {c.key for c in await uow.customers.all()}
        customer = await uow.customers.add(Customer(
            None, customer_key(name, taken), name, fresh.address, fresh.lat, fresh.lon))
        return customer.id

    # Lists and the card.

    async def _scope(self, uow: UnitOfWork, member: Member) -> tuple[OpportunityScope, OrgTree]:
        tree = OrgTree.of(await uow.departments.all())
        departments = visible_departments(member, tree)
        # Finance sees every deal's money, so its lists and pipeline span the organisation.
        everyone = member.has(Role.FINANCE) or (
            set(departments) == set(tree.departments) and bool(departments))
        return OpportunityScope(member.id, None if everyone else frozenset(departments)), tree

    async def listed(self, account_id: int, *, stage: str | None = None,
                   search: str | None = None, page: int = 0) -> OpportunityList:
        """Mine (a manager: their subtree's too), overdue open ones first, then by date."""
        if stage is not None:
            self.pipeline.get(stage)
        search = clean_text(search or "").strip()[:50] or None
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            scope, _ = await self._scope(uow, member)
            today, _ = await self._today(uow)
            stages = None if stage is None else [stage]
            total = await uow.opportunities.count_listed(scope, stages=stages, search=search)
            pages = Pages.of(total, PAGE, page)
            items = await uow.opportunities.listed(scope, today=today, stages=stages,
                                                   search=search, offset=pages.offset,
                                                   limit=PAGE)
            owners = {}
            if any(o.owner_id != member.id for o in items):
                people = await uow.members.many({o.owner_id for o in items})
                owners = {i: m.name for i, m in people.items()}
            return OpportunityList(items, total, pages.number, stage, search, today, owners,
                                   self.pipeline)

    async def _visible(self, uow: UnitOfWork, member: Member, opportunity_id: int
                       ) -> tuple[Opportunity, Member, OrgTree]:
        """The deal and its owner, if the member may see it; NotFound otherwise, so a forged
        id tells nothing about deals of other teams."""
        opportunity = await uow.opportunities.get(opportunity_id)
        if opportunity is None:
            raise NotFound("opp_not_found")
        owner = await uow.members.get(opportunity.owner_id)
        tree = OrgTree.of(await uow.departments.all())
        if owner is None or not can_see(member, owner, tree):
            raise NotFound("opp_not_found")
        return opportunity, owner, tree

    async def card(self, account_id: int, opportunity_id: int, page: int = 0) -> Card:
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            return await self._card(uow, member, opportunity_id, page)

    async def _card(self, uow: UnitOfWork, member: Member, opportunity_id: int,
                    page: int = 0) -> Card:
        """The deal, its rights and the settings, then everything else it shows in one read:
        each timeline source's newest (page + 1) pages and one entry (so the page is the
        same whatever else each source holds), the claim totals and the photo count."""
        opportunity, owner, tree = await self._visible(uow, member, opportunity_id)
        page = max(0, min(page, MAX_TIMELINE_PAGE))
        wanted = (page + 1) * TIMELINE_PAGE + 1
        today, zone = await self._today(uow)
        money = may_see_money(member, owner, tree)
        facts = await uow.opportunities.card_facts(opportunity, zone, wanted, money=money)
        entries = merge_timeline([facts.entries], page * TIMELINE_PAGE, TIMELINE_PAGE + 1)
        shown = entries[:TIMELINE_PAGE]
        names = {owner.id: owner.name} | {
            e.member_id: facts.names[e.member_id] for e in shown
            if e.member_id in facts.names}
        return Card(opportunity, owner, shown, names, page,
                    len(entries) > TIMELINE_PAGE, can_change(member, owner, tree),
                    may_reopen(member, owner, tree), today, zone, self.pipeline,
                    facts.claim_totals, money, facts.photos)

    async def photos(self, account_id: int, opportunity_id: int) -> list[ShownPhoto]:
        """The newest photos of the deal's check-ins, watermarked as the calendar shows them:
        who took it, when (in the team's zone) and where."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            opportunity, _, _ = await self._visible(uow, member, opportunity_id)
            _, zone = await self._today(uow)
            facts = await uow.opportunities.photos(opportunity, ALBUM_PHOTOS)
            names = {i: m.name for i, m in (await uow.members.many(
                {f.member_id for f in facts})).items()}
        return watermarked(self._photos, facts, zone, names)

    # Working the deal.

    async def _workable(self, uow: UnitOfWork, account_id: int, opportunity_id: int
                        ) -> tuple[Member, Opportunity, Member, OrgTree]:
        member = await active_member(uow, account_id)
        opportunity, owner, tree = await self._visible(uow, member, opportunity_id)
        if not can_change(member, owner, tree):
            raise NotAllowed("opp_read_only")
        return member, opportunity, owner, tree

    async def _save(self, uow: UnitOfWork, before: Opportunity, after: Opportunity,
                    by: Member) -> None:
        """Store the edit and its trail: who changed the amount, title or close date, from
        what to what (stage moves keep their own history)."""
        if not await uow.opportunities.update(after, version=before.version,
                                              stage=before.stage):
            raise DomainError("opp_changed")
        await uow.record_changes.add(changes_between(
            OPPORTUNITY, before.id, _audited(before), _audited(after), by=by.id,
            at=self._clock.now()))

    async def move(self, account_id: int, opportunity_id: int, to_stage: str, *,
                   from_stage: str | None = None, reason: str | None = None) -> Card:
        """Move the deal to another stage (lost needs a reason), keeping the history.

        `from_stage` is the stage the person saw: if the deal moved since, nothing changes.
        """
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            opportunity, owner, tree = await self._visible(uow, member, opportunity_id)
            today, _ = await self._today(uow)
            move = opportunity.move_to(to_stage, by=member, owner=owner, tree=tree,
                                       at=self._clock.now(), today=today,
                                       pipeline=self.pipeline, reason=reason, seen=from_stage)
            await self._save(uow, opportunity, move.opportunity, member)
            await uow.opportunities.add_change(move.change, day=today)
            card = await self._card(uow, member, opportunity_id)
            await uow.commit()
            return card

    async def edit_amount(self, account_id: int, opportunity_id: int, text: str) -> Card:
        async with self._uows() as uow:
            member, opportunity, _, _ = await self._workable(uow, account_id, opportunity_id)
            amount = check_amount(text, opportunity.currency, self.max_amount)
            await self._save(uow, opportunity, replace(opportunity, amount=amount,
                                                       updated_at=self._clock.now()), member)
            card = await self._card(uow, member, opportunity_id)
            await uow.commit()
            return card

    async def edit_close_date(self, account_id: int, opportunity_id: int, text: str) -> Card:
        async with self._uows() as uow:
            member, opportunity, _, _ = await self._workable(uow, account_id, opportunity_id)
            today, _ = await self._today(uow)
            day = parse_close_date(text, today,
                                   is_open=self.pipeline.is_open(opportunity.stage))
            await self._save(uow, opportunity, replace(opportunity, expected_close=day,
                                                       updated_at=self._clock.now()), member)
            card = await self._card(uow, member, opportunity_id)
            await uow.commit()
            return card

    async def add_note(self, account_id: int, opportunity_id: int, text: str) -> Card:
        async with self._uows() as uow:
            member, opportunity, _, _ = await self._workable(uow, account_id, opportunity_id)
            now = self._clock.now()
            await uow.opportunities.add_note(Note(opportunity.id, member.id, check_note(text),
                                                  now))
            await uow.opportunities.touch(opportunity.id, now)
            card = await self._card(uow, member, opportunity_id)
            await uow.commit()
            return card

    # The pipeline.

    async def stats(self, account_id: int, period: Period | None = None) -> PipelineView:
        """Open deals by stage, and the deals won and lost in `period` (default: this
        quarter); a manager's view adds one line per person with their open deals, the
        largest weighted amount first."""
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            scope, tree = await self._scope(uow, member)
            settings = await self._settings(uow)
            zone = ZoneInfo(settings.timezone)
            today = self._clock.now().astimezone(zone).date()
            period = period or Period.parse(f"{today.year}-Q{(today.month - 1) // 3 + 1}")
            start = datetime.combine(period.start, time(), zone).astimezone(UTC)
            end = datetime.combine(period.end, time(), zone).astimezone(UTC)
            by_stage: dict[str, StageSum] = {}
            by_owner: dict[int, list[StageSum]] = defaultdict(list)
            for owner_id, line in await uow.opportunities.open_sums(scope):
                before = by_stage.get(line.stage, StageSum(line.stage, 0, ZERO, ZERO))
                by_stage[line.stage] = before + line
                by_owner[owner_id].append(line)
            for line in await uow.opportunities.closed_sums(scope, start, end):
                before = by_stage.get(line.stage, StageSum(line.stage, 0, ZERO, ZERO))
                by_stage[line.stage] = before + line
            lines = funnel(list(by_stage.values()), self.pipeline)
            people = []
            if is_manager(member, tree) or scope.everyone:
                names = await uow.members.many(by_owner)
                people = sorted(
                    (PersonPipeline(owner_id, names[owner_id].name if owner_id in names
                                    else f"#{owner_id}", funnel(owned, self.pipeline))
                     for owner_id, owned in by_owner.items()),
                    key=lambda p: (-p.total.weighted, p.name.casefold()))
            stays = await uow.opportunities.stays_ending_between(scope, start, end)
            won, lost = self.pipeline.won.key, self.pipeline.lost.key
            return PipelineView(
                period, settings.currency, scope.everyone, lines, people,
                by_stage[won].count if won in by_stage else 0,
                by_stage[lost].count if lost in by_stage else 0,
                average_days(stays), self.pipeline)
