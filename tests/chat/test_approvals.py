"""Approvals through the real bot: the card, one-tap approve, reject with a reason, forgeries."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.demo import Cast
from bot.stage import Stage
from core.domain.expenses.claims import ClaimStatus
from core.domain.inbox.notifications import DeliveryState
from standin import BotApiStandIn
from storage.tables import ClaimEventRow, NotificationRow
from tests.chat.conftest import answers, texts
from tests.service.test_approvals import ERIN, approvals, claim_of, draft, retire, submit


async def filed_card(stage, cast, database, clock, amount: str = "120.50"):
    """Carol's claim, submitted; the card as Erin receives it."""
    claim_id = await draft(database, clock, "carol", amount)
    await submit(database, clock, claim_id)
    stage.application.bot_data["dispatcher"].wake()
    return claim_id, await stage.standin.next_bot_message(cast.erin.id)


async def test_the_manager_approves_in_one_tap_and_the_card_shows_it(stage, cast, org_database,
                                                                     clock):
    claim_id, card = await filed_card(stage, cast, org_database, clock)
    assert card.text.splitlines()[:5] == [
        f"🧾 Approval request · EXP-2026-{claim_id:06d}",
        "Carol Lin claims CNY 120.50",
        "Travel · 2026-11-20 · East region",
        "“taxi to Harbor Logistics”",
        "📎 no receipt"]
    assert ("💰 Travel · East region · 2026-11: CNY 0.00 of CNY 10,000.00 used; with this "
            "claim CNY 120.50 (1%)") in card.text
    assert "Step 1 of 2" in card.text
    mark = stage.standin.mark()
    entries = await stage.act(cast.erin.press(card, "✅ Approve"))
    assert answers(entries) == ["✅ You approved it. Finance checks it next."]
    edited = await stage.standin.wait_for(
        lambda e: e.kind == "edit" and e.chat_id == cast.erin.id, since=mark)
    assert edited.text.endswith("✅ Approved by Erin Zhao; passed on to the next step")
    assert edited.buttons == []
    claim, _ = await claim_of(org_database, claim_id)
    assert (claim.status, claim.version) == (ClaimStatus.PENDING, 3)
    carol = await stage.standin.next_bot_message(cast.carol.id)
    assert carol.text.startswith("👍 Erin Zhao approved your claim EXP-2026-")


async def test_a_claim_waiting_on_a_manager_who_left_goes_to_the_next_one(
        stage, cast, org_database, clock):
    """The org file retires Erin while the bot runs; no SLA needed for her claims to move."""
    claim_id, _erins = await filed_card(stage, cast, org_database, clock)
    await retire(org_database, "erin")
    await stage.look_for_due_rules()
    dana = await stage.standin.next_bot_message(cast.dana.id)
    assert dana.text.startswith(f"🧾 Approval request · EXP-2026-{claim_id:06d}")
    assert "✅ Approve" in str(dana.buttons)
    entries = await stage.act(cast.dana.press(dana, "✅ Approve"))
    assert answers(entries) == ["✅ You approved it. Finance checks it next."]


async def test_forged_and_repeated_presses_change_nothing_and_say_why(stage, cast,
                                                                      org_database, clock):
    claim_id, card = await filed_card(stage, cast, org_database, clock)
    await stage.act(cast.carol.send("/help"))
    mine = stage.standin.bot_messages(cast.carol.id)[-1]
    for data in (f"apv:a:{claim_id}:2", f"apv:r:{claim_id}:2"):
        pressed = await stage.act(cast.carol.press(mine, callback_data=data, forge=True))
        assert answers(pressed) == ["Nobody approves their own claim. Nothing was changed."]
    await stage.act(cast.li.send("/help"))
    pressed = await stage.act(cast.li.press(stage.standin.bot_messages(cast.li.id)[-1],
                                            callback_data=f"apv:a:{claim_id}:2", forge=True))
    assert answers(pressed) == ["该报销单不由您审批。未做任何更改。"]  # Li reads Chinese
    pressed = await stage.act(cast.erin.press(card, callback_data="apv:a:x:2", forge=True))
    assert answers(pressed) == ["That button is no longer valid."]
    await stage.act(cast.erin.press(card, "✅ Approve"))
    again = await stage.act(cast.erin.press(card, callback_data=f"apv:a:{claim_id}:2",
                                            forge=True))
    assert answers(again) == ["This claim was already decided by Erin Zhao. Nothing was "
                              "changed."]
    async with org_database.uow(read_only=True) as uow:
        actions = list(await uow.session.scalars(select(ClaimEventRow.action).where(
            ClaimEventRow.claim_id == claim_id).order_by(ClaimEventRow.id)))
    assert actions == ["submitted", "approved"]


