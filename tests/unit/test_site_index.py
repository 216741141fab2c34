"""The in-memory site index answers a bounding box exactly as the database query does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.domain.org.model import Customer
from core.domain.schedule.checkins import BoundingBox
from core.schedule.sites import SiteIndex


def inside_box(box: BoundingBox, customer: Customer) -> bool:
    """The repository's SQL, in Python: latitudes between, longitudes wrapping at ±180."""
    if not box.min_lat <= customer.lat <= box.max_lat:
        return False
    if box.min_lon < -180.0:
        return customer.lon >= box.min_lon + 360.0 or customer.lon <= box.max_lon
    if box.max_lon > 180.0:
        return customer.lon >= box.min_lon or customer.lon <= box.max_lon - 360.0
    return box.min_lon <= customer.lon <= box.max_lon


points = st.tuples(st.floats(-90, 90), st.floats(-180, 180))


@given(st.lists(points, max_size=60), points, st.floats(10, 60_000))
def test_index_finds_exactly_the_sites_the_box_query_finds(sites, centre, radius):
    customers = [Customer(i, f"c{i}", f"C{i}", "", lat, lon, 100 + i)
                 for i, (lat, lon) in enumerate(sites)]
    box = BoundingBox.around(*centre, radius)
    found = SiteIndex(customers).within(box)
    assert sorted(c.id for c in found) == [c.id for c in customers if inside_box(box, c)]


def test_box_across_the_antimeridian_finds_sites_on_both_sides():
    east = Customer(1, "fiji", "Fiji", "", -17.8, 179.99, 200)
    west = Customer(2, "samoa", "Samoa", "", -17.8, -179.99, 200)
    far = Customer(3, "far", "Far", "", -17.8, 170.0, 200)
    index = SiteIndex([east, west, far])
    assert {c.key for c in index.within(BoundingBox.around(-17.8, 180.0, 5_000))} == {
        "fiji", "samoa"}


def test_box_at_the_pole_takes_every_longitude_once():
    around = [Customer(i, f"c{i}", "", "", 89.99, lon, 200)
              for i, lon in enumerate((-179.0, -90.0, 0.0, 90.0, 180.0))]
    found = SiteIndex(around).within(BoundingBox.around(89.995, 10.0, 5_000))
    assert sorted(c.id for c in found) == [0, 1, 2, 3, 4]


def test_largest_geofence_is_known():
    index = SiteIndex([Customer(1, "a", "A", "", 0, 0, 150), Customer(2, "b", "B", "", 1, 1, 900)])
    assert index.largest_radius_m == 900 and index.size == 2
    assert SiteIndex([]).largest_radius_m == 0 and SiteIndex([]).within(
        BoundingBox.around(0, 0, 1000)) == []
