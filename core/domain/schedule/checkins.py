"""Check-ins: whether a shared location can be trusted, and which customer's site it is at."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.geo import EARTH_RADIUS_M, CoordinateError, check_point, haversine_m
from core.domain.org.model import Customer


class TrustFlag(enum.StrEnum):
    """Why a check-in may not prove a visit; stored with it, never silently dropped."""

    STALE = "stale"
    FORWARDED = "forwarded"
    MAP_PICKED = "map_picked"
    LOW_ACCURACY = "low_accuracy"
    OUTSIDE_GEOFENCE = "outside_geofence"
    REUSED_PHOTO = "reused_photo"
    EXIF_MISMATCH = "exif_mismatch"
    # Photos are required ([checkin] photo_required) and none is attached yet: set when
    # the check-in is recorded, lifted by its first photo.
    NO_PHOTO = "no_photo"


# A check-in with any of these is not a verified visit.
UNVERIFIED = frozenset({TrustFlag.STALE, TrustFlag.FORWARDED, TrustFlag.MAP_PICKED,
                        TrustFlag.OUTSIDE_GEOFENCE, TrustFlag.REUSED_PHOTO,
                        TrustFlag.EXIF_MISMATCH, TrustFlag.NO_PHOTO})


@dataclass(frozen=True)
class CheckInRules:
    """The [checkin] settings."""

    max_age: timedelta = timedelta(seconds=120)
    max_accuracy_m: float = 100.0
    photo_required: bool = False


@dataclass(frozen=True)
class SharedLocation:
    """A location message as the messenger delivered it."""

    lat: float
    lon: float
    sent_at: datetime
    horizontal_accuracy: float | None = None
    live_period: int | None = None
    forwarded: bool = False
    venue: bool = False

    @property
    def is_live(self) -> bool:
        return self.live_period is not None


class LocationRefused(ValueError):
    """A forwarded location is never a check-in: someone else was there, some other time."""


def assess(location: SharedLocation, now: datetime, rules: CheckInRules) -> frozenset[TrustFlag]:
    """The trust flags of a shared location; raises LocationRefused for forwarded ones and
    CoordinateError for a point that is on no map (a client can send any numbers).

    With photos required, a new check-in has none yet: it starts as NO_PHOTO, so it is no
    verified visit until a photo is attached (which lifts the flag: `with_photo`)."""
    if location.forwarded:
        raise LocationRefused("forwarded")
    check_point(location.lat, location.lon)
    accuracy = location.horizontal_accuracy
    if accuracy is not None and not 0 <= accuracy < math.inf:
        raise CoordinateError("accuracy must be a distance in metres")
    flags: set[TrustFlag] = set()
    if rules.photo_required:
        flags.add(TrustFlag.NO_PHOTO)
    if now - location.sent_at > rules.max_age:
        flags.add(TrustFlag.STALE)
    # A venue or a point picked on the map comes without the device's accuracy.
    if location.venue or (location.horizontal_accuracy is None and not location.is_live):
        flags.add(TrustFlag.MAP_PICKED)
    elif (location.horizontal_accuracy is not None
          and location.horizontal_accuracy > rules.max_accuracy_m):
        flags.add(TrustFlag.LOW_ACCURACY)
    return frozenset(flags)


@dataclass(frozen=True)
class SiteMatch:
    """A customer and how far the point is from its site."""

    customer: Customer
    distance_m: float

    @property
    def inside(self) -> bool:
        return self.distance_m <= self.customer.radius_m


@dataclass(frozen=True)
class BoundingBox:
    """Latitude/longitude ranges that surely contain every point within `radius_m`."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    @classmethod
    def around(cls, lat: float, lon: float, radius_m: float) -> BoundingBox:
        dlat = math.degrees(radius_m / EARTH_RADIUS_M)
        cos_lat = math.cos(math.radians(lat))
        # Near the poles a longitude band is meaningless: take all of them.
        dlon = 180.0 if cos_lat < 1e-6 else min(180.0, dlat / cos_lat)
        return cls(lat - dlat, lat + dlat, lon - dlon, lon + dlon)


def nearest_first(lat: float, lon: float, customers: Iterable[Customer]) -> list[SiteMatch]:
    """The customers with their distance from the point, nearest first."""
    return sorted((SiteMatch(c, haversine_m(lat, lon, c.lat, c.lon)) for c in customers),
                  key=lambda m: m.distance_m)


