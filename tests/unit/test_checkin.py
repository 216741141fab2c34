"""Check-in trust rules and site matching: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.geo import CoordinateError, haversine_m
from core.domain.org.model import DEFAULT_RADIUS_M, Customer
from core.domain.schedule.checkins import (
    BoundingBox,
    CheckIn,
    CheckInRules,
    LocationRefused,
    OpenDeal,
    SharedLocation,
    TrustFlag,
    assess,
    match_sites,
    nearest,
    parse_flags,
    proves_visit,
    sole_deals,
    with_photo,
)
from core.domain.schedule.plans import Visit

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
RULES = CheckInRules()
HARBOR = Customer(1, "harbor", "Harbor Logistics", "", 31.2400, 121.4900, 150)
PUDONG = Customer(2, "pudong", "Pudong Medical", "", 31.2304, 121.5370, 200)
NEXT_DOOR = Customer(3, "next", "Next Door Co.", "", 31.2405, 121.4902, 150)


def located(**overrides) -> SharedLocation:
    values = dict(lat=31.2400, lon=121.4900, sent_at=NOW, horizontal_accuracy=12.0)
    return SharedLocation(**{**values, **overrides})


def test_fresh_accurate_location_has_no_flags():
    assert assess(located(), NOW, RULES) == frozenset()


def test_forwarded_location_is_not_a_check_in():
    with pytest.raises(LocationRefused):
        assess(located(forwarded=True), NOW, RULES)


@pytest.mark.parametrize("lat, lon", [(91, 0), (-91, 0), (0, 181), (0, -181), (1e308, 0),
                                      (float("nan"), 0), (0, float("inf"))])
def test_point_on_no_map_is_not_a_check_in(lat, lon):
    with pytest.raises(CoordinateError):
        assess(located(lat=lat, lon=lon), NOW, RULES)


@pytest.mark.parametrize("accuracy", [-1.0, float("nan"), float("inf")])
def test_a_location_with_an_impossible_accuracy_is_not_a_check_in(accuracy):
    with pytest.raises(CoordinateError):
        assess(located(horizontal_accuracy=accuracy), NOW, RULES)


def test_location_older_than_two_minutes_is_stale():
    assert assess(located(sent_at=NOW - timedelta(seconds=121)), NOW, RULES) == {TrustFlag.STALE}
    assert assess(located(sent_at=NOW - timedelta(seconds=120)), NOW, RULES) == frozenset()


def test_point_picked_on_the_map_is_flagged():
    assert assess(located(horizontal_accuracy=None), NOW, RULES) == {TrustFlag.MAP_PICKED}
    assert assess(located(venue=True), NOW, RULES) == {TrustFlag.MAP_PICKED}


def test_live_location_without_accuracy_is_not_map_picked():
    assert assess(located(horizontal_accuracy=None, live_period=900), NOW, RULES) == frozenset()


def test_inaccurate_location_is_flagged():
    assert assess(located(horizontal_accuracy=250.0), NOW, RULES) == {TrustFlag.LOW_ACCURACY}


def test_nearest_site_containing_the_point_comes_first():
    matches = match_sites(31.2402, 121.4901, [PUDONG, NEXT_DOOR, HARBOR])
    assert [m.customer.key for m in matches] == ["harbor", "next"]
    assert matches[0].distance_m < matches[1].distance_m


def test_point_outside_every_site_matches_none_but_has_a_nearest():
    assert match_sites(31.30, 121.49, [HARBOR, PUDONG]) == []
    assert nearest(31.30, 121.49, [HARBOR, PUDONG]).customer.key == "harbor"
    assert nearest(0, 0, []) is None


@given(st.floats(-89, 89), st.floats(-179, 179), st.floats(10, 50_000),
       st.floats(0, 1), st.floats(0, 360))
def test_bounding_box_contains_every_point_within_the_radius(lat, lon, radius, frac, bearing):
    # Walk `frac * radius` metres from the centre on a bearing; the box must contain it.
    import math

    from core.domain.geo import EARTH_RADIUS_M

    d = frac * radius / EARTH_RADIUS_M
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1),
                         math.cos(d) - math.sin(p1) * math.sin(p2))
    point_lat, point_lon = math.degrees(p2), math.degrees(l2)
    if not -180 <= point_lon <= 180:
        return  # crossing the antimeridian: the index query handles it separately
    assert haversine_m(lat, lon, point_lat, point_lon) <= radius * 1.0001
    box = BoundingBox.around(lat, lon, radius)
    assert box.min_lat - 1e-9 <= point_lat <= box.max_lat + 1e-9
    assert box.min_lon - 1e-9 <= point_lon <= box.max_lon + 1e-9


def test_required_photo_marks_a_new_check_in_until_a_photo_lifts_it():
    flags = assess(located(), NOW, CheckInRules(photo_required=True))
    assert flags == {TrustFlag.NO_PHOTO}
    assert with_photo(flags, []) == frozenset()
    assert with_photo(flags, ["reused_photo"]) == {TrustFlag.REUSED_PHOTO}
    assert with_photo(frozenset({TrustFlag.STALE}), []) == {TrustFlag.STALE}


def test_a_check_in_links_only_a_reps_sole_open_deal_at_the_customer():
    deals = [OpenDeal(1, 10, 100, "Fleet"), OpenDeal(2, 10, 200, "Beds"),
             OpenDeal(3, 10, 200, "Wards"), OpenDeal(4, 11, 100, "Li's")]
    sole = sole_deals(deals)
    assert {pair: d.id for pair, d in sole.items()} == {(10, 100): 1, (11, 100): 4}


@pytest.mark.parametrize(("text", "flags"), [
    ("", frozenset()), (None, frozenset()),
    ("stale", {TrustFlag.STALE}),
    ("stale,map_picked", {TrustFlag.STALE, TrustFlag.MAP_PICKED}),
    ("stale, map_picked", {TrustFlag.STALE, TrustFlag.MAP_PICKED}),
    ("low_accuracy outside_geofence", {TrustFlag.LOW_ACCURACY, TrustFlag.OUTSIDE_GEOFENCE}),
    ("no_photo;reused_photo", {TrustFlag.NO_PHOTO, TrustFlag.REUSED_PHOTO}),
    ("stale,,", {TrustFlag.STALE}),
])
def test_stored_flags_are_read_however_they_are_separated(text, flags):
    assert parse_flags(text) == flags


def test_a_flag_this_version_does_not_know_leaves_the_check_in_readable():
    assert parse_flags("stale,teleported") == {TrustFlag.STALE}
    assert parse_flags("teleported") == frozenset()


@pytest.mark.parametrize(("customer_id", "flags", "proves"), [
    (1, "", True),
    (1, "low_accuracy", True),  # inaccurate, yet at the site: still a visit
    (1, "stale", False), (1, "forwarded", False), (1, "map_picked", False),
    (1, "outside_geofence", False), (1, "reused_photo", False), (1, "exif_mismatch", False),
    (1, "no_photo", False), (1, "low_accuracy,outside_geofence", False),
    (None, "", False),  # at no customer: nothing is proven
])
def test_a_check_in_proves_a_visit_at_a_customer_without_a_doubtful_flag(customer_id, flags,
                                                                          proves):
    assert proves_visit(customer_id, parse_flags(flags)) is proves
    check_in = CheckIn(1, 7, NOW, NOW, 31.24, 121.49, 12.0, None, customer_id, 10.0,
                       parse_flags(flags))
    assert check_in.verified is proves
    assert Visit(1, 7, NOW.date(), customer_id, parse_flags(flags)).proves_visit is proves


def test_a_customer_without_a_radius_has_the_default_geofence():
    assert Customer(9, "k", "K", "", 31.24, 121.49).radius_m == DEFAULT_RADIUS_M == 200
