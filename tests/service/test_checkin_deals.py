"""Check-ins and the rep's deals, and required photos, on both backends."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.domain.errors import DomainError
from core.domain.org.model import Customer
from core.domain.schedule.checkins import CheckIn, CheckInRules, TrustFlag
from core.schedule.calendar import CalendarService, TeamService
from core.schedule.checkins import CheckInService
from core.schedule.sites import CustomerSitesCache
from storage.photos import PhotoStore
from storage.tables import CustomerRow, MemberRow, OpportunityRow
from tests.example_org import DEFAULTS
from tests.pictures import jpeg, scene
from tests.service.test_calendar import ERIN
from tests.service.test_checkins import CAROL, LI, here

# Far from every site: Pudong Medical is the nearest, some 9.6 km away.
NOWHERE = (31.3000, 121.6000)


def checkins(database, clock, tmp_path, *, photo_required=False) -> CheckInService:
    return CheckInService(database.uow, clock, CheckInRules(photo_required=photo_required),
                          PhotoStore(tmp_path / "photos"),
                          sites=CustomerSitesCache(database.uow, database.changes),
                          timezone="Asia/Shanghai")


@pytest.fixture
def service(org, clock, tmp_path) -> CheckInService:
    return checkins(org, clock, tmp_path)


async def add_deal(database, clock, account_id: int, customer: str, title: str, *,
                   closes: date = date(2026, 12, 20), closed: bool = False) -> int:
    """An opportunity as the pipeline stores it (its own use cases are tested elsewhere)."""
    async with database.uow() as uow:
        owner = await uow.session.scalar(select(MemberRow).where(
            MemberRow.account_id == account_id))
        customer_id = await uow.session.scalar(select(CustomerRow.id).where(
            CustomerRow.key == customer))
        row = OpportunityRow(
            owner_id=owner.id, department_id=owner.department_id, customer_id=customer_id,
            title=title, amount=Decimal("10000"), currency="CNY",
            stage="won" if closed else "lead", probability=100 if closed else 10,
            expected_close=closes, created_at=clock.now(), updated_at=clock.now(),
            closed_at=clock.now() if closed else None, last_activity_at=clock.now())
        uow.session.add(row)
        await uow.session.flush()
        await uow.commit()
        return row.id


async def stored(database, check_in_id: int) -> CheckIn:
    async with database.uow(read_only=True) as uow:
        return await uow.check_ins.get(check_in_id)


async def refused(code: str, call) -> None:
    with pytest.raises(DomainError) as error:
        await call
    assert error.value.code == code


# The automatic link


async def test_check_in_at_a_customer_links_the_reps_only_open_deal(service, clock, org):
    deal = await add_deal(org, clock, CAROL, "harbor-logistics", "Cold-chain fleet")
    await add_deal(org, clock, CAROL, "harbor-logistics", "Old fleet", closed=True)
    await add_deal(org, clock, LI, "harbor-logistics", "Li's fleet")  # not Carol's
    result = await service.check_in(CAROL, here(clock))
    assert result.check_in.opportunity_id == deal and result.deal == "Cold-chain fleet"
    assert (await stored(org, result.check_in.id)).opportunity_id == deal
    assert result.check_in.verified  # the link changes no trust flag


async def test_two_open_deals_at_the_customer_link_none(service, clock, org):
    await add_deal(org, clock, CAROL, "harbor-logistics", "Fleet")
    await add_deal(org, clock, CAROL, "harbor-logistics", "Warehouse")
    result = await service.check_in(CAROL, here(clock))
    assert result.check_in.opportunity_id is None and result.deal is None
    assert (await stored(org, result.check_in.id)).opportunity_id is None


async def test_check_ins_arriving_together_link_each_reps_own_deal(service, clock, org):
    carols = await add_deal(org, clock, CAROL, "harbor-logistics", "Carol's")
    lis = await add_deal(org, clock, LI, "harbor-logistics", "Li's")
    carol, li, away = await asyncio.gather(
        service.check_in(CAROL, here(clock)), service.check_in(LI, here(clock)),
        service.check_in(LI, here(clock, lat=NOWHERE[0], lon=NOWHERE[1])))
    assert (carol.check_in.opportunity_id, li.check_in.opportunity_id) == (carols, lis)
    assert away.check_in.opportunity_id is None
    assert (await stored(org, li.check_in.id)).opportunity_id == lis


async def test_choosing_among_sites_links_the_only_deal_there(service, clock, org):
    async with org.uow() as uow:
        annex = await uow.customers.add(Customer(None, "harbor-annex", "Harbor Annex", "",
                                                 31.2402, 121.4901, 150))
        await uow.commit()
    deal = await add_deal(org, clock, CAROL, "harbor-annex", "Annex racks")
    result = await service.check_in(CAROL, here(clock))
    assert result.check_in.opportunity_id is None  # nearest is Harbor: no deal there
    chosen = await service.choose_customer(CAROL, result.check_in.id, annex.id)
    assert chosen.check_in.opportunity_id == deal and chosen.deal == "Annex racks"
    assert (await stored(org, result.check_in.id)).opportunity_id == deal


# At no customer's site: the rep's deals are offered


async def test_no_match_offers_the_customers_of_the_reps_open_deals(service, clock, org):
    await add_deal(org, clock, CAROL, "xihu-textiles", "Looms", closes=date(2027, 1, 9))
    await add_deal(org, clock, CAROL, "pudong-medical", "Beds", closes=date(2026, 12, 5))
    await add_deal(org, clock, CAROL, "chengdu-foods", "Lost one", closed=True)
    await add_deal(org, clock, LI, "harbor-logistics", "Li's")
    result = await service.check_in(CAROL, here(clock, lat=NOWHERE[0], lon=NOWHERE[1]))
    assert result.customer is None and result.nearest.customer.key == "pudong-medical"
    assert [(d.title, d.customer.key) for d in result.deals] == [
        ("Beds", "pudong-medical"), ("Looms", "xihu-textiles")]  # closing soonest first
    assert 8_000 < result.deals[0].distance_m < 10_000
    assert result.must_choose


async def test_a_deal_nearby_is_offered_once_as_the_deal(service, clock, org):
    await add_deal(org, clock, CAROL, "harbor-logistics", "Fleet")
    result = await service.check_in(CAROL, here(clock, lat=31.2430))  # 334 m from Harbor
    assert [d.customer.key for d in result.deals] == ["harbor-logistics"]
    assert [m.customer.key for m in result.choices] == ["pudong-medical"]


async def test_pressing_a_deal_assigns_its_customer_and_opportunity(service, clock, org):
    deal = await add_deal(org, clock, CAROL, "pudong-medical", "Beds")
    result = await service.check_in(CAROL, here(clock, lat=NOWHERE[0], lon=NOWHERE[1]))
    chosen = await service.choose_deal(CAROL, result.check_in.id, deal)
    assert chosen.customer.key == "pudong-medical" and chosen.deal == "Beds"
    row = await stored(org, result.check_in.id)
    assert row.opportunity_id == deal and row.customer_id == chosen.customer.id
    assert row.distance_m == pytest.approx(result.deals[0].distance_m)
    assert TrustFlag.OUTSIDE_GEOFENCE in row.flags and not chosen.check_in.verified
    # Pressed again (or a second button): it is assigned already.
    await refused("check_in_assigned", service.choose_deal(CAROL, result.check_in.id, deal))


async def test_forged_deal_presses_change_nothing(service, clock, org):
    mine = await add_deal(org, clock, CAROL, "pudong-medical", "Beds")
    closed = await add_deal(org, clock, CAROL, "xihu-textiles", "Looms", closed=True)
    lis = await add_deal(org, clock, LI, "harbor-logistics", "Li's")
    result = await service.check_in(CAROL, here(clock, lat=NOWHERE[0], lon=NOWHERE[1]))
    check_in = result.check_in.id
    await refused("check_in_not_found", service.choose_deal(LI, check_in, lis))
    await refused("check_in_not_found", service.choose_deal(LI, check_in, mine))
    await refused("opp_not_found", service.choose_deal(CAROL, check_in, lis))
    await refused("opp_closed", service.choose_deal(CAROL, check_in, closed))
    await refused("opp_not_found", service.choose_deal(CAROL, check_in, 987654))
    await refused("check_in_not_found", service.choose_deal(CAROL, 987654, mine))
    row = await stored(org, check_in)
    assert (row.customer_id, row.opportunity_id) == (None, None)


async def test_a_check_in_at_a_customer_cannot_be_moved_to_a_deal(service, clock, org):
    deal = await add_deal(org, clock, CAROL, "pudong-medical", "Beds")
    result = await service.check_in(CAROL, here(clock))  # at Harbor
    await refused("check_in_assigned", service.choose_deal(CAROL, result.check_in.id, deal))


async def test_leave_unassigned_keeps_the_nearest_distance(service, clock, org):
    await add_deal(org, clock, CAROL, "pudong-medical", "Beds")
    result = await service.check_in(CAROL, here(clock, lat=NOWHERE[0], lon=NOWHERE[1]))
    left = await service.leave_unassigned(CAROL, result.check_in.id)
    assert left.customer is None and not left.must_choose
    assert left.nearest.customer.key == "pudong-medical"
    assert (await stored(org, result.check_in.id)).distance_m == pytest.approx(
        left.nearest.distance_m)
    await refused("check_in_not_found", service.leave_unassigned(LI, result.check_in.id))


# Required photos


async def photo(service, clock, n: int):
    return await service.attach_photo(CAROL, jpeg(scene(n)), file_id="f", as_document=False,
                                      sent_at=clock.now())


async def test_photos_optional_leave_no_mark(service, clock):
    result = await service.check_in(CAROL, here(clock))
    assert result.check_in.flags == frozenset() and result.check_in.verified
    assert not (await photo(service, clock, 11)).completes


async def test_required_photo_missing_keeps_the_visit_unverified_until_it_arrives(
        org, clock, tmp_path):
    service = checkins(org, clock, tmp_path, photo_required=True)
    result = await service.check_in(CAROL, here(clock))
    assert result.check_in.flags == {TrustFlag.NO_PHOTO} and not result.check_in.verified
    assert (await stored(org, result.check_in.id)).flags == {TrustFlag.NO_PHOTO}
    added = await photo(service, clock, 12)
    assert added.completes and added.check_in.verified
    assert (await stored(org, result.check_in.id)).flags == frozenset()
    second = await photo(service, clock, 13)
    assert not second.completes


async def test_checked_out_without_the_photo_stays_marked_until_attached(org, clock, tmp_path):
    service = checkins(org, clock, tmp_path, photo_required=True)
    result = await service.check_in(CAROL, here(clock))
    clock.advance(minutes=30)
    done = await service.check_out(CAROL)
    assert TrustFlag.NO_PHOTO in done.check_in.flags
    clock.advance(minutes=30)
    waiting = await photo(service, clock, 14)
    assert waiting.check_in is None
    attached = await service.attach_waiting_photo(CAROL, waiting.photo.id)
    assert attached.completes and attached.check_in.id == result.check_in.id
    assert (await stored(org, result.check_in.id)).flags == frozenset()


async def test_a_reused_photo_lifts_no_photo_but_not_the_doubt(org, clock, tmp_path):
    service = checkins(org, clock, tmp_path, photo_required=True)
    await service.check_in(CAROL, here(clock))
    await photo(service, clock, 15)
    clock.advance(days=1)
    await service.check_in(CAROL, here(clock))
    again = await photo(service, clock, 15)
    assert again.completes and again.check_in.flags == {TrustFlag.REUSED_PHOTO}


async def test_the_calendar_and_team_show_the_missing_photo(org, clock, tmp_path):
    service = checkins(org, clock, tmp_path, photo_required=True)
    await service.check_in(CAROL, here(clock))
    day = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    view = await CalendarService(org.uow, clock, DEFAULTS).day(CAROL, day)
    assert [c.flags for c in view.check_ins] == [{TrustFlag.NO_PHOTO}]
    today = await TeamService(org.uow, clock, DEFAULTS).today(ERIN)
    assert [(r.member.key, r.flagged) for r in today.rows if r.check_ins] == [("carol", 1)]
