"""Check-ins on both backends: trust flags, customer matching, photos, check-out."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bootstrap import build_services
from bootstrap.config import parse_config
from core.domain.errors import DomainError, NotAllowed
from core.domain.org.model import Customer
from core.domain.schedule.checkins import CheckInRules, SharedLocation, TrustFlag
from core.schedule.checkins import CheckInService
from core.schedule.sites import CustomerSitesCache
from storage.database import Database
from storage.photos import PhotoStore
from storage.tables import CheckInRow
from tests.pictures import jpeg, scene, with_exif

CAROL, LI, STRANGER = 2001, 2002, 9999
HARBOR = (31.2400, 121.4900)


@pytest.fixture
def service(org, clock, tmp_path) -> CheckInService:
    return CheckInService(org.uow, clock, CheckInRules(), PhotoStore(tmp_path / "photos"),
                          sites=CustomerSitesCache(org.uow, org.changes),
                          timezone="Asia/Shanghai")


def here(clock, lat=HARBOR[0], lon=HARBOR[1], **fields) -> SharedLocation:
    fields.setdefault("horizontal_accuracy", 12.0)
    return SharedLocation(lat, lon, clock.now() - timedelta(seconds=3), **fields)


async def rows(database) -> list[CheckInRow]:
    async with database.uow(read_only=True) as uow:
        return list(await uow.session.scalars(CheckInRow.__table__.select()))


async def test_check_in_at_a_customer_is_a_verified_visit(service, clock, org):
    result = await service.check_in(CAROL, here(clock), chat_id=CAROL, message_id=5)
    assert result.customer.key == "harbor-logistics"
    assert result.check_in.flags == frozenset() and result.check_in.verified
    assert result.check_in.distance_m < 1 and not result.choices
    assert len(await rows(org)) == 1


async def test_stale_location_is_recorded_and_flagged(service, clock):
    old = SharedLocation(*HARBOR, clock.now() - timedelta(minutes=10), horizontal_accuracy=10)
    result = await service.check_in(CAROL, old)
    assert result.check_in.flags == {TrustFlag.STALE} and not result.check_in.verified


async def test_forwarded_location_is_not_a_check_in(service, clock, org):
    with pytest.raises(DomainError) as refused:
        await service.check_in(CAROL, here(clock, forwarded=True))
    assert refused.value.code == "location_forwarded"
    assert await rows(org) == []


async def test_map_picked_point_without_accuracy_is_flagged(service, clock):
    result = await service.check_in(CAROL, here(clock, horizontal_accuracy=None))
    assert TrustFlag.MAP_PICKED in result.check_in.flags and not result.check_in.verified


async def test_venue_is_flagged_as_map_picked(service, clock):
    result = await service.check_in(CAROL, here(clock, venue=True))
    assert TrustFlag.MAP_PICKED in result.check_in.flags


async def test_inaccurate_location_is_flagged_low_accuracy(service, clock):
    result = await service.check_in(CAROL, here(clock, horizontal_accuracy=450.0))
    assert result.check_in.flags == {TrustFlag.LOW_ACCURACY}


async def test_stranger_cannot_check_in(service, clock):
    with pytest.raises(DomainError):
        await service.check_in(STRANGER, here(clock))


async def test_outside_every_geofence_is_unassigned_with_the_nearest_distance(service, clock):
    result = await service.check_in(CAROL, here(clock, lat=31.2430, lon=121.4900))
    assert result.customer is None and result.check_in.customer_id is None
    assert TrustFlag.OUTSIDE_GEOFENCE in result.check_in.flags
    assert result.nearest.customer.key == "harbor-logistics"
    assert 300 < result.check_in.distance_m < 360
    assert result.choices[0].customer.key == "harbor-logistics"


async def test_several_sites_inside_let_the_rep_choose(service, clock, org):
    async with org.uow() as uow:
        annex = await uow.customers.add(Customer(None, "harbor-annex", "Harbor Annex", "",
                                                 31.2402, 121.4901, 150))
        await uow.commit()
    result = await service.check_in(CAROL, here(clock))
    assert {m.customer.key for m in result.choices} == {"harbor-logistics", "harbor-annex"}
    chosen = await service.choose_customer(CAROL, result.check_in.id, annex.id)
    assert chosen.check_in.customer_id == annex.id


async def test_forged_choice_for_another_reps_check_in_is_refused(service, clock):
    result = await service.check_in(CAROL, here(clock, lat=31.2430))
    with pytest.raises(DomainError) as refused:
        await service.choose_customer(LI, result.check_in.id, result.choices[0].customer.id)
    assert refused.value.code == "check_in_not_found"


async def test_forged_choice_of_a_customer_not_offered_is_refused(service, clock, org):
    result = await service.check_in(CAROL, here(clock, lat=31.2430))
    async with org.uow(read_only=True) as uow:
        far = await uow.customers.by_key("chengdu-foods")
    with pytest.raises(DomainError) as refused:
        await service.choose_customer(CAROL, result.check_in.id, far.id)
    assert refused.value.code == "customer_not_offered"


async def test_check_out_with_nothing_open_is_refused(service):
    with pytest.raises(DomainError) as refused:
        await service.check_out(CAROL)
    assert refused.value.code == "nothing_to_check_out"


async def test_check_out_closes_the_visit_and_measures_it(service, clock):
    await service.check_in(CAROL, here(clock))
    clock.advance(minutes=47)
    done = await service.check_out(CAROL)
    assert done.duration == timedelta(minutes=47) and done.customer.key == "harbor-logistics"
    with pytest.raises(DomainError):
        await service.check_out(CAROL)


async def test_live_location_updates_extend_the_visit(service, clock):
    result = await service.check_in(CAROL, here(clock, live_period=3600), chat_id=CAROL,
                                    message_id=7)
    clock.advance(minutes=20)
    moved = await service.live_update(CAROL, CAROL, 7, here(clock, live_period=3600))
    assert moved.id == result.check_in.id and moved.last_seen_at == clock.now()
    assert await service.live_update(LI, CAROL, 7, here(clock)) is None  # not Li's


async def test_check_ins_are_counted_per_local_day(service, clock, org):
    await service.check_in(CAROL, here(clock))
    async with org.uow(read_only=True) as uow:
        carol = await uow.members.by_account_id(CAROL)
        day = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
        assert await uow.schedule.check_ins([carol.id], day, "Asia/Shanghai") == {carol.id: 1}
        assert await uow.schedule.check_ins([carol.id], day - timedelta(days=1),
                                            "Asia/Shanghai") == {}


# Photos


async def photo(service, clock, data, **fields):
    fields.setdefault("as_document", False)
    return await service.attach_photo(CAROL, data, file_id="f", sent_at=clock.now(), **fields)


async def test_photo_attaches_to_the_open_check_in(service, clock):
    result = await service.check_in(CAROL, here(clock))
    attached = await photo(service, clock, jpeg(scene(1)))
    assert attached.check_in.id == result.check_in.id and attached.photo.flags == frozenset()
    assert attached.photo_count == 1


async def test_photo_with_no_open_check_in_waits_for_the_rep(service, clock):
    waiting = await photo(service, clock, jpeg(scene(2)))
    assert waiting.check_in is None and waiting.last_today is None


async def test_waiting_photo_attaches_to_todays_last_check_in(service, clock):
    await service.check_in(CAROL, here(clock))
    clock.advance(minutes=5)
    await service.check_out(CAROL)
    waiting = await photo(service, clock, jpeg(scene(3)))
    assert waiting.check_in is None and waiting.last_today is not None
    attached = await service.attach_waiting_photo(CAROL, waiting.photo.id)
    assert attached.check_in.id == waiting.last_today.id
    with pytest.raises(DomainError):
        await service.attach_waiting_photo(LI, waiting.photo.id)  # forged: not Li's photo


async def test_captioned_photo_within_the_window_counts_after_check_out(service, clock):
    await service.check_in(CAROL, here(clock))
    await service.check_out(CAROL)
    attached = await photo(service, clock, jpeg(scene(4)), captioned=True)
    assert attached.check_in is not None


async def test_same_photo_twice_on_one_visit_is_refused(service, clock):
    await service.check_in(CAROL, here(clock))
    await photo(service, clock, jpeg(scene(5)))
    with pytest.raises(DomainError) as refused:
        await photo(service, clock, jpeg(scene(5)))
    assert refused.value.code == "photo_already_attached"


async def test_photo_reused_from_last_week_is_flagged_even_recompressed(service, clock):
    await service.check_in(CAROL, here(clock))
    await photo(service, clock, jpeg(scene(6)))
    clock.advance(days=7)
    await service.check_in(CAROL, here(clock))
    image = scene(6)
    cropped = image.crop((10, 8, image.width - 10, image.height - 8))
    again = await photo(service, clock, jpeg(cropped, quality=55))
    assert again.photo.flags == {"reused_photo"}
    assert TrustFlag.REUSED_PHOTO in again.check_in.flags and not again.check_in.verified


async def test_photo_file_taken_elsewhere_is_flagged_exif_mismatch(service, clock):
    await service.check_in(CAROL, here(clock))
    beijing = with_exif("2026:11:26 10:00:00", (39, 54, 0), (116, 23, 0))
    attached = await photo(service, clock, jpeg(scene(7), exif=beijing), as_document=True)
    assert attached.photo.flags == {"exif_mismatch"}


async def test_corrupt_jpeg_is_refused(service, clock):
    await service.check_in(CAROL, here(clock))
    data = jpeg(scene(8))
    with pytest.raises(DomainError) as refused:
        await photo(service, clock, data[: len(data) // 3])
    assert refused.value.code == "corrupt_image"


async def test_non_image_is_refused(service, clock):
    with pytest.raises(DomainError) as refused:
        await photo(service, clock, b"%PDF-1.7 not a photo at all", as_document=True)
    assert refused.value.code == "not_an_image"


async def test_file_over_20_mb_is_refused(service, clock):
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "PNG")
    with pytest.raises(DomainError) as refused:
        await photo(service, clock, buffer.getvalue() + b"\0" * (25 * 1024 * 1024),
                    as_document=True)
    assert refused.value.code == "photo_too_big"


# What is remembered between check-ins: the gate's visitors, the customers' sites


async def set_active(database, account_id: int, active: bool) -> None:
    async with database.uow() as uow:
        member = await uow.members.by_account_id(account_id)
        await uow.members.update(replace(member, active=active))
        await uow.commit()


def another_process(database) -> Database:
    """The same database through an engine of its own, as `crmbot org import` would open."""
    return Database.connect(database.engine.url.render_as_string(hide_password=False))


async def test_member_deactivated_here_is_forgotten_by_the_gate_at_once(org, clock):
    visitors = build_services(parse_config({}, env={}), org, clock).visitors
    assert (await visitors.identify(CAROL)).is_member
    await set_active(org, CAROL, False)
    assert not (await visitors.identify(CAROL)).is_member


async def test_member_deactivated_elsewhere_cannot_check_in_though_still_remembered(
        service, org, clock):
    visitors = build_services(parse_config({}, env={}), org, clock).visitors
    assert (await visitors.identify(CAROL)).is_member
    elsewhere = another_process(org)
    try:
        await set_active(elsewhere, CAROL, False)
    finally:
        await elsewhere.dispose()
    assert (await visitors.identify(CAROL)).is_member  # until the refresh, at most 30 s
    with pytest.raises(NotAllowed):
        await service.check_in(CAROL, here(clock))
    assert await rows(org) == []


async def test_customer_added_here_is_matched_by_the_next_check_in(service, clock, org):
    lat, lon = 31.3000, 121.5000
    first = await service.check_in(CAROL, here(clock, lat=lat, lon=lon))
    assert first.customer is None
    async with org.uow() as uow:
        await uow.customers.add(Customer(None, "new-site", "New Site", "", lat, lon, 100))
        await uow.commit()
    clock.advance(minutes=1)
    assert (await service.check_in(CAROL, here(clock, lat=lat, lon=lon))).customer.key == \
        "new-site"


async def test_customer_moved_by_another_process_is_matched_after_the_refresh(org, clock,
                                                                            tmp_path):
    times = [0.0]
    sites = CustomerSitesCache(org.uow, org.changes, monotonic=lambda: times[0])
    service = CheckInService(org.uow, clock, CheckInRules(), PhotoStore(tmp_path / "photos"),
                             sites=sites)
    assert (await service.check_in(CAROL, here(clock, lat=31.30))).customer is None
    elsewhere = another_process(org)
    try:
        async with elsewhere.uow() as uow:
            harbor = await uow.customers.by_key("harbor-logistics")
            await uow.customers.update(replace(harbor, lat=31.30))
            await uow.commit()
    finally:
        await elsewhere.dispose()
    times[0] += 61
    stale = await sites.index()  # answers at once, and reads the customers again meanwhile
    for _ in range(500):
        if await sites.index() is not stale:
            break
        await asyncio.sleep(0.01)
    assert (await service.check_in(CAROL, here(clock, lat=31.30))).customer.key == \
        "harbor-logistics"


async def test_new_check_in_ends_the_visit_before_it(service, clock, org):
    first = await service.check_in(CAROL, here(clock))
    clock.advance(minutes=30)
    await service.check_in(LI, here(clock))
    second = await service.check_in(CAROL, here(clock))
    async with org.uow(read_only=True) as uow:
        assert (await uow.check_ins.get(first.check_in.id)).checked_out_at == clock.now()
        assert (await uow.check_ins.get(second.check_in.id)).checked_out_at is None
    # Li's visit is hers: Carol's check-in left it open.
    assert (await service.check_out(LI)).customer.key == "harbor-logistics"


async def test_check_ins_arriving_together_are_each_recorded_for_their_own_member(
        service, clock, org):
    results = await asyncio.gather(
        service.check_in(CAROL, here(clock)), service.check_in(LI, here(clock)),
        service.check_in(STRANGER, here(clock)), service.check_in(LI, here(clock, lat=31.2430)),
        return_exceptions=True)
    carol, li, stranger, li_again = results
    assert isinstance(stranger, NotAllowed)
    async with org.uow(read_only=True) as uow:
        carol_member = await uow.members.by_account_id(CAROL)
        li_member = await uow.members.by_account_id(LI)
        assert carol.check_in.member_id == carol_member.id
        assert li.check_in.member_id == li_again.check_in.member_id == li_member.id
        # Li's two check-ins went in one batch: the later one ends the earlier.
        assert (await uow.check_ins.get(li.check_in.id)).checked_out_at == clock.now()
        assert (await uow.check_ins.get(li_again.check_in.id)).checked_out_at is None
        assert (await uow.check_ins.get(carol.check_in.id)).checked_out_at is None
    assert len(await rows(org)) == 3
