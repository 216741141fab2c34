"""Every customer's site in memory: matching a check-in reads no database."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable

import numpy as np
from rtree.index import Index, Property

from core.domain.geo import EARTH_RADIUS_M
from core.domain.org.model import Customer
from core.domain.schedule.checkins import SiteMatch, match_sites, nearest_first
from core.ports import Changes, UnitOfWorkFactory
from core.snapshot import Snapshot

# Customers changed by another process (`crmbot org import`, a second bot process) are
# not counted in this one's Changes: they are picked up this often.
REFRESH_SECONDS = 60.0
# Customers read per step of the event loop while the index is loaded.
READ_PART = 250
# Sites are points on the unit sphere, in three dimensions: the straight-line distance
# between two of them grows with the distance along the Earth, so the nearest by one is
# the nearest by the other, with no edge at ±180° and no pole. A geofence's box is widened
# by this much (about 6 mm) so that rounding never leaves out a site on its edge.
_MARGIN = 1e-9


class SiteColumns:
    """Customers' fields, one list each: plain numbers and strings, which the garbage
    collector need not walk (100,000 Customer objects would add tens of milliseconds to
    every full collection, each a pause of the event loop). Filled a part at a time."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.keys: list[str] = []
        self.names: list[str] = []
        self.addresses: list[str] = []
        self.lats: list[float] = []
        self.lons: list[float] = []
        self.radii: list[int] = []

    def add(self, customers: Iterable[Customer]) -> None:
        for customer in customers:
            self.ids.append(customer.id)
            self.keys.append(customer.key)
            self.names.append(customer.name)
            self.addresses.append(customer.address)
            self.lats.append(customer.lat)
            self.lons.append(customer.lon)
            self.radii.append(customer.radius_m)

    def customer(self, i: int) -> Customer:
        return Customer(self.ids[i], self.keys[i], self.names[i], self.addresses[i],
                        self.lats[i], self.lons[i], self.radii[i])


class SiteIndex:
    """Customers' sites by position: whose geofence holds a point, and the nearest ones.

    Two R-trees (libspatialindex, loaded in bulk): one of the sites, for the nearest, and
    one of the geofences' boxes, for the geofences holding a point. Either answers in a few
    tens of microseconds however dense the city, and the distances are then measured on
    the few customers they return."""

    def __init__(self, customers: Iterable[Customer] | SiteColumns) -> None:
        if not isinstance(customers, SiteColumns):
            columns = SiteColumns()
            columns.add(customers)
            customers = columns
        self._columns = customers
        self.size = len(customers.ids)
        radii = np.array(customers.radii, dtype=float)
        self.largest_radius_m = float(radii.max()) if self.size else 0.0
        self._sites = self._fences = None
        if not self.size:
            return
        points = _unit_vectors(np.array(customers.lats, dtype=float),
                               np.array(customers.lons, dtype=float))
        ids = np.arange(self.size, dtype=np.int64)
        # The bulk loads are single calls into the library, which let go of the GIL.
        self._sites = Index((ids, points, points), properties=_three_dimensions())
        half = (_chord(radii) + _MARGIN)[:, None]
        self._fences = Index((ids, points - half, points + half),
                             properties=_three_dimensions())

    def containing(self, lat: float, lon: float) -> list[SiteMatch]:
        """The customers whose geofence holds the point, nearest first."""
        if self._fences is None:
            return []
        return match_sites(lat, lon, [self._columns.customer(i)
                                      for i in self._fences.intersection(_box(lat, lon))])

    def nearest(self, lat: float, lon: float, count: int, within_m: float) -> list[SiteMatch]:
        """The `count` customers nearest the point (more when several are as near as the
        last), at most `within_m` metres away, nearest first."""
        if self._sites is None or count <= 0:
            return []
        found = [self._columns.customer(i) for i in self._sites.nearest(_box(lat, lon), count)]
        return [m for m in nearest_first(lat, lon, found) if m.distance_m <= within_m]


def _three_dimensions() -> Property:
    properties = Property()
    properties.dimension = 3
    return properties


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def _chord(distance_m: np.ndarray) -> np.ndarray:
    """The straight-line distance, on the unit sphere, of a distance along the Earth."""
    return 2.0 * np.sin(np.minimum(distance_m / EARTH_RADIUS_M, math.pi) / 2.0)


def _box(lat: float, lon: float) -> tuple[float, ...]:
    phi, lam = math.radians(lat), math.radians(lon)
    point = (math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi))
    return point + point


class CustomerSitesCache:
    """The SiteIndex of all customers, read again once customers have changed: at once for
    changes made through this process, within about REFRESH_SECONDS for other processes'."""

    def __init__(self, uows: UnitOfWorkFactory, changes: Changes, *,
                 refresh_seconds: float = REFRESH_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._uows = uows
        self._snapshot = Snapshot(self._load, lambda: changes.version("customers"),
                                  refresh_seconds=refresh_seconds, monotonic=monotonic)

    async def index(self) -> SiteIndex:
        return await self._snapshot.get()

    async def _load(self) -> SiteIndex:
        columns = SiteColumns()
        async with self._uows(read_only=True) as uow:
            # Each part is a short step of the event loop: other updates go on between.
            async for part in uow.sites.in_parts(READ_PART):
                columns.add(part)
        # Indexing 100,000 sites takes a few hundred milliseconds: not on the event loop.
        return await asyncio.to_thread(SiteIndex, columns)
