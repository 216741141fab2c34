"""The in-memory site index finds exactly what measuring every customer finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain.geo import haversine_m
from core.domain.org.model import Customer
from core.schedule.sites import SiteIndex

LARGEST_RADIUS_M = 50_000  # what an org file accepts


def brute_containing(customers: list[Customer], lat: float, lon: float) -> list[int]:
    return sorted(c.id for c in customers
                  if haversine_m(lat, lon, c.lat, c.lon) <= c.radius_m)


def brute_distances(customers: list[Customer], lat: float, lon: float, count: int,
                    within_m: float) -> list[float]:
    distances = sorted(haversine_m(lat, lon, c.lat, c.lon) for c in customers)
    return [d for d in distances[:count] if d <= within_m]


latitudes = st.one_of(st.floats(-90, 90), st.floats(89.9, 90), st.floats(-90, -89.9))
longitudes = st.one_of(st.floats(-180, 180), st.floats(179.9, 180), st.floats(-180, -179.9))
radii = st.one_of(st.just(0), st.just(LARGEST_RADIUS_M), st.integers(0, LARGEST_RADIUS_M))


def near(lat: float, lon: float):
    """Points within about 100 km of (lat, lon), wrapped back onto the map."""
    def wrap(offset: tuple[float, float]) -> tuple[float, float]:
        moved_lat, moved_lon = lat + offset[0], lon + offset[1]
        if abs(moved_lat) > 90:  # over the pole: the other side of the world
            moved_lat, moved_lon = (180 if moved_lat > 0 else -180) - moved_lat, moved_lon + 180
        return moved_lat, (moved_lon + 180) % 360 - 180
    return st.tuples(st.floats(-1, 1), st.floats(-1, 1)).map(wrap)


@st.composite
def sites_and_point(draw):
    """Customers and a check-in, often close together: around a pole, ±180°, or anywhere."""
    centre = draw(st.sampled_from([(0.0, 0.0), (89.95, 0.0), (-89.95, 100.0), (10.0, 180.0),
                                   (-17.8, -179.99), (31.2, 121.5)]))
    where = st.one_of(near(*centre), st.tuples(latitudes, longitudes))
    places = draw(st.lists(st.tuples(where, radii), max_size=40))
    customers = [Customer(i, f"c{i}", f"C{i}", "", lat, lon, radius)
                 for i, ((lat, lon), radius) in enumerate(places)]
    # A check-in on a site, exactly or close by, or anywhere around.
    on_site = st.sampled_from([(c.lat, c.lon) for c in customers]) if customers else where
    return customers, draw(st.one_of(on_site, where))


@settings(max_examples=300)
@given(sites_and_point())
def test_geofences_holding_a_point_are_exactly_those_within_their_radius(case):
    customers, (lat, lon) = case
    found = SiteIndex(customers).containing(lat, lon)
    assert sorted(m.customer.id for m in found) == brute_containing(customers, lat, lon)
    assert [m.distance_m for m in found] == sorted(m.distance_m for m in found)


@settings(max_examples=300)
@given(sites_and_point(), st.integers(1, 5), st.sampled_from([0.0, 5_000.0, 50_000.0, 2e7]))
def test_nearest_sites_are_exactly_the_nearest_by_distance(case, count, within_m):
    customers, (lat, lon) = case
    found = SiteIndex(customers).nearest(lat, lon, count, within_m)
    expected = brute_distances(customers, lat, lon, count, within_m)
    # Several sites as near as the last one asked for all come back.
    assert [round(m.distance_m, 3) for m in found[:count]] == [round(d, 3) for d in expected]
    assert all(m.distance_m <= within_m for m in found)
    assert all(round(m.distance_m, 3) == round(expected[-1], 3) for m in found[count:])


def test_site_across_the_antimeridian_is_the_nearest():
    east = Customer(1, "fiji", "Fiji", "", -17.8, 179.99, 200)
    west = Customer(2, "samoa", "Samoa", "", -17.8, -179.99, 200)
    far = Customer(3, "far", "Far", "", -17.8, 170.0, 200)
    index = SiteIndex([east, west, far])
    assert [m.customer.key for m in index.nearest(-17.8, -179.995, 2, 5_000)] == [
        "samoa", "fiji"]
    assert [m.customer.key for m in index.containing(-17.8, 179.9915)] == ["fiji"]


def test_geofence_at_the_pole_holds_every_longitude():
    around = [Customer(i, f"c{i}", "", "", 89.999, lon, 500)
              for i, lon in enumerate((-179.0, -90.0, 0.0, 90.0, 180.0))]
    found = SiteIndex(around).containing(90.0, 10.0)
    assert sorted(m.customer.id for m in found) == [0, 1, 2, 3, 4]


def test_a_zero_radius_geofence_holds_only_its_own_point():
    index = SiteIndex([Customer(1, "kiosk", "Kiosk", "", 31.2, 121.5, 0)])
    assert [m.customer.key for m in index.containing(31.2, 121.5)] == ["kiosk"]
    assert index.containing(31.2, 121.50001) == []


def test_nothing_is_near_beyond_the_distance_asked():
    index = SiteIndex([Customer(1, "a", "A", "", 0.0, 0.0, 200)])
    assert index.nearest(0.0, 0.1, 1, 10_000) == []
    assert [m.customer.key for m in index.nearest(0.0, 0.1, 1, 12_000)] == ["a"]


def test_largest_geofence_is_known():
    index = SiteIndex([Customer(1, "a", "A", "", 0, 0, 150), Customer(2, "b", "B", "", 1, 1, 900)])
    assert index.largest_radius_m == 900 and index.size == 2
    empty = SiteIndex([])
    assert empty.largest_radius_m == 0 and empty.size == 0
    assert empty.containing(0, 0) == [] and empty.nearest(0, 0, 3, 5_000) == []
