"""Coordinates and distances on the Earth."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


class CoordinateError(ValueError):
    """Not a point on the Earth."""


def check_point(lat: float, lon: float) -> None:
    if not -90.0 <= lat <= 90.0:
        raise CoordinateError("latitude must be between -90 and 90")
    if not -180.0 <= lon <= 180.0:
        raise CoordinateError("longitude must be between -180 and 180")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
