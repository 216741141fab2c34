"""Distances between customer sites and check-ins."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.geo import EARTH_RADIUS_M, CoordinateError, check_point, haversine_m

SHANGHAI = (31.2304, 121.4737)
BEIJING = (39.9042, 116.4074)
latitudes = st.floats(-90, 90)
longitudes = st.floats(-180, 180)


def test_shanghai_to_beijing_is_about_1067_km():
    assert haversine_m(*SHANGHAI, *BEIJING) == pytest.approx(1_067_000, rel=0.01)


def test_a_short_walk_is_measured_in_metres():
    # 0.001 degree of latitude is about 111 m everywhere.
    assert haversine_m(31.2400, 121.4900, 31.2410, 121.4900) == pytest.approx(111.2, abs=0.5)


def test_antipodes_are_half_way_round():
    assert haversine_m(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_M)
    assert haversine_m(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_RADIUS_M)


@given(latitudes, longitudes, latitudes, longitudes)
def test_distance_is_symmetric_and_bounded(lat1, lon1, lat2, lon2):
    there = haversine_m(lat1, lon1, lat2, lon2)
    assert there == pytest.approx(haversine_m(lat2, lon2, lat1, lon1), abs=1e-6)
    assert 0 <= there <= math.pi * EARTH_RADIUS_M + 1e-6


@given(latitudes, longitudes)
def test_a_point_is_zero_metres_from_itself(lat, lon):
    assert haversine_m(lat, lon, lat, lon) == 0


@pytest.mark.parametrize(("lat", "lon"), [(90, 180), (-90, -180), (0, 0), *[SHANGHAI]])
def test_points_on_the_earth_are_accepted(lat, lon):
    check_point(lat, lon)


@pytest.mark.parametrize(("lat", "lon", "problem"), [
    (90.0001, 0, "latitude"), (-91, 0, "latitude"), (math.nan, 0, "latitude"),
    (0, 180.5, "longitude"), (0, -181, "longitude"), (0, math.inf, "longitude"),
])
def test_points_off_the_earth_are_refused(lat, lon, problem):
    with pytest.raises(CoordinateError, match=problem):
        check_point(lat, lon)