async def test_reject_asks_for_a_reason_and_tells_the_claimant(stage, cast, org_database,
                                                                clock):
    claim_id, card = await filed_card(stage, cast, org_database, clock)
    entries = await stage.act(cast.erin.press(card, "❌ Reject"))
    question = stage.standin.bot_messages(cast.erin.id)[-1]
    assert question.text.startswith(f"✍️ Why do you reject EXP-2026-{claim_id:06d}?")
    assert texts(entries)[-1] == question.text
    entries = await stage.act(cast.erin.send("x" * 501, reply_to=question))
    assert texts(entries) == ["That reason is too long: at most 500 characters, please."]
    entries = await stage.act(cast.erin.send("No receipt for the taxi", reply_to=question))
    assert texts(entries)[0] == (f"❌ Rejected EXP-2026-{claim_id:06d}. Carol Lin will see "
                                 "your reason.")
    claim, _ = await claim_of(org_database, claim_id)
    assert claim.status is ClaimStatus.REJECTED
    told = await stage.standin.next_bot_message(cast.carol.id)
    assert told.text.endswith("Reason: No receipt for the taxi")
    stage.application.bot_data["dispatcher"].wake()
    for _ in range(50):  # the outbox edits the delivered card in place
        edited = [e for e in stage.standin.transcript(cast.erin.id)
                  if e.kind == "edit" and "❌ Rejected by Erin Zhao" in (e.text or "")]
        if edited:
            break
        await asyncio.sleep(0.1)
    assert edited[-1].text.endswith("❌ Rejected by Erin Zhao: No receipt for the taxi")


async def test_details_show_the_route_and_history(stage, cast, org_database, clock):
    _claim_id, card = await filed_card(stage, cast, org_database, clock)
    entries = await stage.act(cast.erin.press(card, "🔎 Details"))
    text = texts(entries)[-1]
    assert "👉 1. Erin Zhao — asked now" in text
    assert "⏳ 2. Finance — waiting" in text
    assert "submitted · Carol Lin" in text


async def outbox_drained(database) -> None:
    """Wait until nothing is left to send."""
    for _ in range(100):
        async with database.uow(read_only=True) as uow:
            pending = await uow.session.scalar(
                select(func.count()).select_from(NotificationRow)
                .where(NotificationRow.state == str(DeliveryState.PENDING)))
        if not pending:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the outbox did not drain")


def bot_said(standin, user) -> list[str]:
    return [e.text or "" for e in standin.transcript(user.id)
            if e.by_bot and e.kind in ("message", "edit")]


async def test_a_claim_crossing_80_and_100_percent_sends_one_budget_alert(stage, cast,
                                                                         org_database, clock):
    await submit(org_database, clock, await draft(org_database, clock, "carol", "12000"))
    stage.dispatcher.wake()
    await outbox_drained(org_database)
    alerts = [text for text in bot_said(stage.standin, cast.erin) if "Budget" in text]
    assert alerts == ["🚨 Budget used up: Travel · East region · 2026-11\nCNY 12,000.00 of "
                      "CNY 10,000.00 (120%) is approved or waiting for approval.\nSee /budget."]


async def test_a_budget_alert_made_untrue_by_a_rejection_is_never_sent(org_database, config,
                                                                       clock):
    claim_id = await draft(org_database, clock, "carol", "12000")
    await submit(org_database, clock, claim_id)
    await approvals(org_database, clock).reject(ERIN, claim_id, version=2, reason="Too much",
                                                chat_id=None)
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        async with Stage(config, org_database, clock=clock, standin=standin):
            told = await standin.next_bot_message(cast.carol.id)
            assert told.text.endswith("Reason: Too much")
            await outbox_drained(org_database)
            erin = bot_said(standin, cast.erin)
    assert erin and not [text for text in erin if "Budget" in text]
