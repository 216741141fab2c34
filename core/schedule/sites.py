"""Every customer's site in memory: matching a check-in reads no database."""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from core.domain.org.model import Customer
from core.domain.schedule.checkins import BoundingBox
from core.ports import Changes, UnitOfWorkFactory
from core.snapshot import Snapshot

# Latitude bands of about 5.5 km: a search box spans a few of them, and within a band the
# sites are sorted by longitude, so a box reads only the sites in its own columns.
BAND_DEGREES = 0.05
# Customers changed by another process (`crmbot org import`, a second bot process) are
# not counted in this one's Changes: they are picked up this often.
REFRESH_SECONDS = 60.0


class SiteIndex:
    """Customers' sites by position: the bounding-box search, without a database."""

    def __init__(self, customers: Iterable[Customer]) -> None:
        bands: dict[int, list[Customer]] = defaultdict(list)
        largest = 0.0
        for customer in customers:
            bands[_band(customer.lat)].append(customer)
            largest = max(largest, customer.radius_m)
        self._bands: dict[int, tuple[list[float], list[Customer]]] = {}
        for band, members in bands.items():
            members.sort(key=lambda c: c.lon)
            self._bands[band] = ([c.lon for c in members], members)
        self.largest_radius_m = float(largest)
        self.size = sum(len(members) for members in bands.values())

    def within(self, box: BoundingBox) -> list[Customer]:
        """The sites inside `box`, whose longitudes may run past ±180 (it wraps)."""
        found = []
        for band in range(_band(box.min_lat), _band(box.max_lat) + 1):
            if band not in self._bands:
                continue
            lons, customers = self._bands[band]
            for west, east in _longitudes(box):
                for customer in customers[bisect_left(lons, west):bisect_right(lons, east)]:
                    if box.min_lat <= customer.lat <= box.max_lat:
                        found.append(customer)
        return found


def _band(lat: float) -> int:
    return math.floor(lat / BAND_DEGREES)


def _longitudes(box: BoundingBox) -> Iterator[tuple[float, float]]:
    """The box's longitudes as ranges within -180..180 (two when it crosses ±180)."""
    if box.max_lon - box.min_lon >= 360.0:
        yield -180.0, 180.0
    elif box.min_lon < -180.0:
        yield box.min_lon + 360.0, 180.0
        yield -180.0, box.max_lon
    elif box.max_lon > 180.0:
        yield box.min_lon, 180.0
        yield -180.0, box.max_lon - 360.0
    else:
        yield box.min_lon, box.max_lon


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
        async with self._uows(read_only=True) as uow:
            customers = await uow.sites.all()
        # Sorting 100,000 sites takes a few hundred milliseconds: not on the event loop.
        return await asyncio.to_thread(SiteIndex, customers)
