"""An opportunity's card through the real bot: a visit planned and an expense filed from its
buttons, a check-in with a photo there; the manager sees all of it on the card and gets the
photo as sent; forged buttons of another department's card show nothing."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from storage.tables import ClaimRow, OpportunityRow, PlanItemRow
from tests.chat.conftest import answers, last, texts

NOT_FOUND = "I could not find that opportunity, or it is not one you can see."
HARBOR = (31.2401, 121.4902)


def photo(color=(30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(buffer, "JPEG")
    return buffer.getvalue()


async def rows(database, table):
    async with database.uow(read_only=True) as uow:
        found = list(await uow.session.scalars(select(table).order_by(table.id)))
        uow.session.expunge_all()
        return found


async def a_deal_worked_from_its_card(stage, cast, clock) -> None:
    """Carol adds the deal, plans tomorrow's visit and, there today already, checks in with a
    photo and files her lunch for it: each from the card's buttons or the usual commands."""
    carol = cast.carol
    await stage.act(carol.send("/opp"))
    await stage.act(carol.press(last(stage, carol), "Harbor Logistics"))
    await stage.act(carol.send("Cold-chain fleet"))
    await stage.act(carol.send("120000"))
    await stage.act(carol.send("2026-12-20"))
    await stage.act(carol.press(last(stage, carol), "Proposal · 50%"))
    card = last(stage, carol)
    assert ["🗓 Plan a visit", "🧾 File an expense"] in card.buttons
    entries = await stage.act(carol.press(card, "🗓 Plan a visit"))
    assert texts(entries) == ["🗓 Plan for Fri 27 Nov\n\nNew, not saved yet:\n"
                              "1. Visit Harbor Logistics · 🏢 Harbor Logistics 💼\n\n"
                              "Send the next item as a message, or save the plan."]
    await stage.act(carol.press(last(stage, carol), "✅ Save plan"))
    clock.advance(minutes=20)
    await stage.act(carol.share_location(*HARBOR, horizontal_accuracy=12,
                                         date=clock.moment.timestamp()))
    await stage.act(carol.send_photo(photo()))
    clock.advance(minutes=90)
    entries = await stage.act(carol.press(card, "🧾 File an expense"))
    assert texts(entries)[0].startswith("💼 For: Harbor Logistics · Cold-chain fleet\n🧾 How much")
    await stage.act(carol.send("268 client lunch"))
    for button in ("Today", "🏢 My department: East region"):
        await stage.act(carol.press(last(stage, carol), button))
    await stage.act(carol.send_photo(photo((250, 250, 245))))  # the receipt
    await stage.act(carol.press(last(stage, carol), "✅ Submit"))


async def test_the_manager_sees_plan_check_in_photo_and_claim_on_the_card(stage, cast, clock,
                                                                        org_database):
    await a_deal_worked_from_its_card(stage, cast, clock)
    [item] = await rows(org_database, PlanItemRow)
    [claim] = await rows(org_database, ClaimRow)
    [deal] = await rows(org_database, OpportunityRow)
    assert (item.opportunity_id, claim.opportunity_id, claim.status) == (
        deal.id, deal.id, "pending")
    erin = cast.erin
    await stage.act(erin.send("/opps"))
    # Carol's claim reaches Erin as an approval card too, in its own time.
    listing = [m for m in stage.standin.bot_messages(erin.id)
               if (m.text or "").startswith("💼")][-1]
    await stage.act(erin.press(listing, "Cold-chain fleet — Harbor Logistics"))
    [card] = [m for m in stage.standin.bot_messages(erin.id)
              if m.message_id == listing.message_id]
    assert card.text.splitlines()[6:] == [
        "🧾 Expenses (approved and pending): CNY 268.00 — Meals CNY 268.00",
        "",
        "Timeline (newest first)",
        "Fri 27 Nov · Carol Lin: 🗓 planned: Visit Harbor Logistics · 🏢 Harbor Logistics ⏳",
        "Thu 26 Nov 11:50 · Carol Lin: 🧾 EXP-2026-000001 · Meals · CNY 268.00 · "
        "⏳ waiting for approval",
        "Thu 26 Nov 10:20 · Carol Lin: 📍 check-in at Harbor Logistics · map · 📷 1",
        "Thu 26 Nov 10:00 · Carol Lin: 🔀 created at Proposal"]
    assert ["📷 Photos (1)"] in card.buttons
    entries = await stage.act(erin.press(card, "📷 Photos (1)"))
    sent = [e for e in entries if e.by_bot and e.kind in ("photo", "album", "message")]
    assert sent, [e.kind for e in entries]
    [sent_photo] = [m for m in stage.standin.bot_messages(erin.id) if m.caption]
    assert sent_photo.caption == "Carol Lin · 2026-11-26 10:20 (Asia/Shanghai) · Harbor Logistics"


async def test_forged_buttons_of_another_departments_card_show_nothing(stage, cast, clock,
                                                                     org_database, walt):
    await a_deal_worked_from_its_card(stage, cast, clock)
    [deal] = await rows(org_database, OpportunityRow)
    await stage.act(walt.send("/opps"))
    message = last(stage, walt)
    before = len(stage.standin.bot_messages(walt.id))
    for data in (f"opp:p:{deal.id}", f"plan:v:{deal.id}", f"exp:new:{deal.id}",
                 f"opp:v:{deal.id}:1"):
        entries = await stage.act(walt.press(message, callback_data=data, forge=True))
        assert answers(entries) == [NOT_FOUND], data
    assert len(stage.standin.bot_messages(walt.id)) == before  # no photo, plan or question
    assert len(await rows(org_database, PlanItemRow)) == 1
    assert len(await rows(org_database, ClaimRow)) == 1


async def test_the_timeline_pages_through_older_entries(stage, cast, clock, org_database):
    await a_deal_worked_from_its_card(stage, cast, clock)
    carol = cast.carol
    [deal] = await rows(org_database, OpportunityRow)
    for n in range(10):
        clock.advance(minutes=1)
        await stage.act(carol.press(last(stage, carol), callback_data=f"opp:e:{deal.id}:n",
                                    forge=True))
        await stage.act(carol.send(f"note {n}", reply_to=last(stage, carol)))
    card = last(stage, carol)
    lines = card.text.splitlines()
    assert lines[-10].endswith("🗓 planned: Visit Harbor Logistics · 🏢 Harbor Logistics ⏳")
    assert lines[-1].endswith("📝 note 1")  # the visit planned for tomorrow comes first
    entries = await stage.act(carol.press(card, "Older ▶"))
    older = texts(entries)[0].splitlines()
    assert older[8] == "Timeline (newest first) · page 2"
    assert [line.split(": ", 1)[1] for line in older[9:]] == [
        "📝 note 0",
        "🧾 EXP-2026-000001 · Meals · CNY 268.00 · ⏳ waiting for approval",
        "📍 check-in at Harbor Logistics · map · 📷 1",
        "🔀 created at Proposal"]
    assert ["◀ Newer"] in last(stage, carol).buttons
