"""Screens full of what people typed still reach them: every message fits 4,096 characters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select, update

from bot.fitting import TEXT_LIMIT, visible_length
from core.opportunities.pipeline import NewOpportunity
from storage.tables import CustomerRow, MemberRow, PlanItemRow, PlanRow
from tests.chat.conftest import last, texts
from tests.days import logged_day, planned_items
from tests.service.test_approvals import draft, submit

THU = date(2026, 11, 26)  # the test clock's day in Shanghai
FRI = date(2026, 11, 27)
FAILED = "Sorry, something went wrong"


def fits(entries) -> list[str]:
    """What the bot said; each message within Telegram's limit, and no apology."""
    said = texts(entries)
    assert said, "the bot said nothing"
    assert all(len(text) <= TEXT_LIMIT for text in said)
    assert not [e.text for e in entries if e.text and FAILED in e.text]
    return said


async def items_of(database, member_key: str, day: date) -> list[tuple[str, str, str | None]]:
    """(text, outcome, note) of each item of the day's plan."""
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.execute(
            select(PlanItemRow.text, PlanItemRow.outcome, PlanItemRow.note)
            .join(PlanRow, PlanItemRow.plan_id == PlanRow.id)
            .join(MemberRow, PlanRow.member_id == MemberRow.id)
            .where(MemberRow.key == member_key, PlanRow.day == day)
            .order_by(PlanItemRow.position))
        return [tuple(row) for row in rows]


async def note_every_item(database, plan_id: int, note: str) -> None:
    async with database.uow() as uow:
        await uow.session.execute(update(PlanItemRow).where(PlanItemRow.plan_id == plan_id)
                                  .values(note=note))
        await uow.commit()


def long_item(number: int, length: int = 1000) -> str:
    head = f"Item {number}: visit and demo "
    return head + "x" * (length - len(head))


