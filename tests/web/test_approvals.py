"""Approvals and my claims over the Mini App's JSON: the queue core keeps, decisions that write
exactly what a decision in the chat writes, and every refusal said in the member's words with
nothing changed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from bot.handlers.approvals import card_text
from bot.i18n import Translator
from bot.org_file import parse_org_file
from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.claims import ClaimStatus, StepState
from storage.tables import ClaimEventRow, NotificationRow
from tests.example_org import example
from tests.pictures import jpeg, scene
from tests.service.test_approvals import claim_of, department_id, draft, events, filed, submit
from tests.web.conftest import CAROL, DANA, ERIN, FIONA, LI, SAM, WALT
from web.strings import ERRORS

EN = Translator("en")
BAD_REQUEST = ERRORS["bad_request"]
NOT_FOUND = "I could not find that claim."
NOT_YOURS = "This claim is not yours to approve. Nothing was changed."
CHANGED = "This claim changed in the meantime. Nothing was changed; please look at it again."


async def queue(web, who) -> dict:
    answer = await web(who).get("/app/api/approvals")
    assert answer.status_code == 200
    return answer.json()


async def state(database, claim_id: int) -> tuple:
    """Everything a decision changes: the claim, its steps, its log and the outbox."""
    claim, steps = await claim_of(database, claim_id)
    async with database.uow(read_only=True) as uow:
        mine = NotificationRow.subject_id == claim_id
        outbox = await uow.session.scalar(select(func.count()).select_from(NotificationRow)
                                          .where(mine))
        revisions = await uow.session.scalar(select(func.sum(NotificationRow.version))
                                             .where(mine))
    return (claim.status, claim.version, [(s.state, s.decided_by, s.reason) for s in steps],
            await events(database, claim_id), outbox, revisions)


async def written_for(database, claim_id: int, number: str) -> list[tuple]:
    """The notifications of a claim, its id and number taken out (to compare two claims)."""
    async with database.uow(read_only=True) as uow:
        keys = list(await uow.session.scalars(
            select(NotificationRow.key).where(NotificationRow.subject_id == claim_id)
            .order_by(NotificationRow.id)))
        found = [await uow.notifications.by_key(key) for key in keys]
    plain = []
    for notification in found:
        payload = {k: v for k, v in notification.payload.items()
                   if k not in ("claim_id", "number", "budgets", "warnings")}
        plain.append((notification.kind, notification.member_id, notification.version,
                      re.sub(rf":{claim_id}:", ":#:", notification.key),
                      str(payload).replace(number, "#")))
    return plain


async def test_the_queue_holds_what_waits_for_me_the_longest_waiting_first(web, database,
                                                                            clock, services):
    first = await filed(database, clock, "carol", "120.50")
    clock.advance(hours=2)
    second = await filed(database, clock, "li", "88", description="lunch with a buyer")
    west = await filed(database, clock, "sam", "60")
    shown = await queue(web, ERIN)
    assert [c["id"] for c in shown["claims"]] == [first, second]
    assert shown["empty"] is None and shown["reason_max"] == 500
    card = shown["claims"][0]
    assert {k: card[k] for k in ("number", "version", "status", "claimant", "amount", "what",
                                 "description", "receipts", "receipts_text", "step",
                                 "waiting_since", "outcome", "can_decide")} == {
        "number": f"EXP-2026-{first:06d}", "version": 2, "status": "pending",
        "claimant": "Carol Lin", "amount": "CNY 120.50",
        "what": "Travel · 2026-11-20 · East region", "description": "taxi to Harbor Logistics",
        "receipts": 0, "receipts_text": "📎 no receipt",
        "step": "Step 1 of 2", "waiting_since": "Waiting since 2026-11-26 10:00",
        "outcome": None, "can_decide": True}
    assert [(s["mark"], s["position"], s["who"], s["state"]) for s in card["route"]] == [
        ("👉", 1, "Erin Zhao", "asked now"), ("⏳", 2, "Finance", "waiting")]
    # The budget line is the chat card's, word for word.
    chat_card = card_text((await services.approvals.view(ERIN, first)).payload, EN)
    budgets = {budget["label"]: budget for budget in card["budgets"]}
    assert budgets["Travel · East region · 2026-11"]["text"] == (
        "Travel · East region · 2026-11: CNY 88.00 of CNY 10,000.00 used; with this claim "
        "CNY 208.50 (2%)")
    assert [line for line in chat_card.splitlines() if line.startswith("💰")] == [
        f"💰 {budget['text']}" for budget in card["budgets"]]
    assert all((b["over"], b["width"]) == (None, b["percent"]) for b in card["budgets"])
    assert [c["id"] for c in (await queue(web, WALT))["claims"]] == [west]
    for nobody in (CAROL, DANA, FIONA):  # Fiona's step comes after Erin's
        assert await queue(web, nobody) == {"claims": [], "reason_max": 500,
                                             "empty": "Nothing is waiting for your approval."}


async def test_finance_sees_the_claims_at_its_step_but_never_its_own(web, database, clock,
                                                                     services):
    org = example()
    next(m for m in org["members"] if m["key"] == "dana")["roles"].append("finance")
    await services.org.import_org(parse_org_file(org))
    carols = await filed(database, clock, "carol", "120.50")
    danas = await filed(database, clock, "dana", "75",
                        unit=(UnitKind.DEPARTMENT, await department_id(database, "sales")))
    await services.approvals.approve(ERIN, carols, version=2, chat_id=None)
    assert [c["id"] for c in (await queue(web, FIONA))["claims"]] == [carols, danas]
    assert [c["id"] for c in (await queue(web, DANA))["claims"]] == [carols]


async def test_a_claim_shows_its_receipts_route_and_history(web, database, clock, services,
                                                             tmp_path):
    claim_id = await draft(database, clock, "carol", "350", category="lodging",
                           description="hotel near Harbor Logistics")
    photo = jpeg(scene(7))
    await services.expenses.add_receipt(CAROL, claim_id, photo, file_id=None, as_document=False)
    await submit(database, clock, claim_id)
    shown = (await web(ERIN).get(f"/app/api/claims/{claim_id}")).json()
    assert (shown["receipts"], shown["receipts_text"]) == (1, "📎 1 receipt")
    assert shown["what"] == "Lodging · 2026-11-20 · East region"
    assert [(h["when"], h["what"], h["who"]) for h in shown["history"]] == [
        ("2026-11-26 10:00", "submitted", "Carol Lin")]
    picture = await web(ERIN).get(f"/app/api/claims/{claim_id}/receipts/1")
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.headers["cache-control"] == "no-store"
    assert picture.content == photo
    # The claimant sees her own claim and receipt; nobody outside the route does.
    assert (await web(CAROL).get(f"/app/api/claims/{claim_id}/receipts/1")).content == photo
    assert (await web(CAROL).get(f"/app/api/claims/{claim_id}")).json()["can_decide"] is False
    for outsider in (SAM, LI, WALT):
        refused = await web(outsider).get(f"/app/api/claims/{claim_id}/receipts/1")
        assert (refused.status_code, refused.json()["error"]) == (404, "claim_not_found")
        assert (await web(outsider).get(f"/app/api/claims/{claim_id}")).status_code == 404
    assert refused.json()["message"] == NOT_FOUND  # Walt reads English
    missing = await web(ERIN).get(f"/app/api/claims/{claim_id}/receipts/2")
    assert (missing.status_code, missing.json()["message"]) == (
        404, "I could not find that receipt.")
    for path in (tmp_path / "photos").rglob("*"):
        if path.is_file() and not path.name.endswith(".thumb.jpg"):
            path.unlink()
    lost = await web(ERIN).get(f"/app/api/claims/{claim_id}/receipts/1")
    assert (lost.status_code, lost.json()["error"]) == (404, "receipt_not_kept")


async def test_approving_in_one_tap_writes_what_the_chat_writes(web, database, clock,
                                                                services):
    in_page = await filed(database, clock, "carol", "120.50")
    in_chat = await filed(database, clock, "carol", "120.50")
    answer = await web(ERIN).post(f"/app/api/claims/{in_page}/approve", json={"version": 2})
    assert answer.status_code == 200
    assert answer.json() == {"id": in_page, "status": "pending",
                             "said": "✅ You approved it. Finance checks it next."}
    await services.approvals.approve(ERIN, in_chat, version=2, chat_id=ERIN)
    claim, steps = await claim_of(database, in_page)
    assert (claim.status, claim.version) == (ClaimStatus.PENDING, 3)
    assert [s.state for s in steps] == [StepState.APPROVED, StepState.CURRENT]
    assert [e[:2] for e in await events(database, in_page)][-1] == (
        "approved", steps[0].decided_by)
    # Erin's card edited, Fiona's card, Carol told: the same as from the chat's button.
    assert await written_for(database, in_page, f"EXP-2026-{in_page:06d}") == \
        await written_for(database, in_chat, f"EXP-2026-{in_chat:06d}")
    assert len(await written_for(database, in_page, f"EXP-2026-{in_page:06d}")) == 3
    assert await queue(web, ERIN) == {"claims": [], "reason_max": 500,
                                      "empty": "Nothing is waiting for your approval."}
    last = await web(FIONA).post(f"/app/api/claims/{in_page}/approve", json={"version": 3})
    assert last.json()["said"] == "✅ You approved it. The claim is approved."
    assert (await claim_of(database, in_page))[0].status is ClaimStatus.APPROVED


async def test_rejecting_says_why_to_the_claimant(web, database, clock, services):
    in_page = await filed(database, clock, "carol", "120.50")
    in_chat = await filed(database, clock, "carol", "120.50")
    answer = await web(ERIN).post(f"/app/api/claims/{in_page}/reject",
                                  json={"version": 2, "reason": "No receipt for the taxi"})
    assert answer.status_code == 200
    assert answer.json()["said"] == (f"❌ Rejected EXP-2026-{in_page:06d}. Carol Lin will see "
                                     "your reason.")
    await services.approvals.reject(ERIN, in_chat, version=2, reason="No receipt for the taxi",
                                    chat_id=ERIN)
    claim, steps = await claim_of(database, in_page)
    assert claim.status is ClaimStatus.REJECTED
    assert steps[0].reason == "No receipt for the taxi"
    assert await written_for(database, in_page, f"EXP-2026-{in_page:06d}") == \
        await written_for(database, in_chat, f"EXP-2026-{in_chat:06d}")
    mine = (await web(CAROL).get(f"/app/api/claims/{in_page}")).json()
    assert mine["outcome"] == "❌ Rejected by Erin Zhao: No receipt for the taxi"
    assert mine["history"][-1]["reason"] == "No receipt for the taxi"


@pytest.mark.parametrize(("reason", "status", "message"), [
    ("", 409, "Please write a reason: the claimant needs to know why."),
    ("   \n ", 409, "Please write a reason: the claimant needs to know why."),
    ("x" * 501, 409, "That reason is too long: at most 500 characters, please."),
    ("x" * 5000, 400, BAD_REQUEST),
    (None, 400, BAD_REQUEST),
])
async def test_a_rejection_without_a_fitting_reason_changes_nothing(web, database, clock,
                                                                    reason, status, message):
    claim_id = await filed(database, clock, "carol", "120.50")
    before = await state(database, claim_id)
    body = {"version": 2} if reason is None else {"version": 2, "reason": reason}
    answer = await web(ERIN).post(f"/app/api/claims/{claim_id}/reject", json=body)
    assert (answer.status_code, answer.json()["message"]) == (status, message)
    assert await state(database, claim_id) == before


@pytest.mark.parametrize(("who", "path", "body", "status", "message"), [
    (ERIN, "{id}/approve", {"version": 1}, 409, CHANGED),  # a page older than the claim
    (ERIN, "{id}/reject", {"version": 3, "reason": "no"}, 409, CHANGED),
    (SAM, "{id}/approve", {"version": 2}, 403, NOT_YOURS),  # someone else's claim
    (DANA, "{id}/approve", {"version": 2}, 403, NOT_YOURS),  # not yet their step
    (CAROL, "{id}/approve", {"version": 2}, 403,
     "Nobody approves their own claim. Nothing was changed."),
    (ERIN, "999999/approve", {"version": 2}, 404, NOT_FOUND),  # no such claim
    (ERIN, "0/approve", {"version": 2}, 400, BAD_REQUEST),
    (ERIN, f"{2**31}/approve", {"version": 2}, 400, BAD_REQUEST),
    (ERIN, "x/approve", {"version": 2}, 400, BAD_REQUEST),
    (ERIN, "{id}/approve", {"version": 2, "force": True}, 400, BAD_REQUEST),
    (ERIN, "{id}/approve", {"version": -2}, 400, BAD_REQUEST),
    (ERIN, "{id}/approve", {}, 400, BAD_REQUEST),
    (ERIN, "{id}/approve", "not json at all", 400, BAD_REQUEST),
    (ERIN, "{id}/approve", ["version", 2], 400, BAD_REQUEST),
])
async def test_refused_decisions_say_why_and_change_nothing(web, database, clock, who, path,
                                                            body, status, message):
    claim_id = await filed(database, clock, "carol", "120.50")
    before = await state(database, claim_id)
    url = "/app/api/claims/" + path.format(id=claim_id)
    answer = await (web(who).post(url, content=body) if isinstance(body, str)
                    else web(who).post(url, json=body))
    assert (answer.status_code, answer.json()["message"]) == (status, message)
    assert await state(database, claim_id) == before


async def test_a_claim_someone_decided_first_is_refused_with_their_name(web, database, clock,
                                                                        services):
    claim_id = await filed(database, clock, "carol", "120.50")
    shown = (await queue(web, ERIN))["claims"][0]
    await services.approvals.approve(ERIN, claim_id, version=2, chat_id=ERIN)  # in the chat
    before = await state(database, claim_id)
    late = await web(ERIN).post(f"/app/api/claims/{claim_id}/approve",
                                json={"version": shown["version"]})
    assert (late.status_code, late.json()["message"]) == (
        409, "This claim was already decided by Erin Zhao. Nothing was changed.")
    assert await state(database, claim_id) == before


async def test_a_refusal_is_in_the_members_language(web, database, clock):
    claim_id = await filed(database, clock, "carol", "120.50")
    answer = await web(LI).post(f"/app/api/claims/{claim_id}/approve", json={"version": 2})
    assert (answer.status_code, answer.json()["message"]) == (
        403, "该报销单不由您审批。未做任何更改。")  # Li reads Chinese


async def test_several_approved_together_each_on_its_own(web, database, clock):
    first, stale, third = [await filed(database, clock, "carol", amount)
                           for amount in ("10", "20", "30")]
    wests = await filed(database, clock, "sam", "40")
    befores = {claim_id: await state(database, claim_id) for claim_id in (stale, wests)}
    answer = await web(ERIN).post("/app/api/approvals/bulk", json={"claims": [
        {"id": first, "version": 2}, {"id": stale, "version": 1}, {"id": wests, "version": 2},
        {"id": 999999, "version": 2}, {"id": third, "version": 2}]})
    assert answer.status_code == 200
    done = answer.json()
    assert done["summary"] == "Approved 2 of 5."
    assert [(o["id"], o["ok"], o.get("said") or o["message"]) for o in done["outcomes"]] == [
        (first, True, "✅ You approved it. Finance checks it next."),
        (stale, False, CHANGED),
        (wests, False, NOT_YOURS),
        (999999, False, NOT_FOUND),
        (third, True, "✅ You approved it. Finance checks it next.")]
    for claim_id in (first, third):
        claim, steps = await claim_of(database, claim_id)
        assert (claim.version, steps[0].state) == (3, StepState.APPROVED)
    for claim_id, before in befores.items():
        assert await state(database, claim_id) == before
    assert [c["id"] for c in (await queue(web, ERIN))["claims"]] == [stale]


@pytest.mark.parametrize(("body", "label"), [
    ({"claims": []}, "none"),
    ("many", "101 claims"),
    ({"claims": [{"id": 1}]}, "no version"),
    ({"claims": [{"id": "one", "version": 2}]}, "a word for an id"),
    ({"claims": {"id": 1, "version": 2}}, "not a list"),
    ({"items": []}, "another field"),
    ("{not json", "garbage"),
])
async def test_a_bulk_that_cannot_be_read_changes_nothing(web, database, clock, body, label):
    claim_id = await filed(database, clock, "carol", "120.50")
    before = await state(database, claim_id)
    client = web(ERIN)
    if body == "many":
        answer = await client.post("/app/api/approvals/bulk", json={
            "claims": [{"id": claim_id, "version": 2}] * 101})
    elif isinstance(body, str):
        answer = await client.post("/app/api/approvals/bulk", content=body)
    else:
        answer = await client.post("/app/api/approvals/bulk", json=body)
    assert (answer.status_code, answer.json()) == (400, {"error": "bad_request",
                                                         "message": BAD_REQUEST}), label
    assert await state(database, claim_id) == before


async def test_my_claims_show_each_ones_state(web, database, clock, services):
    writing = await draft(database, clock, "carol", "12")
    waiting = await filed(database, clock, "carol", "120.50")
    approved = await filed(database, clock, "carol", "30")
    rejected = await filed(database, clock, "carol", "40", category="meals")
    taken_back = await filed(database, clock, "carol", "50")
    await services.approvals.approve(ERIN, approved, version=2, chat_id=None)
    await services.approvals.approve(FIONA, approved, version=3, chat_id=None)
    await services.approvals.reject(ERIN, rejected, version=2, reason="Twice", chat_id=None)
    await services.expenses.withdraw(CAROL, taken_back)
    shown = (await web(CAROL).get("/app/api/my-claims")).json()
    assert (shown["page"], shown["pages"], shown["empty"]) == (0, 1, None)
    assert [(c["id"], c["number"], c["icon"], c["status_text"], c["amount"], c["what"],
             c["opens"]) for c in shown["claims"]] == [
        (writing, "Draft", "📝", "draft", "CNY 12.00", "Travel · 2026-11-20", False),
        (taken_back, f"EXP-2026-{taken_back:06d}", "↩️", "withdrawn", "CNY 50.00",
         "Travel · 2026-11-20", True),
        (rejected, f"EXP-2026-{rejected:06d}", "❌", "rejected", "CNY 40.00",
         "Meals · 2026-11-20", True),
        (approved, f"EXP-2026-{approved:06d}", "✅", "approved", "CNY 30.00",
         "Travel · 2026-11-20", True),
        (waiting, f"EXP-2026-{waiting:06d}", "⏳", "waiting for approval", "CNY 120.50",
         "Travel · 2026-11-20", True)]
    assert (await web(ERIN).get("/app/api/my-claims")).json() == {
        "claims": [], "page": 0, "pages": 1,
        "empty": "You have no expense claims yet. Send /expense to file one."}
    # Nobody opens a draft here: it is still being written in the chat.
    refused = await web(CAROL).get(f"/app/api/claims/{writing}")
    assert (refused.status_code, refused.json()["message"]) == (404, NOT_FOUND)


async def test_my_claims_come_a_page_at_a_time_in_my_language(web, database, clock):
    made = [await draft(database, clock, "li", str(n)) for n in range(1, 23)]
    first = (await web(LI).get("/app/api/my-claims")).json()
    assert (first["page"], first["pages"], len(first["claims"])) == (0, 2, 20)
    assert first["claims"][0]["number"] == "草稿"
    second = (await web(LI).get("/app/api/my-claims", params={"page": 1})).json()
    assert [c["id"] for c in second["claims"]] == [made[1], made[0]]
    for page in ("-1", "10001", "two"):
        answer = await web(LI).get("/app/api/my-claims", params={"page": page})
        assert (answer.status_code, answer.json()["error"]) == (400, "bad_request")
    extra = await web(LI).get("/app/api/my-claims", params={"page": 0, "size": 100})
    assert extra.status_code == 400


async def test_the_page_gets_its_words(web):
    strings = (await web(ERIN).get("/app/api/me")).json()["strings"]
    assert strings["✅ Approve"] == "✅ Approve"
    assert strings["Approve selected ({n})"] == "Approve selected ({n})"


async def test_every_decision_is_in_the_log_once(web, database, clock):
    claim_id = await filed(database, clock, "carol", "120.50")
    for _ in range(2):
        await web(ERIN).post(f"/app/api/claims/{claim_id}/approve", json={"version": 2})
    async with database.uow(read_only=True) as uow:
        decided = await uow.session.scalar(select(func.count()).select_from(ClaimEventRow).where(
            ClaimEventRow.claim_id == claim_id, ClaimEventRow.action == "approved"))
    assert decided == 1
