"""Opportunities through the real bot: /opp step by step, the card and its buttons, /opps,
/pipeline with its chart, and every bad input refused with nothing changed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from bot.funnel import funnel_chart
from bot.handlers.opportunities import funnel_steps
from bot.i18n import Translator
from core.config import PipelineConfig
from core.domain.period import Period
from core.opportunities.pipeline import OpportunityService
from storage.tables import (
    CustomerRow,
    MemberRow,
    OpportunityRow,
    OpportunityStageRow,
    RecordChangeRow,
)
from tests.chat.conftest import answers, count, last, texts

HARBOR = (31.2400, 121.4900)
NOT_FOUND = "I could not find that opportunity, or it is not one you can see."
REOPEN = ("This opportunity is closed (won or lost). Only a manager above its owner, or an "
          "admin, can reopen it.")
DUPLICATE = "There is already an open opportunity with this title at this customer."


async def stored(database) -> list[OpportunityRow]:
    async with database.uow(read_only=True) as uow:
        rows = (await uow.session.scalars(select(OpportunityRow).order_by(OpportunityRow.id)))
        return [(r.id, r.title, r.amount, r.stage, r.probability, r.expected_close)
                for r in rows]


async def create(stage, who, title="Cold-chain fleet", amount="120,000",
                 customer="Harbor Logistics", stage_button="Proposal · 50%") -> None:
    await stage.act(who.send("/opp"))
    await stage.act(who.press(last(stage, who), customer))
    await stage.act(who.send(title))
    await stage.act(who.send(amount))
    await stage.act(who.send("2026-12-20"))
    await stage.act(who.press(last(stage, who), stage_button))


async def test_a_rep_creates_an_opportunity_and_sees_its_card(stage, cast, org_database):
    await stage.act(cast.carol.send("/opp"))
    picker = last(stage, cast.carol)
    assert picker.text.startswith("💼 New opportunity\nWhich customer is it for?")
    assert ["➕ New customer"] in picker.buttons
    entries = await stage.act(cast.carol.send("harb"))
    assert texts(entries) == ["Customers matching “harb”:"]
    await stage.act(cast.carol.press(last(stage, cast.carol), "Harbor Logistics"))
    assert last(stage, cast.carol).text.startswith("🏢 Harbor Logistics\nWhat is the opportunity?")
    await stage.act(cast.carol.send("Cold-chain fleet"))
    assert texts(await stage.act(cast.carol.send("120,000"))) == [
        "When do you expect it to close? Tap a month end or type a date like 2026-12-20."]
    assert last(stage, cast.carol).buttons[0] == ["Mon 30 Nov", "Thu 31 Dec", "Sun 31 Jan"]
    await stage.act(cast.carol.press(last(stage, cast.carol), "Thu 31 Dec"))
    assert last(stage, cast.carol).buttons[:2] == [["Lead · 10%", "Qualified · 25%"],
                                                   ["Proposal · 50%", "Negotiation · 75%"]]
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "Proposal · 50%"))
    assert answers(entries) == ["Saved."]
    card = last(stage, cast.carol)
    assert card.text.splitlines()[:8] == [
        "✅ Opportunity saved: CNY 120,000.00", "", "💼 Cold-chain fleet", "🏢 Harbor Logistics",
        "👤 Carol Lin", "💰 CNY 120,000.00 · 50% → weighted CNY 60,000.00",
        "🔀 Stage: Proposal", "📅 Expected close: Thu 31 Dec"]
    assert card.text.splitlines()[-1] == "Thu 26 Nov 10:00 · Carol Lin: 🔀 created at Proposal"
    assert card.buttons[:2] == [["🔀 Stage", "💰 Amount"], ["📅 Date", "📝 Note"]]
    assert [row[1:4] for row in await stored(org_database)] == [
        ("Cold-chain fleet", Decimal("120000.00"), "proposal")]


async def test_bad_answers_are_refused_and_the_question_stays(stage, cast, org_database):
    await stage.act(cast.carol.send("/opp"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "Harbor Logistics"))
    entries = await stage.act(cast.carol.send("x" * 201))
    assert texts(entries) == ["That title is too long: at most 200 characters, please."]
    await stage.act(cast.carol.send("Cold-chain fleet"))
    assert texts(await stage.act(cast.carol.send("-5000"))) == [
        "The amount must be more than zero, for example 120.50."]
    assert texts(await stage.act(cast.carol.send("999999999999"))) == [
        "That is more than CNY 100,000,000.00, the largest amount an opportunity can have. "
        "Please check the amount."]
    await stage.act(cast.carol.send("120000"))
    assert texts(await stage.act(cast.carol.send("2026-11-01"))) == [
        "That date has passed. An open opportunity is expected to close today or later."]
    assert texts(await stage.act(cast.carol.send("2026-12-20"))) == [
        "At which stage is it? The probability follows the stage."]
    assert await count(org_database, OpportunityRow) == 0
    await stage.act(cast.carol.press(last(stage, cast.carol), "Lead · 10%"))
    assert [row[3:] for row in await stored(org_database)] == [("lead", 10, date(2026, 12, 20))]


async def test_a_duplicate_warns_and_offers_the_existing_one(stage, cast, org_database):
    await create(stage, cast.carol)
    await stage.act(cast.carol.send("/opp"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "Harbor Logistics"))
    entries = await stage.act(cast.carol.send("cold-chain  FLEET"))
    assert texts(entries) == [DUPLICATE + "\nNothing new was created."]
    warning = last(stage, cast.carol)
    assert warning.buttons == [["Open the existing opportunity"]]
    await stage.act(cast.carol.press(warning, "Open the existing opportunity"))
    assert last(stage, cast.carol).text.startswith("💼 Cold-chain fleet\n🏢 Harbor Logistics")
    assert await count(org_database, OpportunityRow) == 1
    # A colleague is warned too, in their language.
    await stage.act(cast.li.send("/opp"))
    await stage.act(cast.li.press(last(stage, cast.li), "Harbor Logistics"))
    entries = await stage.act(cast.li.send("Cold-chain fleet"))
    assert texts(entries) == ["这个客户已有同名的进行中商机。\n没有新建任何内容。"]
    assert await count(org_database, OpportunityRow) == 1


async def test_a_new_customer_gets_its_site_from_the_shared_location(stage, cast, org_database):
    await stage.act(cast.carol.send("/opp"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "➕ New customer"))
    await stage.act(cast.carol.send("Bund Cold Storage"))
    question = last(stage, cast.carol)
    entries = await stage.act(cast.carol.press(question, "📍 Use my location"))
    assert answers(entries) == [
        "I have no location from you in the last hour. Share your location at the customer's "
        "site with 📍 Check in, then tap the button again."]
    await stage.act(cast.carol.share_location(31.2455, 121.4875, horizontal_accuracy=10.0))
    entries = await stage.act(cast.carol.press(question, "📍 Use my location"))
    assert texts(entries)[0].startswith("🏢 Bund Cold Storage\nWhat is")
    await stage.act(cast.carol.send("Freezers"))
    await stage.act(cast.carol.send("8000"))
    await stage.act(cast.carol.send("12-20"))
    await stage.act(cast.carol.press(last(stage, cast.carol), "Lead · 10%"))
    async with org_database.uow(read_only=True) as uow:
        row = await uow.session.scalar(select(CustomerRow).where(
            CustomerRow.name == "Bund Cold Storage"))
        assert (row.key, row.lat, row.lon) == ("bund-cold-storage", 31.2455, 121.4875)


async def test_lost_asks_a_reason_and_only_the_manager_reopens(stage, cast, org_database):
    await create(stage, cast.carol)
    card = last(stage, cast.carol)
    await stage.act(cast.carol.press(card, "🔀 Stage"))
    menu = last(stage, cast.carol)
    await stage.act(cast.carol.press(menu, "Lost · 0%"))
    question = last(stage, cast.carol)
    assert question.text.startswith("🖊 Why was “Cold-chain fleet” lost?")
    entries = await stage.act(cast.carol.send("Chose a cheaper supplier", reply_to=question))
    text = texts(entries)[0]
    assert "🔀 Stage: Lost" in text and "Lost because: Chose a cheaper supplier" in text
    assert "Carol Lin: 🔀 Proposal → Lost — “Chose a cheaper supplier”" in text
    closed = last(stage, cast.carol)
    # The owner cannot reopen, not even with forged buttons.
    assert closed.buttons[0] == ["💰 Amount", "📅 Date"]
    [opp_id] = [row[0] for row in await stored(org_database)]
    for data in (f"opp:s:{opp_id}", f"opp:g:{opp_id}:lost:negotiation"):
        entries = await stage.act(cast.carol.press(closed, callback_data=data, forge=True))
        assert answers(entries) == [REOPEN]
    assert [row[3] for row in await stored(org_database)] == ["lost"]
    # The manager above reopens it from the list.
    await stage.act(cast.erin.send("/opps"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "Cold-chain fleet — Harbor Logistics"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "🔀 Stage"))
    assert ["Won · 100%"] not in last(stage, cast.erin).buttons
    entries = await stage.act(cast.erin.press(last(stage, cast.erin), "Negotiation · 75%"))
    assert answers(entries) == ["Moved to Negotiation."]
    assert [row[3:5] for row in await stored(org_database)] == [("negotiation", 75)]
    assert await count(org_database, OpportunityStageRow) == 3


async def test_a_forged_button_shows_nothing_of_another_department(stage, cast, org_database,
                                                                  walt):
    await create(stage, cast.carol)
    [opp_id] = [row[0] for row in await stored(org_database)]
    await stage.act(walt.send("/opps"))
    message = last(stage, walt)
    assert "Cold-chain fleet" not in message.text
    for data in (f"opp:v:{opp_id}:0", f"opp:s:{opp_id}", f"opp:e:{opp_id}:a",
                 f"opp:g:{opp_id}:proposal:won"):
        entries = await stage.act(walt.press(message, callback_data=data, forge=True))
        assert answers(entries) == [NOT_FOUND], data
        assert "Cold-chain" not in "\n".join(texts(entries))
    for data in ("opp:v:x:0", "opp:g:1:Proposal:won", "opp:v:1", "opp:l:-:-1"):
        entries = await stage.act(walt.press(message, callback_data=data, forge=True))
        assert answers(entries) == ["That button is no longer valid."], data
    assert [row[3] for row in await stored(org_database)] == ["proposal"]


async def test_amount_date_and_note_are_edited_by_reply(stage, cast, org_database):
    await create(stage, cast.carol)
    await stage.act(cast.carol.press(last(stage, cast.carol), "💰 Amount"))
    question = last(stage, cast.carol)
    assert question.text == ("🖊 New amount for “Cold-chain fleet” in CNY? Reply to this "
                             "message, for example 120000.")
    assert texts(await stage.act(cast.carol.send("-1", reply_to=question))) == [
        "The amount must be more than zero, for example 120.50."]
    entries = await stage.act(cast.carol.send("150000.50", reply_to=question))
    assert "💰 CNY 150,000.50 · 50% → weighted CNY 75,000.25" in texts(entries)[0]
    card = last(stage, cast.carol)
    await stage.act(cast.carol.press(card, "📅 Date"))
    question = last(stage, cast.carol)
    assert texts(await stage.act(cast.carol.send("2026-11-20", reply_to=question))) == [
        "That date has passed. An open opportunity is expected to close today or later."]
    await stage.act(cast.carol.press(card, "📝 Note"))
    question = last(stage, cast.carol)
    entries = await stage.act(cast.carol.send("Buyer wants a demo", reply_to=question))
    assert "Carol Lin: 📝 Buyer wants a demo" in texts(entries)[0]
    assert [row[2] for row in await stored(org_database)] == [Decimal("150000.50")]


async def test_edits_of_amount_and_date_are_on_the_cards_timeline(stage, cast, org_database):
    await create(stage, cast.carol)
    await stage.act(cast.carol.press(last(stage, cast.carol), "💰 Amount"))
    await stage.act(cast.carol.send("150000.50", reply_to=last(stage, cast.carol)))
    await stage.act(cast.carol.press(last(stage, cast.carol), "📅 Date"))
    entries = await stage.act(cast.carol.send("2027-01-15", reply_to=last(stage, cast.carol)))
    card = texts(entries)[0]
    assert ("Thu 26 Nov 10:00 · Carol Lin: ✏️ expected close: Sun 20 Dec → Fri 15 Jan"
            in card)
    assert ("Thu 26 Nov 10:00 · Carol Lin: ✏️ amount: CNY 120,000.00 → CNY 150,000.50"
            in card)
    async with org_database.uow(read_only=True) as uow:
        rows = (await uow.session.execute(
            select(RecordChangeRow.field, RecordChangeRow.old_value, RecordChangeRow.new_value,
                   MemberRow.key).join(MemberRow, MemberRow.id == RecordChangeRow.changed_by)
            .order_by(RecordChangeRow.id))).all()
    assert [tuple(r) for r in rows] == [("amount", "120000.00", "150000.50", "carol"),
                                        ("expected_close", "2026-12-20", "2027-01-15", "carol")]


async def test_opps_lists_overdue_first_and_searches(stage, cast, org_database, clock):
    await create(stage, cast.carol, title="Forklifts")
    await create(stage, cast.carol, title="Scanners", customer="Pudong Medical Supplies")
    async with org_database.uow() as uow:
        row = await uow.session.scalar(select(OpportunityRow).where(
            OpportunityRow.title == "Scanners"))
        row.expected_close = date(2026, 11, 20)
        await uow.commit()
    entries = await stage.act(cast.carol.send("/opps"))
    lines = texts(entries)[0].splitlines()
    assert lines[0] == "💼 Opportunities"
    assert lines[1] == "⚠️ Scanners — Pudong Medical Supplies"
    assert lines[3] == "Forklifts — Harbor Logistics"
    assert lines[-1] == "⚠️ past its expected close date and still open."
    entries = await stage.act(cast.carol.send("/opps harb"))
    assert texts(entries)[0].splitlines()[:2] == ["💼 Opportunities matching “harb”",
                                                  "Forklifts — Harbor Logistics"]
    await stage.act(cast.carol.send("/opps"))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "Lead"))
    assert "None found" in texts(entries)[0]


async def test_pipeline_shows_the_table_and_a_funnel_with_the_same_numbers(
        stage, cast, org_database, clock):
    await create(stage, cast.carol, title="A", amount="1000")
    await create(stage, cast.carol, title="B", amount="2500.50", stage_button="Lead · 10%")
    await create(stage, cast.li, title="C", amount="300", customer="Xihu Textiles",
                 stage_button="方案报价 · 50%")
    entries = await stage.act(cast.erin.send("/pipeline"))
    text = texts(entries)[0]
    table = {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:10]}
    assert table["Lead"] == ["1", "2,500.50", "250.05"]
    assert table["Proposal"] == ["2", "1,300.00", "650.00"]
    assert table["Open"] == ["3", "3,800.50", "900.05"]
    assert "Win rate: — (0 won, 0 lost)" in text
    assert "Carol Lin: 2 · 3,500.50 · 750.05" in text and "李伟: 1 · 300.00 · 150.00" in text
    [photo] = [e for e in entries if e.by_bot and e.kind == "photo"]
    assert photo.raw["caption"] == "Pipeline 2026-Q4"
    # The chart is drawn from the same lines as the table.
    service = OpportunityService(org_database.uow, clock, None, PipelineConfig())
    view = await service.stats(1002, Period.parse("2026-Q4"))
    steps = funnel_steps(view, Translator("en"))
    assert [(s.label, s.count, s.amount) for s in steps][:3] == [
        ("Lead", 1, Decimal("2500.50")), ("Qualified", 0, Decimal("0.00")),
        ("Proposal", 2, Decimal("1300.00"))]
    chart = funnel_chart("Pipeline 2026-Q4", steps, "CNY")
    assert chart.png.startswith(b"\x89PNG")
    for (label, width, shown), step in zip(chart.drawn, steps, strict=True):
        assert (label, width) == (step.label, float(step.amount))
        count_, amount = shown.split(" · ")
        assert table[label][:2] == [count_, amount]
    rep = texts(await stage.act(cast.carol.send("/pipeline")))[0]
    assert "Per person" not in rep and "李伟" not in rep
    assert texts(await stage.act(cast.carol.send("/pipeline 2026-13"))) == [
        "Please give a period like 2026-11, 2026-Q4 or 2026."]


async def test_pressing_a_stage_twice_moves_once_and_finance_only_looks(stage, cast,
                                                                       org_database):
    await create(stage, cast.carol)
    card = last(stage, cast.carol)
    await stage.act(cast.carol.press(card, "🔀 Stage"))
    menu = last(stage, cast.carol)
    [opp_id] = [row[0] for row in await stored(org_database)]
    first = await stage.act(cast.carol.press(menu, "Negotiation · 75%"))
    second = await stage.act(cast.carol.press(
        menu, callback_data=f"opp:g:{opp_id}:proposal:negotiation", forge=True))
    assert answers(first) == ["Moved to Negotiation."]
    assert answers(second) == ["This opportunity changed in the meantime. Nothing was "
                               "changed; please look at it again."]
    assert await count(org_database, OpportunityStageRow) == 2
    fiona = stage.standin.user(3001, "Fiona", last_name="Grant", language_code="en")
    await stage.act(fiona.send("/opps"))
    await stage.act(fiona.press(last(stage, fiona), "Cold-chain fleet — Harbor Logistics"))
    seen = last(stage, fiona)
    assert "💰 CNY 120,000.00 · 75% → weighted CNY 90,000.00" in seen.text
    assert seen.buttons == [["« Opportunities"]]
    entries = await stage.act(fiona.press(seen, callback_data=f"opp:e:{opp_id}:a", forge=True))
    assert answers(entries) == ["You can look at this opportunity, but only its owner and "
                                "their managers can change it."]
