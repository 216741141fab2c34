"""Check-ins through the real bot: the rep's deals at no customer's site, the automatic
link to the only deal at a customer, and required photos."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.tables import CheckInRow
from tests.chat.conftest import alerts, said, texts
from tests.chat.test_checkin import check_in
from tests.pictures import jpeg, scene
from tests.service.test_checkin_deals import NOWHERE, add_deal

CAROL, LI = 2001, 2002


@pytest.fixture(params=[False, True], ids=["photos-optional", "photos-required"])
def photo_required(request) -> bool:
    return request.param


@pytest.fixture
def config_sections(photo_required) -> dict:
    return {"checkin": {"photo_required": photo_required}}


pytestmark = pytest.mark.usefixtures("same_time")


async def away(stage, who):
    return await stage.act(who.share_location(*NOWHERE, horizontal_accuracy=10.0))


async def stored(database) -> list[tuple]:
    async with database.uow(read_only=True) as uow:
        return list((await uow.session.execute(
            select(CheckInRow.customer_id, CheckInRow.opportunity_id, CheckInRow.flags)
            .order_by(CheckInRow.id))).all())


# Required photos (the same visit with the setting off and on)


async def test_photo_optional_or_required_after_a_check_in(stage, cast, photo_required):
    entries = await check_in(stage, cast.carol)
    if photo_required:
        assert texts(entries) == [
            "📍 Checked in at Harbor Logistics (0 m from the site), 2026-11-26 10:00.\n"
            "📷 A photo of the visit is required: please send it now. Until it arrives, "
            "this visit does not count as verified."]
    else:
        assert texts(entries) == [
            "📍 Checked in at Harbor Logistics (0 m from the site), 2026-11-26 10:00.\n"
            "✅ Verified visit.\nYou can send a photo of the visit now."]
    photo = await stage.act(cast.carol.send_photo(jpeg(scene(21))))
    expected = ["📷 Photo 1 added to your visit of 2026-11-26 10:00."]
    if photo_required:
        expected = [expected[0] + "\n✅ The required photo is in: this visit counts as "
                                  "verified now."]
    assert texts(photo) == expected


async def test_checking_out_without_the_required_photo_says_so(stage, cast, clock,
                                                               org_database, photo_required):
    await check_in(stage, cast.carol)
    clock.advance(minutes=20)
    entries = await stage.act(cast.carol.send("/checkout"))
    warning = ("⚠️ No photo was sent for this visit, so it does not count as verified. "
               "You can still send one today.")
    assert (warning in said(entries)) == photo_required
    [(_, _, flags)] = await stored(org_database)
    assert flags == ("no_photo" if photo_required else "")


async def test_manager_sees_the_missing_photo_in_the_team_view(stage, cast, photo_required):
    await check_in(stage, cast.carol)
    team = said(await stage.act(cast.erin.send("/team")))
    assert ("⚠ a check-in today carries a trust flag" in team) == photo_required


# The rep's deals


@pytest.mark.parametrize("photo_required", [False], ids=["photos-optional"])
async def test_check_in_at_a_customer_links_the_only_open_deal(stage, cast, clock,
                                                               org_database):
    deal = await add_deal(org_database, clock, CAROL, "harbor-logistics", "Cold-chain fleet")
    entries = await check_in(stage, cast.carol)
    assert "🤝 For the opportunity “Cold-chain fleet”." in said(entries)
    [(_, opportunity, _)] = await stored(org_database)
    assert opportunity == deal


@pytest.mark.parametrize("photo_required", [False], ids=["photos-optional"])
async def test_no_match_offers_the_reps_deals_and_a_press_assigns_one(stage, cast, clock,
                                                                      org_database):
    deal = await add_deal(org_database, clock, CAROL, "pudong-medical", "Hospital beds")
    entries = await away(stage, cast.carol)
    assert ("not at any customer: the nearest is Pudong Medical Supplies, 9.8 km away"
            in said(entries))
    assert "Is this visit for one of your opportunities?" in said(entries)
    assert entries[-1].buttons == [["🤝 Pudong Medical Supplies · Hospital beds · 9.8 km"],
                                   ["Leave unassigned"], ["Check out"]]
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    chosen = await stage.act(cast.carol.press(
        message, "🤝 Pudong Medical Supplies · Hospital beds · 9.8 km"))
    text = said(chosen)
    assert "Checked in at Pudong Medical Supplies (9.8 km from the site)" in text
    assert "🤝 For the opportunity “Hospital beds”." in text
    assert "not at a customer's site" in text  # still outside the geofence
    [(customer, opportunity, flags)] = await stored(org_database)
    assert customer is not None and opportunity == deal and flags == "outside_geofence"
    again = await stage.act(cast.carol.press(message, callback_data=f"ci:d:1:{deal}",
                                             forge=True))
    assert alerts(again) == ["This check-in is already assigned to a customer."]


@pytest.mark.parametrize("photo_required", [False], ids=["photos-optional"])
async def test_leave_unassigned_keeps_the_check_in_at_no_customer(stage, cast, clock,
                                                                  org_database):
    await add_deal(org_database, clock, CAROL, "pudong-medical", "Hospital beds")
    await away(stage, cast.carol)
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    left = await stage.act(cast.carol.press(message, "Leave unassigned"))
    assert ("not at any customer: the nearest is Pudong Medical Supplies, 9.8 km away"
            in said(left))
    assert stage.standin.bot_messages(cast.carol.id)[-1].buttons == [["Check out"]]
    assert [(c, o) for c, o, _ in await stored(org_database)] == [(None, None)]


@pytest.mark.parametrize("photo_required", [False], ids=["photos-optional"])
async def test_forged_deal_presses_change_nothing(stage, cast, clock, org_database):
    mine = await add_deal(org_database, clock, CAROL, "pudong-medical", "Hospital beds")
    closed = await add_deal(org_database, clock, CAROL, "xihu-textiles", "Looms", closed=True)
    lis = await add_deal(org_database, clock, LI, "harbor-logistics", "Li's fleet")
    await away(stage, cast.carol)
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    on_carols = await stage.act(cast.li.press(message, callback_data=f"ci:d:1:{lis}",
                                              forge=True))
    assert alerts(on_carols) == ["这个按钮已失效。"]  # Li reads Chinese
    closed_one = await stage.act(cast.carol.press(message, callback_data=f"ci:d:1:{closed}",
                                                  forge=True))
    assert alerts(closed_one) == ["That opportunity is closed, so nothing was linked to it."]
    not_hers = await stage.act(cast.carol.press(message, callback_data=f"ci:d:1:{lis}",
                                                forge=True))
    assert alerts(not_hers) == ["That button is no longer valid."]
    assert [(c, o) for c, o, _ in await stored(org_database)] == [(None, None)]
    assert mine  # still offered, still unpressed
