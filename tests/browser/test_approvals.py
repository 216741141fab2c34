"""Approvals in Chromium: a claim filed in the chat decided in the page, with the chat's cards
edited and the claimant told exactly as after a decision in the chat; several approved
together; the claimant's own claims with their state."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.domain.expenses.claims import ClaimStatus, StepState
from storage.tables import ClaimRow
from tests.chat.conftest import last
from tests.chat.conftest import same_time as same_time  # a fixture this file uses
from tests.pictures import jpeg, scene
from tests.service.test_approvals import claim_of, draft, filed

pytestmark = pytest.mark.usefixtures("same_time")


async def filed_in_chat(stage, cast, database, amount: str = "350",
                        what: str = "hotel near Harbor Logistics") -> tuple[int, object]:
    """Carol files a claim with a receipt photo through the chat; the card Erin gets."""
    await stage.act(cast.carol.send(f"/expense {amount} {what}"))
    await stage.act(cast.carol.send_photo(jpeg(scene(1))))
    entries = await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    assert any("submitted" in (e.text or "") for e in entries)
    async with database.uow(read_only=True) as uow:
        claim_id = await uow.session.scalar(select(func.max(ClaimRow.id)))
    heading = f"🧾 Approval request · EXP-2026-{claim_id:06d}"
    await stage.standin.wait_for(lambda e: e.chat_id == cast.erin.id and e.by_bot
                                 and (e.text or "").startswith(heading), since=0)
    [card] = [m for m in stage.standin.bot_messages(cast.erin.id) if m.text.startswith(heading)]
    return claim_id, card


async def open_queue(portal, user, **options):
    page = await portal.open(user, query="?view=approvals", **options)
    await page.locator(".approvals .claim, .approvals .empty").first.wait_for()
    return page


async def told(portal, user, since: int, predicate):
    """What the bot said to the user after `since`, once the outbox has sent it.

    The page's process only writes the notifications; the bot's dispatcher finds them on its
    next poll (a second at most), or at once when woken, as here."""
    portal.stage.dispatcher.wake()
    entry = await portal.stage.standin.wait_for(
        lambda e: e.chat_id == user.id and e.by_bot and predicate(e), since=since)
    await portal.stage.sent()
    return entry


async def test_a_manager_approves_a_chat_claim_in_one_tap(portal, cast, org_database):
    claim_id, chat_card = await filed_in_chat(portal.stage, cast, org_database)
    number = f"EXP-2026-{claim_id:06d}"
    page = await open_queue(portal, cast.erin)
    card = page.locator(f'.approvals .claim[data-claim="{claim_id}"]')
    assert await card.locator(".claimant").inner_text() == "Carol Lin"
    assert await card.locator(".amount").inner_text() == "CNY 350.00"
    text = await card.inner_text()
    assert number in text and "Lodging · 2026-11-26 · East region" in text
    # The budget impact in the chat card's words, with its bar.
    budget_lines = [line.removeprefix("💰 ") for line in chat_card.text.splitlines()
                    if line.startswith("💰")]
    assert budget_lines
    assert [line.removeprefix("💰 ") for line in
            await card.locator(".budget > .small").all_inner_texts()] == budget_lines
    assert await card.locator(".budget .track .fill").count() == len(budget_lines)
    # The receipt photo itself, fetched with the page's sign-in.
    receipt = card.locator(".receipt img")
    await receipt.wait_for()
    assert await receipt.evaluate("img => img.complete && img.naturalWidth") == 800
    await card.locator("summary").click()
    assert await card.locator(".route li").all_inner_texts() == ["👉 1. Erin Zhao — asked now",
                                                                 "⏳ 2. Finance — waiting"]
    await portal.screenshot(page, "queue")

    shown = (await claim_of(org_database, claim_id))[0].version
    mark = portal.stage.standin.mark()
    await card.get_by_role("button", name="✅ Approve").click()
    said = card.locator(".said")
    await said.wait_for()
    assert await said.inner_text() == "✅ You approved it. Finance checks it next."
    claim, steps = await claim_of(org_database, claim_id)
    assert (claim.status, claim.version, steps[0].state) == (
        ClaimStatus.PENDING, shown + 1, StepState.APPROVED)
    # The chat shows it as after a tap on the card: Erin's card edited, Carol told.
    edited = await told(portal, cast.erin, mark, lambda e: e.kind == "edit")
    assert edited.message_id == chat_card.message_id
    assert edited.text.endswith("✅ Approved by Erin Zhao; passed on to the next step")
    assert edited.buttons == []
    carol = await told(portal, cast.carol, mark, lambda e: e.kind == "message")
    assert carol.text == (f"👍 Erin Zhao approved your claim {number} (CNY 350.00); finance "
                          "checks it next.")
    fiona = await told(portal, cast.fiona, mark, lambda e: e.kind == "message")
    assert fiona.text.startswith(f"🧾 Approval request · {number}")
    await portal.screenshot(page, "approved")
    assert portal.page_errors() == []


async def test_a_rejection_asks_the_reason_here_and_the_claimant_reads_it(portal, cast,
                                                                          org_database):
    claim_id, chat_card = await filed_in_chat(portal.stage, cast, org_database)
    number = f"EXP-2026-{claim_id:06d}"
    page = await open_queue(portal, cast.erin)
    card = page.locator(f'.approvals .claim[data-claim="{claim_id}"]')
    await card.get_by_role("button", name="❌ Reject").click()
    reason = card.get_by_label("Reason for rejecting")
    await reason.wait_for()
    await card.locator("form").get_by_role("button", name="❌ Reject").click()
    refused = card.locator("form [role=alert]")
    await page.wait_for_function(
        "node => node.textContent.length > 0", arg=await refused.element_handle())
    assert await refused.inner_text() == "Please write a reason: the claimant needs to know why."
    assert (await claim_of(org_database, claim_id))[0].status is ClaimStatus.PENDING
    await portal.screenshot(page, "reason-asked")

    mark = portal.stage.standin.mark()
    await reason.fill("The hotel is over the city's limit")
    await card.locator("form").get_by_role("button", name="❌ Reject").click()
    await card.locator(".said").wait_for()
    assert await card.locator(".said").inner_text() == (
        f"❌ Rejected {number}. Carol Lin will see your reason.")
    claim, steps = await claim_of(org_database, claim_id)
    assert (claim.status, steps[0].reason) == (ClaimStatus.REJECTED,
                                               "The hotel is over the city's limit")
    edited = await told(portal, cast.erin, mark, lambda e: e.kind == "edit")
    assert edited.message_id == chat_card.message_id
    assert edited.text.endswith("❌ Rejected by Erin Zhao: The hotel is over the city's limit")
    carol = await told(portal, cast.carol, mark, lambda e: e.kind == "message")
    assert carol.text == (f"❌ Your claim {number} (CNY 350.00) was rejected by Erin Zhao.\n"
                          "Reason: The hotel is over the city's limit")
    await portal.screenshot(page, "rejected")
    assert portal.page_errors() == []


async def test_two_selected_are_approved_together(portal, cast, org_database, clock):
    first = await filed(org_database, clock, "carol", "120.50")
    second = await filed(org_database, clock, "li", "66", description="team lunch")
    left = await filed(org_database, clock, "carol", "30")
    page = await open_queue(portal, cast.erin)
    together = page.locator(".approve-together")
    assert await together.is_disabled()
    for claim_id in (first, second):
        await page.locator(f'.claim[data-claim="{claim_id}"]').get_by_label("Select").check()
    assert await together.inner_text() == "Approve selected (2)"
    await portal.screenshot(page, "selected")
    mark = portal.stage.standin.mark()
    await together.click()
    notice = page.locator(".approvals .notice")
    await notice.wait_for()
    assert await notice.locator(".name").inner_text() == "Approved 2 of 2."
    assert await notice.locator(".ok").all_inner_texts() == [
        f"EXP-2026-{first:06d}: ✅ You approved it. Finance checks it next.",
        f"EXP-2026-{second:06d}: ✅ You approved it. Finance checks it next."]
    # What is left waits on the page, as in the database.
    assert await page.locator(".approvals .claim").evaluate_all(
        "cards => cards.map(card => Number(card.dataset.claim))") == [left]
    for claim_id in (first, second):
        claim, steps = await claim_of(org_database, claim_id)
        assert (claim.version, steps[0].state) == (3, StepState.APPROVED)
    assert (await claim_of(org_database, left))[0].version == 2
    carol = await told(portal, cast.carol, mark, lambda e: e.kind == "message")
    assert carol.text.startswith(f"👍 Erin Zhao approved your claim EXP-2026-{first:06d}")
    li = await told(portal, cast.li, mark, lambda e: e.kind == "message")
    assert f"EXP-2026-{second:06d}" in li.text
    await portal.screenshot(page, "approved-together")
    assert portal.page_errors() == []


async def test_a_claim_decided_in_the_chat_meanwhile_is_refused_on_the_page(portal, cast,
                                                                           org_database):
    claim_id, chat_card = await filed_in_chat(portal.stage, cast, org_database)
    page = await open_queue(portal, cast.erin)
    await portal.stage.act(cast.erin.press(chat_card, "✅ Approve"))
    decided = await claim_of(org_database, claim_id)
    await page.locator(f'.claim[data-claim="{claim_id}"]').get_by_role(
        "button", name="✅ Approve").click()
    notice = page.locator(".approvals .notice .flag")
    await notice.wait_for()
    assert await notice.inner_text() == (f"EXP-2026-{claim_id:06d}: This claim was already "
                                         "decided by Erin Zhao. Nothing was changed.")
    assert await page.locator(".approvals .empty").inner_text() == (
        "Nothing is waiting for your approval.")
    assert await claim_of(org_database, claim_id) == decided
    await portal.screenshot(page, "decided-meanwhile")
    assert portal.page_errors() == []


async def test_a_claim_is_decided_from_its_details_too(portal, cast, org_database, clock):
    claim_id = await filed(org_database, clock, "carol", "120.50")
    page = await open_queue(portal, cast.erin)
    await page.locator(f'.claim[data-claim="{claim_id}"]').get_by_role(
        "button", name="🔎 Details").click()
    screen = page.locator(".claim-screen")
    await screen.wait_for()
    assert await screen.locator(".history li").all_inner_texts() == [
        "2026-11-26 10:00 · submitted · Carol Lin"]
    await screen.get_by_role("button", name="✅ Approve").click()
    notice = page.locator(".claim-screen .notice .ok")
    await notice.wait_for()
    assert await notice.inner_text() == "✅ You approved it. Finance checks it next."
    assert await page.locator(".claim-screen .history li").all_inner_texts() == [
        "2026-11-26 10:00 · submitted · Carol Lin", "2026-11-26 10:00 · approved · Erin Zhao"]
    assert await page.locator(".claim-screen").get_by_role("button").count() == 0
    assert (await claim_of(org_database, claim_id))[1][0].state is StepState.APPROVED
    await portal.screenshot(page, "decided-in-details")
    await page.locator("#back").click()
    await page.locator(".approvals .empty").wait_for()
    assert portal.page_errors() == []


async def test_the_claimant_sees_her_claims_with_their_state(portal, cast, org_database, clock):
    services = portal.stage.application.bot_data["services"]
    rejected = await filed(org_database, clock, "carol", "40", category="meals")
    await services.approvals.reject(cast.erin.id, rejected, version=2, reason="Twice",
                                    chat_id=None)
    approved, _card = await filed_in_chat(portal.stage, cast, org_database)
    await services.approvals.approve(cast.erin.id, approved, chat_id=None,
                                     version=(await claim_of(org_database, approved))[0].version)
    writing = await draft(org_database, clock, "carol", "12")
    page = await portal.open(cast.carol, query="?view=claims")
    rows = page.locator(".approvals.mine .line")
    await rows.first.wait_for()
    assert [" | ".join(text.split("\n")) for text in await rows.all_inner_texts()] == [
        "📝 Draft | CNY 12.00 | Travel · 2026-11-20 | draft",
        f"⏳ EXP-2026-{approved:06d} | CNY 350.00 | Lodging · 2026-11-26 | waiting for approval",
        f"❌ EXP-2026-{rejected:06d} | CNY 40.00 | Meals · 2026-11-20 | rejected"]
    assert await page.locator(f'.line[data-claim="{writing}"]').evaluate(
        "node => node.tagName") == "DIV"  # a draft is finished in the chat
    await portal.screenshot(page, "my-claims")
    await page.locator(f'.line[data-claim="{approved}"]').click()
    screen = page.locator(".claim-screen")
    await screen.wait_for()
    assert await screen.locator(".route li").all_inner_texts() == [
        "✅ 1. Erin Zhao — approved (Erin Zhao, 2026-11-26 10:00)", "👉 2. Finance — asked now"]
    assert await screen.locator(".history li").all_inner_texts() == [
        "2026-11-26 10:00 · created · Carol Lin", "2026-11-26 10:00 · submitted · Carol Lin",
        "2026-11-26 10:00 · approved · Erin Zhao"]
    await screen.locator(".receipt img").wait_for()
    assert await screen.get_by_role("button").count() == 0  # hers to read, not to decide
    assert not (await screen.inner_text()).endswith("null")
    await portal.screenshot(page, "my-claim")
    await page.locator("#back").click()
    await rows.first.wait_for()
    await page.locator(f'.line[data-claim="{rejected}"]').click()
    await screen.wait_for()
    assert await screen.locator(".outcome").inner_text() == "❌ Rejected by Erin Zhao: Twice"
    assert portal.page_errors() == []


async def test_my_claims_in_chinese(portal, cast, org_database, clock):
    claim_id = await filed(org_database, clock, "li", "66", description="团队午餐")
    page = await portal.open(cast.li, query="?view=claims")
    row = page.locator(f'.line[data-claim="{claim_id}"]')
    await row.wait_for()
    assert "审批中" in await row.inner_text()
    await row.click()
    screen = page.locator(".claim-screen")
    await screen.wait_for()
    assert await screen.locator(".route summary").inner_text() == "审批流程"
    assert await screen.locator("h2").inner_text() == "记录"
    assert await screen.locator(".route li").first.inner_text() == "👉 1. Erin Zhao — 审批中"
    await portal.screenshot(page, "chinese-claim")
    page = await open_queue(portal, cast.erin, language="zh-hans")
    card = page.locator(f'.claim[data-claim="{claim_id}"]')
    assert await card.locator(".pick").inner_text() == "选择"
    assert (await card.inner_text()).count("差旅 · 2026-11-20 · East region") == 1
    assert await page.locator(".approve-together").inner_text() == "批准所选（0）"
    assert await card.get_by_role("button").all_inner_texts() == ["✅ 批准", "❌ 驳回",
                                                                   "🔎 详情"]
    await portal.screenshot(page, "chinese-queue")
    assert portal.page_errors() == []
