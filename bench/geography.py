"""Where a company's customers are, for the benchmarks: clustered around cities.

Real customer bases are not spread evenly: they crowd around cities (a normal spread of
about 8 km), and most around a few big ones with very dense centres.

    from bench.geography import clustered_customers, check_in_points
    customers = clustered_customers(100_000, cities=20, sigma_km=8, seed=7)
    points = check_in_points(customers, 500, seed=11)   # {"on a site": [...], ...}
"""

from __future__ import annotations

import math

import numpy as np

from core.domain.geo import EARTH_RADIUS_M
from core.domain.org.model import DEFAULT_RADIUS_M
from core.domain.schedule.checkins import OFFER_RADIUS_M

# Eastern China, about 2,000 km by 1,500 km: where the cities' centres are drawn.
REGION = (22.0, 40.0, 108.0, 122.0)
KM_PER_DEGREE = math.radians(1) * EARTH_RADIUS_M / 1000
# A city's centre: this share of its customers, four times as close together.
CENTRE_SHARE = 0.3
# Sites beyond the default: a tenth have their own radius, a few are whole campuses.
OWN_RADIUS_SHARE = 0.1
CAMPUS_SHARE = 0.001
CAMPUS_RADIUS_M = 5_000


def clustered_customers(n: int, cities: int = 20, sigma_km: float = 8.0,
                        seed: int = 7) -> list[dict]:
    """`n` customers as rows of the customers table (key, name, address, lat, lon,
    radius_m), around `cities` cities of falling size (the k-th biggest 1/k of the first),
    each a normal spread of `sigma_km` with a centre of CENTRE_SHARE at a quarter of it."""
    rng = np.random.default_rng(seed)
    centres = np.column_stack((rng.uniform(*REGION[:2], cities), rng.uniform(*REGION[2:], cities)))
    weights = 1.0 / np.arange(1, cities + 1)
    city = rng.choice(cities, size=n, p=weights / weights.sum())
    spread = np.where(rng.random(n) < CENTRE_SHARE, sigma_km / 4, sigma_km)
    lat = centres[city, 0] + rng.normal(0.0, 1.0, n) * spread / KM_PER_DEGREE
    lon = centres[city, 1] + (rng.normal(0.0, 1.0, n) * spread / KM_PER_DEGREE
                              / np.cos(np.radians(lat)))
    radius = np.full(n, DEFAULT_RADIUS_M)
    own = rng.random(n)
    radius = np.where(own < OWN_RADIUS_SHARE, rng.integers(50, 1000, n), radius)
    radius = np.where(own < CAMPUS_SHARE, CAMPUS_RADIUS_M, radius)
    return [{"key": f"c{i}", "name": f"Customer {i}", "address": "",
             "lat": float(lat[i]), "lon": float(lon[i]), "radius_m": int(radius[i])}
            for i in range(n)]


def even_customers(n: int, area: tuple[float, float, float, float],
                   seed: int = 7) -> list[dict]:
    """`n` customers spread evenly over `area` (min/max latitude, min/max longitude)."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(*area[:2], n), rng.uniform(*area[2:], n)
    return [{"key": f"c{i}", "name": f"Customer {i}", "address": "",
             "lat": float(lat[i]), "lon": float(lon[i]), "radius_m": DEFAULT_RADIUS_M}
            for i in range(n)]


KINDS = ("on a site", "between sites", "outside every site")


def check_in_points(customers: list[dict], count: int,
                    seed: int = 11) -> dict[str, list[tuple[float, float]]]:
    """`count` check-ins of each kind: on a customer's site (within half its radius), between
    sites (in a city, in no geofence: the rep is offered nearby customers and open deals),
    and outside every site (no customer within OFFER_RADIUS_M; the nearest one is looked up
    up to 50 km away)."""
    rng = np.random.default_rng(seed)
    order = sorted(customers, key=lambda c: c["lat"])
    lat = np.array([c["lat"] for c in order])
    lon = np.array([c["lon"] for c in order])
    radius = np.array([c["radius_m"] for c in order], dtype=float)
    # Only customers this close in latitude can hold the point or be within OFFER_RADIUS_M.
    band = (max(radius.max(), OFFER_RADIUS_M) + 1_000) / 1000 / KM_PER_DEGREE

    def around(point: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        low, high = np.searchsorted(lat, (point[0] - band, point[0] + band))
        return _haversine_m(point, lat[low:high], lon[low:high]), radius[low:high]

    def bearing() -> float:
        return rng.uniform(0, 2 * math.pi)

    on_site = [_moved(lat[i], lon[i], rng.uniform(0, radius[i] / 2), bearing())
               for i in rng.choice(len(order), size=count)]
    between: list[tuple[float, float]] = []
    while len(between) < count:  # a few hundred metres from a customer, in no geofence
        i = rng.integers(len(order))
        point = _moved(lat[i], lon[i], rng.uniform(0, 1_500), bearing())
        distances, radii = around(point)
        if (distances > radii).all():
            between.append(point)
    outside: list[tuple[float, float]] = []
    while len(outside) < count:  # 5 to 40 km from a customer, none within OFFER_RADIUS_M
        i = rng.integers(len(order))
        point = _moved(lat[i], lon[i], rng.uniform(5_000, 40_000), bearing())
        distances, _ = around(point)
        if not len(distances) or distances.min() > OFFER_RADIUS_M:
            outside.append(point)
    return dict(zip(KINDS, (on_site, between, outside), strict=True))


def _moved(lat: float, lon: float, metres: float, bearing: float) -> tuple[float, float]:
    """A point `metres` away in direction `bearing` (flat-Earth: distances of a few km)."""
    km = metres / 1000
    new_lat = lat + km * math.cos(bearing) / KM_PER_DEGREE
    return float(new_lat), float(lon + km * math.sin(bearing) / KM_PER_DEGREE
                                 / math.cos(math.radians(lat)))


def _haversine_m(point: tuple[float, float], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    p1, p2 = math.radians(point[0]), np.radians(lat)
    dp, dl = p2 - p1, np.radians(lon - point[1])
    a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
