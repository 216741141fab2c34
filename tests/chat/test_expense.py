"""/expense, /claims, /claim and /trip through the real bot: few taps, bad input refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.stage import Stage
from storage.tables import ClaimReceiptRow, ClaimRow
from tests.chat.conftest import alerts, count, last, said, texts
from tests.pictures import huge_png, jpeg, oversized_png, scene

pytestmark = pytest.mark.usefixtures("same_time")


def actions(entries) -> int:
    """Messages and taps by people (what the 7-step budget counts)."""
    return sum(1 for e in entries if not e.by_bot and e.kind in ("message", "press", "photo",
                                                                 "document"))


async def claims(database) -> list[tuple]:
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.execute(
            select(ClaimRow.status, ClaimRow.amount, ClaimRow.category, ClaimRow.spent_on,
                   ClaimRow.unit_kind, ClaimRow.description, ClaimRow.number)
            .order_by(ClaimRow.id))
        return [tuple(r) for r in rows]


async def test_quick_entry_with_receipt_in_three_actions(stage, cast, org_database):
    entries = await stage.act(cast.carol.send("/expense 350 hotel near Harbor Logistics"))
    assert "Please send a photo of the receipt" in said(entries)
    entries += await stage.act(cast.carol.send_photo(jpeg(scene(1))))
    summary = said(entries)
    assert "Category: Lodging" in summary
    assert "Charged to: East region" in summary
    entries += await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    assert "submitted" in said(entries)
    assert actions(entries) <= 7
    [row] = await claims(org_database)
    assert row[0] == "pending" and row[6].startswith("EXP-2026-")
    assert await count(org_database, ClaimReceiptRow) == 1


async def test_menu_button_guided_claim_with_receipt_in_seven_actions(stage, cast, org_database):
    entries = await stage.act(cast.carol.send("🧾 Expense"))
    assert "How much did you spend?" in said(entries)
    entries += await stage.act(cast.carol.send("350"))
    assert "What was it for?" in said(entries)
    entries += await stage.act(cast.carol.send("hotel for the rollout"))
    assert "Which category?" not in said(entries)  # "hotel" says it: Lodging
    entries += await stage.act(cast.carol.press(last(stage, cast.carol), "Today"))
    assert "Which budget is it charged to?" in said(entries)
    entries += await stage.act(cast.carol.press(last(stage, cast.carol),
                                                "📁 Project: Harbor Logistics rollout"))
    entries += await stage.act(cast.carol.send_photo(jpeg(scene(2))))
    summary = last(stage, cast.carol).text
    assert "Category: Lodging" in summary
    assert "Charged to: Harbor Logistics rollout" in summary
    assert "Approval: Erin Zhao" in summary
    entries += await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    assert actions(entries) == 7
    [row] = await claims(org_database)
    assert row[0] == "pending" and row[2] == "lodging" and row[4] == "project"
    assert row[5] == "hotel for the rollout"


async def test_a_description_without_a_known_word_asks_the_category(stage, cast, org_database):
    await stage.act(cast.carol.send("🧾 Expense"))
    await stage.act(cast.carol.send("80"))
    entries = await stage.act(cast.carol.send("samples for Pudong"))
    assert "Which category?" in said(entries)
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "Office supplies"))
    assert "When was it spent?" in said(entries)


async def test_every_amount_format_is_read(stage, cast, org_database):
    for typed in ["120", "120.50", "1,234.5", "¥88", "88元", "88 CNY"]:
        await stage.act(cast.carol.send("/expense"))
        if "Continue it?" in last(stage, cast.carol).text:
            await stage.act(cast.carol.press(last(stage, cast.carol), "🆕 New claim"))
        entries = await stage.act(cast.carol.send(typed))
        assert "What was it for?" in said(entries), typed
    amounts = sorted(str(r[1]) for r in await claims(org_database))
    assert amounts == sorted(["120.00", "120.50", "1234.50", "88.00", "88.00", "88.00"])


@pytest.mark.parametrize(("typed", "answer"), [
    ("0", "The amount must be more than zero, for example 120.50."),
    ("-5", "The amount must be more than zero, for example 120.50."),
    ("1000000", "That is more than 100,000.00, the most one claim can be."),
    ("lots", "I could not read that amount. Please send it like 120.50."),
    ("$20", "Claims are in CNY. Please send the amount in CNY, for example 120.50."),
    ("12.345", "An amount has at most two decimals, for example 120.50."),
])
async def test_bad_amounts_are_refused_and_asked_again(stage, cast, org_database, typed, answer):
    await stage.act(cast.carol.send("/expense"))
    entries = await stage.act(cast.carol.send(typed))
    assert answer in said(entries)
    assert "How much did you spend?" in said(entries)
    assert await count(org_database, ClaimRow) == 0
    entries = await stage.act(cast.carol.send("45"))
    assert "What was it for?" in said(entries)


async def test_date_in_the_future_and_too_old_are_refused(stage, cast, org_database):
    await stage.act(cast.carol.send("/expense 45 lunch"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "✏️ Edit"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "Date"))
    entries = await stage.act(cast.carol.send("2026-12-01"))
    assert "That day has not come yet" in said(entries)
    entries = await stage.act(cast.carol.send("2026-01-02"))
    assert "That is more than 90 days ago" in said(entries)
    entries = await stage.act(cast.carol.send("11-20"))
    assert "Date: 2026-11-20" in said(entries)
    # A forged date button for the future changes nothing either.
    claim_id = (await ids(org_database))[0]
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), forge=True,
                                               callback_data=f"exp:d:{claim_id}:20261231"))
    assert alerts(entries) == ["That day has not come yet: claims are for money already spent."]
    assert (await claims(org_database))[0][3].isoformat() == "2026-11-20"


async def ids(database) -> list[int]:
    async with database.uow(read_only=True) as uow:
        return list(await uow.session.scalars(select(ClaimRow.id).order_by(ClaimRow.id)))


async def test_forged_category_is_refused(stage, cast, org_database):
    await stage.act(cast.carol.send("/expense"))
    await stage.act(cast.carol.send("45"))
    [claim_id] = await ids(org_database)
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), forge=True,
                                               callback_data=f"exp:c:{claim_id}:yacht"))
    assert alerts(entries) == ["That category is not offered. Please tap one of the buttons."]
    assert (await claims(org_database))[0][2] is None


async def test_forged_button_on_another_persons_draft_changes_nothing(stage, cast,
                                                                     org_database):
    await stage.act(cast.carol.send("/expense 45 lunch"))
    [claim_id] = await ids(org_database)
    for data in (f"exp:c:{claim_id}:travel", f"exp:x:{claim_id}", f"exp:s:{claim_id}",
                 f"exp:k:{claim_id}"):
        entries = await stage.act(cast.sam.press(last(stage, cast.carol), forge=True,
                                                 callback_data=data))
        assert alerts(entries) == ["I could not find that claim."], data
    assert (await claims(org_database))[0][:3] == ("draft", (await claims(org_database))[0][1],
                                                   "meals")


async def test_receipt_that_is_not_an_image_or_too_big_is_refused(stage, cast, org_database):
    await stage.act(cast.carol.send("/expense 350 hotel"))
    entries = await stage.act(cast.carol.send_document(b"%PDF-1.7", "bill.pdf",
                                                       "application/pdf"))
    assert texts(entries) == ["This file is not a photo. Please send the receipt as a JPEG "
                              "or PNG image."]
    big = oversized_png()
    entries = await stage.act(cast.carol.send_photo(big, as_document=True, filename="big.png",
                                                    mime_type="image/png"))
    assert texts(entries) == ["This file is larger than 20 MB, so I cannot take it. "
                              "Please send a smaller photo of the receipt."]
    entries = await stage.act(cast.carol.send_photo(b"\x89PNG not really", as_document=True,
                                                    filename="x.png", mime_type="image/png"))
    assert "Please send the receipt" in said(entries)
    entries = await stage.act(cast.carol.send_photo(huge_png(), as_document=True,
                                                    filename="scan.png", mime_type="image/png"))
    assert texts(entries) == ["This picture is too large for me to open (too many pixels). "
                              "Please send the receipt as a photo rather than as a file."]
    assert await count(org_database, ClaimReceiptRow) == 0
    # Submit without a receipt is refused and the draft kept.
    [claim_id] = await ids(org_database)
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), forge=True,
                                               callback_data=f"exp:s:{claim_id}"))
    assert "Claims above 200.00 need a receipt" in said(entries) + "".join(alerts(entries))
    assert (await claims(org_database))[0][0] == "draft"


async def test_a_draft_survives_a_restart(org_database, config, clock, cast):
    async with Stage(config, org_database, clock=clock) as first:
        first.standin.clock = lambda: clock.now().timestamp()
        carol = cast.__class__(first.standin).carol
        await first.act(carol.send("/expense"))
        await first.act(carol.send("88元 team lunch"))
    async with Stage(config, org_database, clock=clock) as second:
        second.standin.clock = lambda: clock.now().timestamp()
        carol = cast.__class__(second.standin).carol
        entries = await second.act(carol.send("/expense"))
        assert "You have a draft from 2026-11-26" in said(entries)
        assert "CNY 88" in said(entries)
        entries = await second.act(carol.press(second.standin.bot_messages(carol.id)[-1],
                                               "▶️ Continue"))
        assert "When was it spent?" in said(entries)
        await second.act(carol.press(second.standin.bot_messages(carol.id)[-1], "Yesterday"))
        entries = await second.act(carol.press(second.standin.bot_messages(carol.id)[-1],
                                               "🏢 My department: East region"))
        assert "Category: Meals" in said(entries)
    [row] = await claims(org_database)
    assert row[0] == "draft" and row[3].isoformat() == "2026-11-25"


async def set_status(database, status: str) -> None:
    async with database.uow() as uow:
        await uow.session.execute(ClaimRow.__table__.update().values(status=status))
        await uow.commit()


async def test_claims_list_withdraw_and_history(stage, cast, org_database):
    await stage.act(cast.carol.send("/expense 45 lunch"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    await stage.act(cast.carol.send("/expense 30 taxi"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "💾 Save draft"))
    entries = await stage.act(cast.carol.send("/claims"))
    screen = last(stage, cast.carol)
    assert screen.text.splitlines()[1].startswith("📝 Draft · CNY 30.00 · Travel")
    assert screen.text.splitlines()[2].startswith("⏳ EXP-2026-")
    entries = await stage.act(cast.carol.press(screen, "↩️ Withdraw"))
    assert "↩️" in said(entries) and "withdrew" in said(entries)
    number = (await claims(org_database))[0][6]
    entries = await stage.act(cast.carol.send(f"/claim {number}"))
    history = said(entries)
    assert "Carol Lin · created" in history and "Carol Lin · submitted" in history


async def test_withdrawing_an_approved_claim_is_refused(stage, cast, org_database):
    await stage.act(cast.carol.send("/expense 45 lunch"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    [claim_id] = await ids(org_database)
    await set_status(org_database, "approved")
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), forge=True,
                                               callback_data=f"exp:w:{claim_id}"))
    assert alerts(entries) == ["This claim is already approved, so it cannot be withdrawn."]
    assert (await claims(org_database))[0][0] == "approved"


async def test_claim_is_visible_to_its_author_manager_and_finance_only(stage, cast,
                                                                      org_database):
    await stage.act(cast.carol.send("/expense 45 lunch"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    number = (await claims(org_database))[0][6]
    dana = stage.standin.user(1001, "Dana", language_code="en")
    fiona = stage.standin.user(3001, "Fiona", language_code="en")
    walt = stage.standin.user(1003, "Walt", language_code="en")
    for who in (cast.carol, cast.erin, dana, fiona):
        entries = await stage.act(who.send(f"/claim {number}"))
        assert number in said(entries), who
    for who in (cast.li, cast.sam, walt):
        entries = await stage.act(who.send(f"/claim {number}"))
        assert texts(entries) in (["I could not find that claim."], ["找不到这笔报销。"]), who
    entries = await stage.act(cast.sam.send("/claim 999"))
    assert texts(entries) == ["I could not find that claim."]


async def test_amount_with_the_currency_first_is_read_in_both_ways(stage, cast, org_database):
    entries = await stage.act(cast.carol.send("/expense"))
    assert "How much did you spend?" in said(entries)
    entries = await stage.act(cast.carol.send("CNY 88"))
    assert "📝 Draft · CNY 88.00\n\nWhat was it for?" in said(entries)
    await stage.act(cast.carol.send("/cancel"))
    entries = await stage.act(cast.carol.send("/expense CNY 88 lunch"))
    assert "Please send a photo of the receipt" not in said(entries)
    assert [str(row[1]) for row in await claims(org_database)][-1] == "88.00"


async def test_control_characters_in_a_description_are_not_kept(stage, cast, org_database):
    entries = await stage.act(cast.carol.send("/expense 45 lunch\x00 with\x1b client"))
    assert "lunch with client" in said(entries)
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    [row] = await claims(org_database)
    assert row[0] == "pending" and row[5] == "lunch with client"


async def test_claim_number_of_another_year_finds_nothing(stage, cast, org_database):
    await stage.act(cast.carol.send("/expense 45 lunch"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    number = (await claims(org_database))[0][6]
    assert number == "EXP-2026-000001"
    for typed in ("EXP-9999-000001", "2025-1"):
        entries = await stage.act(cast.carol.send(f"/claim {typed}"))
        assert texts(entries) == ["I could not find that claim."], typed
    for typed in ("EXP-2026-000001", "2026-1", "1"):
        entries = await stage.act(cast.carol.send(f"/claim {typed}"))
        assert number in said(entries), typed


async def test_a_trip_is_submitted_all_or_nothing(stage, cast, org_database):
    entries = await stage.act(cast.carol.send("/trip Hangzhou fair"))
    assert "Trip “Hangzhou fair” started" in said(entries)
    await stage.act(cast.carol.send("/expense 45 lunch"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "🧳 Add to “Hangzhou fair”"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "💾 Save draft"))
    await stage.act(cast.carol.send("/expense 150 hotel"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "🧳 Add to “Hangzhou fair”"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "✏️ Edit"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "Amount"))
    entries = await stage.act(cast.carol.send("350"))  # now a receipt is needed
    assert "Please send a photo of the receipt" in said(entries)
    await stage.act(cast.carol.send("/cancel"))
    await stage.act(cast.carol.send("/trip"))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol),
                                               "🚀 Submit “Hangzhou fair”"))
    assert "Nothing was submitted" in said(entries)
    assert "Claims above 200.00 need a receipt" in said(entries)
    assert [r[0] for r in await claims(org_database)] == ["draft", "draft"]
    await stage.act(cast.carol.send("/expense"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "▶️ Continue"))
    await stage.act(cast.carol.send_photo(jpeg(scene(3))))
    await stage.act(cast.carol.press(last(stage, cast.carol), "💾 Save draft"))
    await stage.act(cast.carol.send("/trip"))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol),
                                               "🚀 Submit “Hangzhou fair”"))
    assert "2 claims of the trip submitted" in said(entries)
    assert [r[0] for r in await claims(org_database)] == ["pending", "pending"]


async def test_a_receipt_filed_again_is_shown_as_a_possible_duplicate(stage, cast,
                                                                     org_database):
    await stage.act(cast.carol.send("/expense 350 hotel near Harbor Logistics"))
    await stage.act(cast.carol.send_photo(jpeg(scene(1))))
    await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    first = (await claims(org_database))[0][6]
    # The same receipt photographed again: another file, the same picture.
    await stage.act(cast.carol.send("/expense 350 hotel near Harbor Logistics"))
    entries = await stage.act(cast.carol.send_photo(jpeg(scene(1), quality=60)))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    warning = f"⚠️ Possible duplicate of {first}: the same receipt is on that claim."
    assert f"{warning} The approvers will see that too." in said(entries)
    second = (await claims(org_database))[1][6]
    stage.dispatcher.wake()
    cards = [await stage.standin.next_bot_message(cast.erin.id) for _ in range(2)]
    assert warning not in cards[0].text
    assert second in cards[1].text and warning in cards[1].text
    # A third claim with another receipt is no duplicate of either.
    await stage.act(cast.carol.send("/expense 350 hotel near Harbor Logistics"))
    await stage.act(cast.carol.send_photo(jpeg(scene(3))))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    assert "Possible duplicate" not in said(entries)