async def test_a_fourth_item_of_1000_characters_is_shown_and_saved(stage, cast, org_database):
    await planned_items(org_database, "carol", FRI, [(long_item(n), "open") for n in (1, 2, 3)],
                        customer="harbor-logistics")
    fits(await stage.act(cast.carol.send("/plan")))
    await stage.act(cast.carol.send(long_item(4)))
    await stage.act(cast.carol.press(last(stage, cast.carol), "⏭ No customer"))
    review = fits(await stage.act(cast.carol.press(last(stage, cast.carol), "09:00")))[-1]
    assert "4. 09:00 Item 4: visit and demo" in review and "…" in review
    saved = fits(await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Save plan")))
    assert "Plan for Fri 27 Nov saved" in saved[-1]
    assert [text for text, _, _ in await items_of(org_database, "carol", FRI)] == [
        long_item(n) for n in (1, 2, 3, 4)]


async def test_thirty_items_of_120_characters_each_keep_their_numbers(stage, cast,
                                                                      org_database):
    await planned_items(org_database, "carol", FRI,
                        [(long_item(n, 120), "open") for n in range(1, 31)],
                        customer="harbor-logistics")
    review = fits(await stage.act(cast.carol.send("/plan")))[-1]
    for number in range(1, 31):
        assert f"\n{number}. Item {number}: visit and demo " in review
    assert len(last(stage, cast.carol).buttons) == 30 + 2  # days, 30 items, cancel


async def test_marking_items_with_notes_of_1000_characters_works(stage, cast, org_database):
    plan_id = await planned_items(org_database, "carol", THU,
                                  [(long_item(n), "open") for n in range(1, 9)],
                                  customer="harbor-logistics")
    await note_every_item(org_database, plan_id, "n" * 1000)
    fits(await stage.act(cast.carol.send("/log")))
    fits(await stage.act(cast.carol.press(last(stage, cast.carol), "✅ 1")))
    fits(await stage.act(cast.carol.send("Long talk: " + "m" * 989)))
    fits(await stage.act(cast.carol.press(last(stage, cast.carol), "❌ 2")))
    finished = fits(await stage.act(cast.carol.press(last(stage, cast.carol), "✔️ Finish")))
    assert "Work log for Thu 26 Nov saved" in finished[-1]
    assert "This week:" in finished[-1]
    outcomes = [(outcome, note) for _, outcome, note in
                await items_of(org_database, "carol", THU)]
    assert outcomes[:2] == [("done", "Long talk: " + "m" * 989), ("not_done", "n" * 1000)]


async def a_full_day(database) -> None:
    plan_id = await planned_items(database, "carol", THU,
                                  [(long_item(n), "done") for n in range(1, 31)],
                                  customer="harbor-logistics")
    await note_every_item(database, plan_id, "note line\n" * 100)
    await logged_day(database, "carol", THU, tuple("u" * 1000 for _ in range(10)),
                     note="w" * 1000)


async def test_the_calendar_day_of_a_full_day_opens(stage, cast, org_database):
    await a_full_day(org_database)
    await stage.act(cast.carol.send("/calendar"))
    day = fits(await stage.act(cast.carol.press(last(stage, cast.carol), "[26✓]")))[-1]
    assert day.startswith("📅 My day — Thu 26 Nov")
    assert "✅ Item 30: visit and demo" in day


async def test_the_manager_opens_and_rates_a_full_day_from_team(stage, cast, org_database):
    await a_full_day(org_database)
    await stage.act(cast.erin.send("/team"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "Carol Lin"))
    day = fits(await stage.act(cast.erin.press(last(stage, cast.erin), "[26✓]")))[-1]
    assert day.startswith("📅 Carol Lin — Thu 26 Nov")
    asked = fits(await stage.act(cast.erin.press(last(stage, cast.erin), "⭐ Rate this log")))
    assert asked[-1].endswith("How was this day's work? Rate the log from 1 to 5.")
    rated = fits(await stage.act(cast.erin.press(last(stage, cast.erin), "5 ★")))
    assert any(text.startswith("📅 Carol Lin — Thu 26 Nov") for text in rated)
    assert visible_length(last(stage, cast.erin).text, html=False) <= TEXT_LIMIT


async def a_deal_with_long_entries(stage, database) -> int:
    """A deal with a 200-character title; ten plan items of 1,000 characters on it, each with
    a note of 1,000, and three notes of 1,000 on the card."""
    services = stage.application.bot_data["services"]
    async with database.uow(read_only=True) as uow:
        harbor = await uow.session.scalar(
            select(CustomerRow.id).where(CustomerRow.key == "harbor-logistics"))
    deal = await services.opportunities.create(2001, NewOpportunity(
        title="Cold-chain fleet " + "t" * 183, amount=Decimal("120000"),
        expected_close=date(2026, 12, 20), customer_id=harbor))
    plan_id = await planned_items(database, "carol", THU,
                                  [(long_item(n), "done") for n in range(1, 11)],
                                  customer="harbor-logistics")
    async with database.uow() as uow:
        await uow.session.execute(update(PlanItemRow).where(PlanItemRow.plan_id == plan_id)
                                  .values(opportunity_id=deal.id, note="n" * 1000))
        await uow.commit()
    for _ in range(3):
        await services.opportunities.add_note(2001, deal.id, "o" * 1000)
    return deal.id


async def test_the_card_of_a_deal_with_long_entries_opens(stage, cast, org_database):
    await a_deal_with_long_entries(stage, org_database)
    listed = fits(await stage.act(cast.carol.send("/opps")))[-1]
    assert "Cold-chain fleet " + "t" * 183 in listed
    card = fits(await stage.act(cast.carol.press(last(stage, cast.carol),
                                                 "Cold-chain fleet " + "t" * 23 + " — "
                                                 "Harbor Logistics")))[-1]
    assert card.startswith("💼 Cold-chain fleet " + "t" * 183 + "\n🏢 Harbor Logistics")
    assert "Older ▶" in [label for row in last(stage, cast.carol).buttons for label in row]


async def test_a_years_budgets_come_a_page_at_a_time(stage, cast, org_database):
    budgets = stage.application.bot_data["services"].budgets
    categories = ("all", "travel", "lodging", "meals", "entertainment")
    for month in range(1, 13):
        for category in categories:
            await budgets.set(1002, "department:east", category, f"2026-{month:02d}", "10000")
    said = fits(await stage.act(cast.erin.send("/budget 2026")))
    assert len(said) == 1
    assert said[0].startswith("💰 Budgets · 2026\nused = approved + waiting for approval")
    assert "Last changes" in said[0]
    pages = [last(stage, cast.erin)]
    while "▶" in pages[-1].buttons[-1]:
        said += fits(await stage.act(cast.erin.press(pages[-1], "▶")))
        pages.append(last(stage, cast.erin))
    assert [page.buttons[-1][-1] for page in pages] == ["▶", "▶", "▶", "4/4"]
    blocks = [line for text in said for line in text.splitlines() if "East region · 2026-" in line]
    assert len(blocks) >= 12 * len(categories)  # and those the org file brought
    # Each budget's bar stays with its name.
    assert all(block.splitlines()[1][0] in "░▓" for text in said[1:]
               for block in text.split("\n\n")[1:])


async def test_a_managers_many_goals_come_a_page_at_a_time(stage, cast, org_database):
    goals = stage.application.bot_data["services"].goals
    units = ("department:sales", "department:east", "department:west", "member:carol",
             "member:li", "member:sam", "member:mei")
    for unit in units:
        for metric in ("visits", "new", "won", "ratio"):
            for period in ("2026-11", "2026-Q4"):
                await goals.set(1001, unit, metric, period, "50")
    said = fits(await stage.act(cast.dana.send("/goals")))
    assert len(said) == 1
    assert said[0].startswith("🎯 My goals")
    pages = [last(stage, cast.dana)]
    while "▶" in pages[-1].buttons[-1]:
        said += fits(await stage.act(cast.dana.press(pages[-1], "▶")))
        pages.append(last(stage, cast.dana))
    assert [page.buttons[-1][-1] for page in pages] == ["▶", "▶", "▶", "▶", "5/5"]
    assert all(text.startswith("👥 Team goals") for text in said[1:])
    bars = [line for text in said for line in text.splitlines() if "%  " in line]
    assert len(bars) == len(units) * 4 * 2
    # A forged page far out: the last page.
    await stage.act(cast.dana.press(pages[0], callback_data="goal:p:-:9999", forge=True))
    assert last(stage, cast.dana).buttons[-1] == ["◀", "5/5"]


async def test_a_claim_with_every_text_at_its_limit_reads_whole(stage, cast, org_database,
                                                              clock):
    description = "Taxi and tolls " + "d" * 485
    claim_id = await draft(org_database, clock, "carol", "120.50", description=description)
    await submit(org_database, clock, claim_id)
    stage.application.bot_data["dispatcher"].wake()
    card = await stage.standin.next_bot_message(cast.erin.id)
    assert len(card.text) <= TEXT_LIMIT and description in card.text
    await stage.act(cast.erin.press(card, "❌ Reject"))
    question = last(stage, cast.erin)
    fits(await stage.act(cast.erin.send("r" * 500, reply_to=question)))
    told = await stage.standin.next_bot_message(cast.carol.id)
    assert len(told.text) <= TEXT_LIMIT and told.text.endswith("r" * 500)
    shown = fits(await stage.act(cast.carol.send(f"/claim {claim_id}")))[-1]
    assert description in shown and "r" * 500 in shown
    fits(await stage.act(cast.carol.send("/claims")))
    fits(await stage.act(cast.carol.send("/inbox")))
    opened = fits(await stage.act(cast.carol.press(last(stage, cast.carol),
                                                   last(stage, cast.carol).buttons[0][0])))
    assert "r" * 500 in opened[-1]
