"""Check-ins: a shared location becomes a recorded visit, with photos and a check-out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.geo import CoordinateError, check_point, haversine_m
from core.domain.org.model import Customer, Member
from core.domain.schedule.checkins import (
    NEAREST_SEARCH_M,
    OFFER_COUNT,
    OFFER_DEALS,
    OFFER_RADIUS_M,
    OPEN_VISIT_LIMIT,
    CheckIn,
    CheckInRules,
    LocationRefused,
    OpenDeal,
    SharedLocation,
    SiteMatch,
    TrustFlag,
    assess,
    nearest,
    offers,
    sole_deals,
    with_photo,
)
from core.domain.schedule.photos import VisitPhoto, exif_agrees, reused
from core.opportunities.pipeline import open_opportunities
from core.org.members import active_member
from core.ports import Clock, PhotoStore, UnitOfWork, UnitOfWorkFactory
from core.schedule.sites import CustomerSitesCache, SiteIndex
from storage.group_commit import GroupCommit


@dataclass(frozen=True)
class DealChoice:
    """One of the rep's open opportunities, offered for a check-in at no customer's site."""

    opportunity_id: int
    title: str
    customer: Customer
    distance_m: float


@dataclass(frozen=True)
class CheckInResult:
    """What was recorded, and what the rep may still pick."""

    check_in: CheckIn
    customer: Customer | None
    choices: list[SiteMatch]  # several sites around the point, or the nearest few
    nearest: SiteMatch | None  # when the point is inside no geofence
    photo_required: bool
    deal: str | None = None  # the title of the opportunity the check-in is linked to
    deals: list[DealChoice] = field(default_factory=list)  # at no site: the rep's deals

    @property
    def must_choose(self) -> bool:
        return bool(self.choices or self.deals)


@dataclass(frozen=True)
class CheckOut:
    check_in: CheckIn
    customer: Customer | None
    duration: timedelta


@dataclass(frozen=True)
class PhotoResult:
    """A photo kept; `check_in` is None when it waits for the rep to say what it is for."""

    photo: VisitPhoto
    check_in: CheckIn | None
    last_today: CheckIn | None  # what "Attach to my last check-in" would attach it to
    photo_count: int = 0
    completes: bool = False  # the visit's required photo: the check-in is no longer NO_PHOTO


class CheckInService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, rules: CheckInRules,
                 photos: PhotoStore, *, sites: CustomerSitesCache, timezone: str = "UTC",
                 photo_window: timedelta = timedelta(seconds=60)) -> None:
        self._uows = uows
        self._clock = clock
        self._rules = rules
        self._photos = photos
        self._sites = sites
        self._timezone = timezone
        self._photo_window = photo_window
        # Busy moments write many check-ins per transaction.
        self._writes: GroupCommit[tuple[int, CheckIn], Recorded | None] = GroupCommit(
            uows, _record)

    @property
    def max_age_seconds(self) -> int:
        return int(self._rules.max_age.total_seconds())

    # Checking in and out

    async def check_in(self, account_id: int, location: SharedLocation, *,
                       chat_id: int | None = None, message_id: int | None = None
                       ) -> CheckInResult:
        """Record a visit with its trust flags; a forwarded location is refused, unstored."""
        now = self._clock.now()
        try:
            flags = set(assess(location, now, self._rules))
        except LocationRefused:
            raise DomainError("location_forwarded") from None
        except CoordinateError:
            raise DomainError("location_impossible") from None
        choices, closest = locate(await self._sites.index(), location.lat, location.lon)
        inside = [c for c in choices if c.inside]
        if inside:
            customer, distance = inside[0].customer, inside[0].distance_m
        else:
            flags.add(TrustFlag.OUTSIDE_GEOFENCE)
            customer = None
            distance = closest.distance_m if closest else None
        # Membership (an active member) is checked inside the transaction that writes: a
        # stranger's check-in, or one of a member just deactivated, writes nothing.
        recorded = await self._writes.submit((account_id, CheckIn(
            None, 0, now, location.sent_at, location.lat, location.lon,
            location.horizontal_accuracy, location.live_period,
            customer.id if customer else None, distance, frozenset(flags),
            chat_id, message_id, now if location.is_live else None)))
        if recorded is None:
            raise NotAllowed("not_a_member")
        record, deal = recorded
        choices = choices if len(inside) != 1 else []
        deals: list[DealChoice] = []
        if customer is None:
            # At no site: the rep's deals are the likely visits (a read apart from the write,
            # and only for these check-ins).
            deals = await self._deal_choices(record)
            dealt = {d.customer.id for d in deals}
            choices = [m for m in choices if m.customer.id not in dealt]
        return CheckInResult(record, customer, choices, closest, self._rules.photo_required,
                             deal.title if deal else None, deals)

    async def _deal_choices(self, record: CheckIn) -> list[DealChoice]:
        async with self._uows(read_only=True) as uow:
            deals = (await open_opportunities(uow, record.member_id))[:OFFER_DEALS]
            sites = await uow.sites.many({d.customer_id for d in deals})
        return [DealChoice(d.id, d.title, sites[d.customer_id],
                           haversine_m(record.lat, record.lon, sites[d.customer_id].lat,
                                       sites[d.customer_id].lon))
                for d in deals if d.customer_id in sites]

    async def choose_customer(self, account_id: int, check_in_id: int,
                              customer_id: int) -> CheckInResult:
        """Assign one of the customers offered; re-checked, since buttons can be forged."""
        now = self._clock.now()
        sites = await self._sites.index()
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            record = await _own_open(uow, member, check_in_id, now)
            around = candidates(sites, record.lat, record.lon)
            offered = {m.customer.id: m for m in offers(record.lat, record.lon, around)}
            match = offered.get(customer_id)
            if match is None:
                raise NotAllowed("customer_not_offered")
            deal = (sole_deals(await uow.check_ins.open_deals({(member.id, customer_id)}))
                    .get((member.id, customer_id)))
            record = replace(record, customer_id=customer_id, distance_m=match.distance_m,
                             opportunity_id=deal.id if deal else None)
            await uow.check_ins.update(record)
            await uow.commit()
        return CheckInResult(record, match.customer, [], None, self._rules.photo_required,
                             deal.title if deal else None)

    async def choose_deal(self, account_id: int, check_in_id: int,
                          opportunity_id: int) -> CheckInResult:
        """Assign a check-in at no customer's site to one of the rep's open deals, and so
        to its customer. Re-checked, since buttons can be forged: the rep's own check-in,
        still without a customer, and the rep's own deal, still open. It stays flagged
        outside_geofence; the distance to that customer is kept."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            record = await _own_unassigned(uow, member, check_in_id)
            deal = await uow.opportunities.get(opportunity_id)
            if deal is None or deal.owner_id != member.id:
                raise NotFound("opp_not_found")
            if deal.closed_at is not None:
                raise DomainError("opp_closed")
            customer = await _customer(uow, deal.customer_id)
            if customer is None:
                raise NotFound("opp_not_found")
            record = replace(record, customer_id=customer.id, opportunity_id=deal.id,
                             distance_m=haversine_m(record.lat, record.lon,
                                                    customer.lat, customer.lon))
            if not await uow.check_ins.assign(record):
                raise DomainError("check_in_assigned")
            await uow.commit()
        return CheckInResult(record, customer, [], None, self._rules.photo_required,
                             deal.title)

    async def leave_unassigned(self, account_id: int, check_in_id: int) -> CheckInResult:
        """"Leave unassigned": the check-in stays at no customer, with the nearest one's
        distance; only its owner's, only while it has no customer."""
        sites = await self._sites.index()
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            record = await _own_unassigned(uow, member, check_in_id)
        closest = _nearest(sites, record.lat, record.lon)
        return CheckInResult(record, None, [], closest, self._rules.photo_required)

    async def live_update(self, account_id: int, chat_id: int, message_id: int,
                          location: SharedLocation) -> CheckIn | None:
        """A moving live location: the visit lasts while it updates. None if none is open."""
        now = self._clock.now()
        try:
            check_point(location.lat, location.lon)
        except CoordinateError:
            return None  # a client sending numbers that are on no map is not moving
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            record = await uow.check_ins.by_message(chat_id, message_id)
            if record is None or record.member_id != member.id or not record.is_open(now):
                return None
            record = replace(record, last_seen_at=now)
            await uow.check_ins.update(record)
            await uow.commit()
        return record

    async def check_out(self, account_id: int) -> CheckOut:
        """Close the open visit and say how long it lasted."""
        now = self._clock.now()
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            record = await uow.check_ins.latest(member.id, now - timedelta(days=1))
            if record is None or not record.is_open(now):
                raise DomainError("nothing_to_check_out")
            record = replace(record, checked_out_at=now)
            await uow.check_ins.update(record)
            customer = await _customer(uow, record.customer_id)
            await uow.commit()
        return CheckOut(record, customer, record.duration(now))

    # Photos

    async def attach_photo(self, account_id: int, data: bytes, *, file_id: str | None,
                           as_document: bool, sent_at: datetime,
                           captioned: bool = False) -> PhotoResult:
        """Keep a visit photo and attach it to the open check-in (or to the one just made,
        when it comes with a caption within the photo window)."""
        saved = await self._save(data)
        now = self._clock.now()
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            today = await uow.check_ins.latest(member.id, await self._start_of_day(uow, now))
            target = None
            if today is not None and (
                    today.is_open(now)
                    or (captioned and sent_at - today.at <= self._photo_window)):
                target = today
            photo = await uow.photos.add(VisitPhoto(
                None, member.id, None, saved.sha256, saved.dhash, file_id, as_document,
                saved.width, saved.height, saved.size, saved.exif, frozenset(), now))
            if target is None:
                await uow.commit()
                return PhotoResult(photo, None, today)
            result = await self._attach(uow, photo, target, today)
            await uow.commit()
        return result

    async def attach_waiting_photo(self, account_id: int, photo_id: int) -> PhotoResult:
        """"Attach to my last check-in": only the sender's own photo, only today's check-in."""
        now = self._clock.now()
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            photo = await _own_waiting_photo(uow, member, photo_id)
            target = await uow.check_ins.latest(member.id, await self._start_of_day(uow, now))
            if target is None:
                raise DomainError("no_check_in_today")
            result = await self._attach(uow, photo, target, target)
            await uow.commit()
        return result

    async def discard_waiting_photo(self, account_id: int, photo_id: int) -> None:
        """"Cancel": forget a photo that was attached to nothing; only the sender's own."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            await _own_waiting_photo(uow, member, photo_id)
            await uow.photos.remove(photo_id)
            await uow.commit()

    async def _attach(self, uow: UnitOfWork, photo: VisitPhoto, target: CheckIn,
                      last_today: CheckIn | None) -> PhotoResult:
        assert target.id is not None and photo.id is not None
        already = await uow.photos.on_check_in(target.id)
        if any(p.sha256 == photo.sha256 for p in already):
            raise DomainError("photo_already_attached")
        flags: set[str] = set()
        if reused(photo.dhash, await uow.photos.hashes_elsewhere(target.id)):
            flags.add(TrustFlag.REUSED_PHOTO.value)
        if not exif_agrees(photo.exif, target.at, target.lat, target.lon):
            flags.add(TrustFlag.EXIF_MISMATCH.value)
        await uow.photos.attach(photo.id, target.id, frozenset(flags))
        visit_flags = with_photo(target.flags, flags)
        completes = TrustFlag.NO_PHOTO in target.flags
        if visit_flags != target.flags:
            target = replace(target, flags=visit_flags)
            await uow.check_ins.update(target)
        return PhotoResult(replace(photo, check_in_id=target.id, flags=frozenset(flags)),
                           target, last_today, len(already) + 1, completes)

    async def _save(self, data: bytes):
        try:
            # Decoding and hashing an image is CPU work: off the event loop.
            return await asyncio.to_thread(self._photos.save, data)
        except ValueError as error:
            raise DomainError(getattr(error, "code", "corrupt_image")) from None

    # Finding customers

    async def _start_of_day(self, uow: UnitOfWork, now: datetime) -> datetime:
        settings = await uow.organization.get()
        zone = ZoneInfo(settings.timezone if settings else self._timezone)
        local = now.astimezone(zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)

    async def customer(self, customer_id: int | None) -> Customer | None:
        async with self._uows(read_only=True) as uow:
            return await _customer(uow, customer_id)


# A check-in as written, and the opportunity it was linked to.
Recorded = tuple[CheckIn, OpenDeal | None]


async def _record(uow: UnitOfWork, visits: list[tuple[int, CheckIn]]) -> list[Recorded | None]:
    """Check-ins that arrived together, each for the active member behind its account (None,
    nothing written, for an account that is none), linked to the member's only open deal
    at its customer. A batch costs the same few statements whatever its size."""
    members = await uow.check_ins.active_members({account for account, _ in visits})
    records = [replace(check_in, member_id=members[account]) if account in members else None
               for account, check_in in visits]
    known = [r for r in records if r is not None]
    at = {(r.member_id, r.customer_id) for r in known if r.customer_id is not None}
    deals = sole_deals(await uow.check_ins.open_deals(at)) if at else {}
    linked = [replace(r, opportunity_id=deals[r.member_id, r.customer_id].id)
              if (r.member_id, r.customer_id) in deals else r for r in known]
    saved = await uow.check_ins.add_many(linked)
    # A new check-in ends the visit before it.
    await uow.check_ins.close_before(saved, OPEN_VISIT_LIMIT)
    written = iter(saved)
    return [None if record is None else _with_deal(next(written), deals)
            for record in records]


def _with_deal(record: CheckIn, deals: dict[tuple[int, int], OpenDeal]) -> Recorded:
    return record, deals.get((record.member_id, record.customer_id or 0))


def candidates(sites: SiteIndex, lat: float, lon: float) -> list[Customer]:
    """The customers a check-in at (lat, lon) may be for: those whose geofence holds it, and
    the nearest few within OFFER_RADIUS_M (what `offers` picks from)."""
    found = {m.customer.id: m.customer for m in sites.containing(lat, lon)}
    for match in sites.nearest(lat, lon, OFFER_COUNT, OFFER_RADIUS_M):
        found.setdefault(match.customer.id, match.customer)
    return list(found.values())


def locate(sites: SiteIndex, lat: float, lon: float) -> tuple[list[SiteMatch], SiteMatch | None]:
    """Where a check-in at (lat, lon) is: the customers offered (those whose geofence holds
    it, else the nearest few), and, when no geofence holds it, the nearest customer."""
    around = candidates(sites, lat, lon)
    choices = offers(lat, lon, around)
    if any(c.inside for c in choices):
        return choices, None
    return choices, nearest(lat, lon, around) or _nearest(sites, lat, lon)


def _nearest(sites: SiteIndex, lat: float, lon: float) -> SiteMatch | None:
    """The nearest customer within NEAREST_SEARCH_M; beyond it, none is near."""
    return next(iter(sites.nearest(lat, lon, 1, NEAREST_SEARCH_M)), None)


async def _own_check_in(uow: UnitOfWork, member: Member, check_in_id: int) -> CheckIn:
    """The member's own check-in; anyone else's is not found (buttons can be forged)."""
    record = await uow.check_ins.get(check_in_id)
    if record is None or record.member_id != member.id:
        raise NotFound("check_in_not_found")
    return record


async def _own_unassigned(uow: UnitOfWork, member: Member, check_in_id: int) -> CheckIn:
    """The member's own check-in, while it is at no customer yet."""
    record = await _own_check_in(uow, member, check_in_id)
    if record.customer_id is not None:
        raise DomainError("check_in_assigned")
    return record


async def _own_waiting_photo(uow: UnitOfWork, member: Member, photo_id: int) -> VisitPhoto:
    """The member's own photo, while it is attached to no check-in."""
    photo = await uow.photos.get(photo_id)
    if photo is None or photo.member_id != member.id:
        raise NotFound("photo_not_found")
    if photo.check_in_id is not None:
        raise DomainError("photo_already_attached")
    return photo


async def _own_open(uow: UnitOfWork, member: Member, check_in_id: int,
                    now: datetime) -> CheckIn:
    record = await _own_check_in(uow, member, check_in_id)
    if not record.is_open(now):
        raise DomainError("check_in_closed")
    return record


async def _customer(uow: UnitOfWork, customer_id: int | None) -> Customer | None:
    if customer_id is None:
        return None
    return (await uow.sites.many([customer_id])).get(customer_id)