def match_sites(lat: float, lon: float, customers: Iterable[Customer]) -> list[SiteMatch]:
    """Customers whose geofence contains the point, nearest first."""
    return [m for m in nearest_first(lat, lon, customers) if m.inside]


def nearest(lat: float, lon: float, customers: Iterable[Customer]) -> SiteMatch | None:
    """The nearest customer, wherever it is."""
    matches = [SiteMatch(c, haversine_m(lat, lon, c.lat, c.lon)) for c in customers]
    return min(matches, key=lambda m: m.distance_m, default=None)


# A visit nobody checked out stops being "open" after this long (the rep went home).
OPEN_VISIT_LIMIT = timedelta(hours=12)
# The customers offered when a point is inside no geofence: the nearest few, this close.
OFFER_RADIUS_M = 5_000.0
OFFER_COUNT = 3
# ... and the rep's open opportunities, closing soonest first, at most this many.
OFFER_DEALS = 5
# How far to look for "the nearest customer" when none is near: beyond this, none is.
NEAREST_SEARCH_M = 50_000.0


@dataclass(frozen=True)
class CheckIn:
    """A recorded visit: where and when, which customer, and what made it doubtful."""

    id: int | None
    member_id: int
    at: datetime
    sent_at: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    live_period: int | None
    customer_id: int | None
    distance_m: float | None
    flags: frozenset[TrustFlag]
    chat_id: int | None = None
    message_id: int | None = None
    last_seen_at: datetime | None = None
    checked_out_at: datetime | None = None
    # The deal the visit was for: the rep's only open one at the customer, or one picked.
    opportunity_id: int | None = None

    @property
    def verified(self) -> bool:
        """A visit that proves itself: at a customer, with no doubtful flag."""
        return proves_visit(self.customer_id, self.flags)

    @property
    def is_live(self) -> bool:
        return self.live_period is not None

    def is_open(self, now: datetime) -> bool:
        return self.checked_out_at is None and now - self.at < OPEN_VISIT_LIMIT

    def duration(self, until: datetime) -> timedelta:
        return max(until - self.at, timedelta(0))


def offers(lat: float, lon: float, customers: Iterable[Customer]) -> list[SiteMatch]:
    """The customers a rep may pick: all whose geofence contains the point, else the nearest few."""
    candidates = list(customers)
    inside = match_sites(lat, lon, candidates)
    if inside:
        return inside
    around = nearest_first(lat, lon, candidates)
    return [m for m in around if m.distance_m <= OFFER_RADIUS_M][:OFFER_COUNT]


def with_photo(flags: frozenset[TrustFlag], photo_flags: Iterable[str]) -> frozenset[TrustFlag]:
    """A check-in's flags once a photo with `photo_flags` is attached: the photo is there
    (NO_PHOTO lifted), and what made the photo doubtful is the visit's doubt too."""
    return (flags - {TrustFlag.NO_PHOTO}) | {TrustFlag(f) for f in photo_flags}


@dataclass(frozen=True)
class OpenDeal:
    """An open opportunity, by whose it is and where: what a check-in may be linked to."""

    id: int
    owner_id: int
    customer_id: int
    title: str


def sole_deals(deals: Iterable[OpenDeal]) -> dict[tuple[int, int], OpenDeal]:
    """(owner, customer) -> the deal, for the pairs with exactly one open deal: a check-in
    there is surely for it; with several, the rep says which (or none)."""
    found: dict[tuple[int, int], list[OpenDeal]] = {}
    for deal in deals:
        found.setdefault((deal.owner_id, deal.customer_id), []).append(deal)
    return {pair: only[0] for pair, only in found.items() if len(only) == 1}


def flags_text(flags: Iterable[TrustFlag]) -> str:
    """Flags as stored: sorted and comma-separated."""
    return ",".join(sorted(f.value for f in flags))


def parse_flags(text: str | None) -> frozenset[TrustFlag]:
    """Flags as stored ('stale,map_picked', with spaces or semicolons too) as TrustFlags.

    A word no TrustFlag knows (written by another version) is left out rather than making
    the check-in unreadable: the calendar, the goals and the plans still open.
    """
    known = {f.value for f in TrustFlag}
    return frozenset(TrustFlag(word) for word in re.split(r"[\s,;]+", text or "")
                     if word in known)


def proves_visit(customer_id: int | None, flags: Iterable[TrustFlag]) -> bool:
    """A check-in proves a visit: at a customer's site, with none of the UNVERIFIED flags."""
    return customer_id is not None and UNVERIFIED.isdisjoint(flags)
