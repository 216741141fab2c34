"""Check-in through the real bot: a location, what the rep sees, photos, check-out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from standin import render_transcript
from storage.tables import CheckInRow, VisitPhotoRow
from tests.chat.conftest import count, said, texts
from tests.pictures import huge_png, jpeg, oversized_png, scene

HARBOR = (31.2400, 121.4900)


pytestmark = pytest.mark.usefixtures("same_time")


async def check_in(stage, who, **fields):
    fields.setdefault("horizontal_accuracy", 10.0)
    return await stage.act(who.share_location(*HARBOR, **fields))


async def test_check_in_at_a_customer_shows_the_verified_visit(stage, cast, org_database):
    entries = await check_in(stage, cast.carol)
    assert texts(entries) == [
        "📍 Checked in at Harbor Logistics (0 m from the site), 2026-11-26 10:00.\n"
        "✅ Verified visit.\nYou can send a photo of the visit now."]
    assert entries[-1].buttons == [["Check out"]]
    assert await count(org_database, CheckInRow) == 1


async def test_check_in_takes_two_actions_from_the_main_menu(stage, cast):
    menu = await stage.act(cast.carol.send("/start"))
    [button] = [b for row in menu[-1].markup["keyboard"] for b in row
                if b.get("request_location")]
    assert button["text"] == "📍 Check in"  # one tap opens the location sheet, one sends
    assert "Checked in at Harbor Logistics" in said(await check_in(stage, cast.carol))


async def test_stale_location_is_flagged(stage, cast, clock):
    entries = await check_in(stage, cast.carol, date=clock.now().timestamp() - 600)
    assert ("⚠️ This location was sent more than 120 seconds ago, so it does not count "
            "as a verified visit.") in said(entries)
    assert "Verified visit" not in said(entries)


async def test_forwarded_location_is_refused_and_not_stored(stage, cast, org_database):
    entries = await check_in(stage, cast.carol, forward_from=cast.li)
    assert "A forwarded location is not a check-in" in said(entries)
    assert await count(org_database, CheckInRow) == 0


@pytest.mark.parametrize("lat, lon", [(91, 0), (-91, 0), (0, 181), (0, -181), (1e308, 0)])
async def test_impossible_coordinates_are_refused_and_not_stored(stage, cast, org_database,
                                                                 lat, lon):
    entries = await stage.act(cast.carol.share_location(lat, lon))
    assert texts(entries) == [
        "This location is not a place on Earth, so nothing was recorded. Please share your "
        "location again with the 📍 Check in button."]
    assert await count(org_database, CheckInRow) == 0


async def test_map_picked_point_never_counts_as_verified(stage, cast):
    entries = await stage.act(cast.carol.share_location(*HARBOR))
    assert ("⚠️ This location was picked on the map, so it does not count as a verified "
            "visit.") in said(entries)
    assert "Verified visit" not in said(entries)


async def test_venue_is_map_picked(stage, cast):
    entries = await check_in(stage, cast.carol, venue={"title": "Harbor", "address": "88 Rd"})
    assert "picked on the map" in said(entries)


async def test_inaccurate_location_is_flagged(stage, cast):
    entries = await check_in(stage, cast.carol, horizontal_accuracy=800.0)
    assert "placed you only within 800 m" in said(entries)


async def test_location_in_a_group_points_to_the_private_chat(stage, cast, org_database):
    # A team chat where the bot is an admin sees every message, locations too.
    group = stage.standin.group(-100900, "East team", [cast.carol, cast.erin],
                                bot_is_admin=True)
    entries = await stage.act(cast.carol.share_location(*HARBOR, horizontal_accuracy=5,
                                                        chat=group))
    assert texts(entries) == [
        "Please check in in a private chat with me: share your location there."]
    assert await count(org_database, CheckInRow) == 0


async def test_away_from_customers_offers_the_nearest_to_choose(stage, cast, org_database):
    entries = await stage.act(cast.carol.share_location(31.2430, 121.4900,
                                                        horizontal_accuracy=10))
    text = said(entries)
    assert "not at any customer: the nearest is Harbor Logistics, 334 m away" in text
    assert entries[-1].buttons[0] == ["Harbor Logistics · 334 m"]
    chosen = await stage.act(cast.carol.press(stage.standin.bot_messages(cast.carol.id)[-1],
                                              "Harbor Logistics · 334 m"))
    assert "Checked in at Harbor Logistics (334 m from the site)" in said(chosen)
    assert "not at a customer's site" in said(chosen)  # chosen, but still not verified


async def test_forged_choice_of_a_customer_not_offered_changes_nothing(stage, cast,
                                                                      org_database):
    await stage.act(cast.carol.share_location(31.2430, 121.4900, horizontal_accuracy=10))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    entries = await stage.act(cast.carol.press(message, callback_data="ci:c:1:4", forge=True))
    answer = [e for e in entries if e.kind == "callback_answer"]
    assert answer[-1].text == "That customer was not offered for this check-in."


async def test_forged_choice_on_another_reps_check_in_is_refused(stage, cast):
    await check_in(stage, cast.carol)
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    entries = await stage.act(cast.li.press(message, callback_data="ci:c:1:1", forge=True))
    answer = [e for e in entries if e.kind == "callback_answer"]
    assert answer[-1].text == "这个按钮已失效。"  # Li reads Chinese


async def test_check_out_shows_the_duration(stage, cast, clock):
    await check_in(stage, cast.carol)
    clock.advance(minutes=75)
    entries = await stage.act(cast.carol.send("/checkout"))
    assert texts(entries) == ["👋 Checked out of Harbor Logistics. The visit lasted 1 h 15 min."]


async def test_check_out_with_nothing_open(stage, cast):
    entries = await stage.act(cast.carol.send("/checkout"))
    assert texts(entries) == ["You have no open visit to check out of."]


async def test_live_location_updates_extend_the_visit(stage, cast, clock, org_database):
    entries = await check_in(stage, cast.carol, live_period=3600)
    assert "Your live location measures the visit while you share it." in said(entries)
    [shared] = [e for e in entries if not e.by_bot]
    clock.advance(minutes=10)
    await cast.carol.edit_location(shared.message_id, HARBOR[0] + 0.0001, HARBOR[1],
                                   horizontal_accuracy=8)
    await stage.standin.idle()
    async with org_database.uow(read_only=True) as uow:
        last_seen = await uow.session.scalar(select(CheckInRow.last_seen_at))
    assert last_seen == clock.now()


async def test_a_live_location_moved_off_the_map_is_not_followed(stage, cast, clock,
                                                                  org_database):
    entries = await check_in(stage, cast.carol, live_period=3600)
    [shared] = [e for e in entries if not e.by_bot]
    started = clock.now()
    clock.advance(minutes=10)
    await cast.carol.edit_location(shared.message_id, 91.0, HARBOR[1], horizontal_accuracy=8)
    await stage.standin.idle()
    async with org_database.uow(read_only=True) as uow:
        last_seen = await uow.session.scalar(select(CheckInRow.last_seen_at))
    assert last_seen == started


# Photos


async def test_photo_with_no_open_check_in_asks_what_it_is_for(stage, cast, org_database):
    entries = await stage.act(cast.carol.send_photo(jpeg(scene(1))))
    assert texts(entries) == ["You have no check-in today. Check in with the 📍 Check in "
                              "button first, then send the photo."]
    assert entries[-1].buttons == [["Cancel"]]


async def test_photo_after_check_out_can_be_attached_to_the_last_check_in(stage, cast):
    await check_in(stage, cast.carol)
    await stage.act(cast.carol.send("/checkout"))
    entries = await stage.act(cast.carol.send_photo(jpeg(scene(2))))
    assert entries[-1].buttons == [["Attach to my last check-in"], ["Cancel"]]
    attached = await stage.act(cast.carol.press(stage.standin.bot_messages(cast.carol.id)[-1],
                                                "Attach to my last check-in"))
    assert "📷 Photo 1 added to your visit of 2026-11-26 10:00." in said(attached)


async def test_photo_during_a_visit_is_attached(stage, cast, org_database):
    await check_in(stage, cast.carol)
    entries = await stage.act(cast.carol.send_photo(jpeg(scene(3))))
    assert texts(entries) == ["📷 Photo 1 added to your visit of 2026-11-26 10:00."]
    assert await count(org_database, VisitPhotoRow) == 1


async def test_same_photo_twice_is_refused_then_flagged_when_reused(stage, cast, clock):
    await check_in(stage, cast.carol)
    data = jpeg(scene(4))
    await stage.act(cast.carol.send_photo(data, as_document=True))
    again = await stage.act(cast.carol.send_photo(data, as_document=True))
    assert texts(again) == ["This photo is already attached to this visit."]
    clock.advance(days=7)
    await check_in(stage, cast.carol)
    reused = await stage.act(cast.carol.send_photo(jpeg(scene(4), quality=60)))
    assert "looks like one used for an earlier visit" in said(reused)


async def test_corrupt_jpeg_is_refused(stage, cast):
    await check_in(stage, cast.carol)
    data = jpeg(scene(5))
    entries = await stage.act(cast.carol.send_photo(data[: len(data) // 2], as_document=True,
                                                    mime_type="image/jpeg"))
    assert texts(entries) == ["I could not open this image: the file seems damaged. "
                              "Please send it again."]


async def test_25_mb_file_is_refused(stage, cast):
    await check_in(stage, cast.carol)
    big = oversized_png()
    entries = await stage.act(cast.carol.send_photo(big, as_document=True, filename="big.png",
                                                    mime_type="image/png"))
    assert texts(entries) == ["This file is larger than 20 MB, so I cannot take it. "
                              "Please send a smaller photo."]


async def test_small_file_of_a_huge_picture_is_refused_and_not_stored(stage, cast,
                                                                     org_database):
    await check_in(stage, cast.carol)
    entries = await stage.act(cast.carol.send_photo(huge_png(), as_document=True,
                                                    filename="scan.png", mime_type="image/png"))
    assert texts(entries) == ["This picture is too large for me to open (too many pixels). "
                              "Please send it as a photo rather than as a file."]
    assert await count(org_database, VisitPhotoRow) == 0


async def test_non_image_document_is_refused(stage, cast):
    entries = await stage.act(cast.carol.send_document(b"%PDF-1.7", "offer.pdf",
                                                       "application/pdf"))
    assert texts(entries) == ["This file is not a photo. Please send a JPEG or PNG image."]


async def test_transcript_of_a_visit(stage, cast, clock):
    entries = await check_in(stage, cast.carol)
    entries += await stage.act(cast.carol.send_photo(jpeg(scene(6))))
    clock.advance(minutes=30)
    entries += await stage.act(cast.carol.send("/checkout"))
    transcript = render_transcript(entries)
    assert "Checked in at Harbor Logistics" in transcript
    print(transcript)
