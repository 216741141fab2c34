"""Approved claims for the finance system: pages, cursors, one claim, its receipts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
from PIL import Image
from pydantic_core import to_json
from sqlalchemy import insert

from api.app import PAGE_JSON
from api.cursor import cursor_key
from core.domain.expenses.finance import SETTLE, amount_text, utc_moment
from storage.photos import PhotoStore
from storage.tables import MemberRow
from tests.api.conftest import AUDIT, CURSOR_SECRET, LEDGER, signed_cursor
from tests.api.seed import (
    CAROL,
    EAST,
    FIRST_DECISION,
    HARBOR_PROJECT,
    LI,
    WANG,
    add_claims,
    add_event,
    add_receipt,
    approve_many,
    claim_row,
)

LEDGER_KEY = cursor_key(CURSOR_SECRET.encode(), "ledger")
# The test clock's moment (2026-11-26 02:00 UTC) in microseconds since 1970.
NOW_MICROS = 1_795_658_400_000_000


async def page_through(client, limit: int, cursor: str | None = None,
                       between=None) -> tuple[list[str], str]:
    """Every page until has_more is false; `between(n)` runs after the n-th page."""
    numbers, pages = [], 0
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/api/v1/claims/approved", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["claims"]) <= limit
        numbers += [c["number"] for c in body["claims"]]
        cursor, pages = body["next_cursor"], pages + 1
        if not body["has_more"]:
            return numbers, cursor
        if between:
            await between(pages)


async def test_paging_2500_claims_gives_each_once_in_order(client, database):
    numbers = await approve_many(database, 1, 2500)
    seen, _ = await page_through(client, 1000)
    assert seen == numbers


async def test_a_page_of_claims_by_thousands_of_people_names_each(make_client, database):
    people = range(1000, 3500)
    async with database.uow() as uow:
        await uow.session.execute(insert(MemberRow), [
            {"id": m, "key": f"rep-{m}", "name": f"Rep {m}", "department_id": EAST}
            for m in people])
        await uow.commit()
    await add_claims(database, [
        claim_row(m, FIRST_DECISION + timedelta(seconds=m), member_id=m,
                  unit=("member", m) if m % 2 else ("project", HARBOR_PROJECT))
        for m in people])
    claims = (await make_client(page_size=5000).get(
        "/api/v1/claims/approved", params={"limit": 5000})).json()["claims"]
    assert [c["member"] for c in claims] == [
        {"key": f"rep-{m}", "name": f"Rep {m}"} for m in people]
    assert [c["unit"]["key"] for c in claims] == [
        f"rep-{m}" if m % 2 else "harbor" for m in people]


async def test_paging_while_approvals_commit_misses_none(client, database, clock):
    # The last of the 2,500 was decided just before the first page's settling time.
    start = clock.now() - SETTLE - timedelta(seconds=2500)
    numbers = await approve_many(database, 1, 2500, start=start)
    decided = {number: start + i * timedelta(seconds=1) for i, number in enumerate(numbers)}

    async def approvals_go_on(page: int) -> None:
        # Decided while the page was being read, both committed only after it: one still
        # settling then, one decided a moment before the read.
        read_at = clock.now()
        for claim_id, at in ((10_000 + page, read_at - SETTLE + timedelta(seconds=5)),
                             (20_000 + page, read_at - timedelta(milliseconds=1))):
            await add_claims(database, [claim_row(claim_id, at)])
            decided[claim_row(claim_id, at)["number"]] = at
        clock.advance(seconds=61)

    seen, cursor = await page_through(client, 1000, between=approvals_go_on)
    clock.advance(minutes=5)
    rest, _ = await page_through(client, 1000, cursor)
    everything = seen + rest
    assert len(everything) == len(set(everything)) == len(decided) == 2504
    assert everything == sorted(decided, key=lambda number: (decided[number], number))


async def test_a_claim_is_listed_with_exact_amounts_and_utc_times(client, database):
    await add_claims(database, [claim_row(7, FIRST_DECISION, amount=Decimal("1234.05"),
                                          opportunity_id=42)])
    await add_receipt(database, 7, "b" * 64)
    body = (await client.get("/api/v1/claims/approved")).json()
    assert body["has_more"] is False
    assert body["claims"] == [{
        "number": "EXP-2026-000007", "id": 7, "member": {"key": "carol", "name": "Carol Chen"},
        "department": "east", "amount": "1234.05", "currency": "CNY", "category": "travel",
        "spent_on": "2026-11-19", "unit": {"kind": "department", "key": "east",
                                           "name": "East region"},
        "opportunity_id": 42, "description": "taxi 7",
        "submitted_at": "2026-11-20T06:00:00Z", "decided_at": "2026-11-20T08:00:00Z",
        "posted_at": None, "ledger_ref": None, "receipt_count": 1}]


async def test_nothing_approved_yet_still_gives_a_cursor_to_poll_with(client, database,
                                                                      clock):
    empty = (await client.get("/api/v1/claims/approved", params={"cursor": ""})).json()
    assert empty["claims"] == [] and empty["has_more"] is False
    await approve_many(database, 1, 2, start=clock.now() - timedelta(hours=1))
    later = await client.get("/api/v1/claims/approved",
                             params={"cursor": empty["next_cursor"]})
    assert [c["id"] for c in later.json()["claims"]] == [1, 2]


async def test_the_page_size_is_capped_by_the_config(make_client, database):
    await approve_many(database, 1, 30)
    client = make_client(page_size=10)
    body = (await client.get("/api/v1/claims/approved", params={"limit": 5000})).json()
    assert len(body["claims"]) == 10 and body["has_more"] is True
    assert len((await client.get("/api/v1/claims/approved")).json()["claims"]) == 10


async def test_a_bad_limit_names_the_field(client):
    for limit in ("0", "-1", "ten", "10001", "1.5"):
        response = await client.get("/api/v1/claims/approved", params={"limit": limit})
        assert response.status_code == 422
        assert response.json() == {"error": "invalid_request",
                                   "message": "some fields are invalid", "fields": ["limit"]}


def tamper(cursor: str) -> list[str]:
    body, _, signature = cursor.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["id"] = payload.get("id", 0) + 500
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [f"{forged}.{signature}", f"{body}.{flipped}", body, f"{body}.", "garbage",
            "..", "é.é", f"{body}.{signature}x"]


async def test_a_tampered_cursor_is_refused(client, database):
    await approve_many(database, 1, 10)
    cursor = (await client.get("/api/v1/claims/approved", params={"limit": 3})).json()[
        "next_cursor"]
    for bad in tamper(cursor):
        response = await client.get("/api/v1/claims/approved", params={"cursor": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"] == "invalid_cursor"


async def test_a_cursor_minted_with_a_token_is_refused(client, database):
    await approve_many(database, 1, 3)
    # Cursors were once signed with a key derived from the caller's token alone.
    from_token = hmac.new(LEDGER.encode(), b"crmbot finance api cursor", hashlib.sha256).digest()
    for version in (1, 2):
        cursor = signed_cursor({"v": version, "iat": NOW_MICROS, "at": 0, "id": 10**30},
                               from_token)
        response = await client.get("/api/v1/claims/approved", params={"cursor": cursor})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_cursor"


async def test_a_signed_cursor_with_an_impossible_id_is_a_clean_400(client, database):
    await approve_many(database, 1, 3)
    for claim_id in (10**30, 2**63, 2**31, 0, -1):
        cursor = signed_cursor({"v": 2, "iat": NOW_MICROS, "at": 0, "id": claim_id}, LEDGER_KEY)
        response = await client.get("/api/v1/claims/approved", params={"cursor": cursor})
        assert response.status_code == 400, claim_id
        assert response.json() == {"error": "invalid_cursor", "message": (
            "this server did not issue the cursor to this token; pass next_cursor unchanged, "
            "or list again without a cursor")}


async def test_the_largest_claim_id_is_a_position_past_every_claim(client, database):
    await approve_many(database, 1, 3)
    cursor = signed_cursor({"v": 2, "iat": NOW_MICROS, "at": NOW_MICROS - 3_600_000_000,
                            "id": 2**31 - 1}, LEDGER_KEY)
    response = await client.get("/api/v1/claims/approved", params={"cursor": cursor})
    assert response.status_code == 200
    assert response.json()["claims"] == [] and response.json()["has_more"] is False


async def test_a_cursor_belongs_to_the_token_it_was_given_to(make_client, database):
    await approve_many(database, 1, 10)
    cursor = (await make_client().get("/api/v1/claims/approved",
                                      params={"limit": 3})).json()["next_cursor"]
    response = await make_client(token=AUDIT).get("/api/v1/claims/approved",
                                                  params={"cursor": cursor})
    assert response.status_code == 400


async def test_an_expired_cursor_says_to_start_again(client, database, clock):
    await approve_many(database, 1, 10)
    cursor = (await client.get("/api/v1/claims/approved", params={"limit": 3})).json()[
        "next_cursor"]
    clock.advance(hours=23, minutes=59)
    fresh = await client.get("/api/v1/claims/approved", params={"cursor": cursor, "limit": 3})
    assert [c["id"] for c in fresh.json()["claims"]] == [4, 5, 6]
    clock.advance(minutes=2)
    response = await client.get("/api/v1/claims/approved", params={"cursor": cursor})
    assert response.status_code == 410
    assert response.json()["error"] == "cursor_expired"
    assert "without a cursor" in response.json()["message"]
    # The cursor handed out a minute ago is still good.
    renewed = await client.get("/api/v1/claims/approved",
                               params={"cursor": fresh.json()["next_cursor"]})
    assert [c["id"] for c in renewed.json()["claims"]] == [7, 8, 9, 10]


async def test_one_claim_with_its_receipts_and_history(client, database):
    await add_claims(database, [claim_row(5, FIRST_DECISION)])
    await add_receipt(database, 5, "c" * 64)
    await add_event(database, 5, "submitted", CAROL, FIRST_DECISION - timedelta(hours=2))
    await add_event(database, 5, "approved", WANG, FIRST_DECISION)
    await add_event(database, 5, "reminded", None, FIRST_DECISION - timedelta(hours=1))
    body = (await client.get("/api/v1/claims/EXP-2026-000005")).json()
    assert body["number"] == "EXP-2026-000005" and body["amount"] == "120.50"
    assert body["receipts"] == [{
        "sha256": "c" * 64, "size": 1234, "width": 800, "height": 600,
        "url": "/api/v1/claims/EXP-2026-000005/receipts/" + "c" * 64}]
    assert body["history"] == [
        {"action": "submitted", "actor": {"key": "carol", "name": "Carol Chen"},
         "at": "2026-11-20T06:00:00Z"},
        {"action": "reminded", "actor": None, "at": "2026-11-20T07:00:00Z"},
        {"action": "approved", "actor": {"key": "wang", "name": "Wang Lei"},
         "at": "2026-11-20T08:00:00Z"}]


async def test_claims_not_approved_are_not_found(client, database):
    await add_claims(database, [
        claim_row(1, None, status="pending"), claim_row(2, FIRST_DECISION, status="rejected"),
        claim_row(3, None, status="withdrawn")])
    for number in ("EXP-2026-000001", "EXP-2026-000002", "EXP-2026-000003",
                   "EXP-2026-000404"):
        response = await client.get(f"/api/v1/claims/{number}")
        assert response.status_code == 404
        assert response.json()["error"] == "claim_not_found"
    malformed = await client.get("/api/v1/claims/drop%20table")
    assert malformed.status_code == 422 and malformed.json()["fields"] == ["number"]


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "JPEG")
    return buffer.getvalue()


async def test_a_receipt_is_served_only_through_its_own_approved_claim(client, database,
                                                                       tmp_path):
    data = jpeg()
    stored = PhotoStore(tmp_path / "photos").save(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    await add_claims(database, [claim_row(1, FIRST_DECISION), claim_row(2, FIRST_DECISION),
                                claim_row(3, None, status="pending")])
    await add_receipt(database, 1, stored.sha256)
    await add_receipt(database, 3, stored.sha256)
    response = await client.get(f"/api/v1/claims/EXP-2026-000001/receipts/{stored.sha256}")
    assert response.status_code == 200
    assert response.content == data and response.headers["content-type"] == "image/jpeg"
    for number in ("EXP-2026-000002", "EXP-2026-000003"):
        other = await client.get(f"/api/v1/claims/{number}/receipts/{stored.sha256}")
        assert other.status_code == 404 and other.json()["error"] == "receipt_not_found"
    for bad in ("../../etc/passwd", "A" * 64, "a" * 63):
        response = await client.get(f"/api/v1/claims/EXP-2026-000001/receipts/{bad}")
        assert response.status_code in (404, 422)
        assert "root" not in response.text


async def test_a_receipt_missing_from_the_store_is_not_found(client, database):
    await add_claims(database, [claim_row(1, FIRST_DECISION)])
    await add_receipt(database, 1, "d" * 64)
    response = await client.get("/api/v1/claims/EXP-2026-000001/receipts/" + "d" * 64)
    assert response.status_code == 404 and "photos" not in response.text


async def test_the_fast_page_writes_what_the_straightforward_way_does(client, database):
    # Pages are written from cents and UTC text; one claim is written from Decimals and
    # datetimes. Both must give the same JSON.
    moment = FIRST_DECISION + timedelta(seconds=1, microseconds=120)
    await add_claims(database, [
        claim_row(1, FIRST_DECISION, amount=Decimal("0.05")),
        claim_row(2, moment, amount=Decimal("1234.50"), unit=None,
                  posted_at=moment + timedelta(microseconds=999_999), ledger_ref="GL-2"),
        claim_row(3, moment + timedelta(seconds=1), amount=Decimal("100000.00"),
                  unit=("member", WANG), submitted_at=None, spent_on=None, category=None),
        claim_row(4, moment + timedelta(seconds=2), amount=Decimal("7.00"),
                  unit=("project", HARBOR_PROJECT), member_id=LI)])
    await add_receipt(database, 4, "c" * 64)
    page = (await client.get("/api/v1/claims/approved")).json()["claims"]
    one_by_one = []
    for number in [c["number"] for c in page]:
        record = (await client.get(f"/api/v1/claims/{number}")).json()
        del record["receipts"], record["history"]
        one_by_one.append(record)
    assert page == one_by_one
    assert [c["amount"] for c in page] == ["0.05", "1234.50", "100000.00", "7.00"]
    assert [c["decided_at"] for c in page] == [
        "2026-11-20T08:00:00Z", "2026-11-20T08:00:01.000120Z", "2026-11-20T08:00:02.000120Z",
        "2026-11-20T08:00:03.000120Z"]
    assert page[1]["posted_at"] == "2026-11-20T08:00:02.000119Z"
    assert (page[2]["submitted_at"], page[2]["spent_on"]) == (None, None)
    assert page[3]["receipt_count"] == 1


async def test_a_page_is_written_byte_for_byte_as_pydantic_writes_it(client, database):
    await add_claims(database, [
        claim_row(1, FIRST_DECISION, description='taxi "airport" \\ 李娜\n\u2028\x01 😀',
                  posted_at=FIRST_DECISION + timedelta(microseconds=5), ledger_ref="GL/1 \"a\""),
        claim_row(2, FIRST_DECISION, unit=("project", HARBOR_PROJECT), member_id=LI)])
    response = await client.get("/api/v1/claims/approved")
    assert response.headers["content-type"] == "application/json"
    assert response.content == to_json(response.json())


async def test_a_claim_charged_to_a_unit_that_is_gone_is_listed_without_one(client, database):
    await add_claims(database, [claim_row(1, FIRST_DECISION, unit=("project", 999))])
    listed = (await client.get("/api/v1/claims/approved")).json()["claims"]
    one = (await client.get("/api/v1/claims/EXP-2026-000001")).json()
    assert listed[0]["unit"] is None and one["unit"] is None


def test_page_amounts_and_times_are_written_as_decimals_and_datetimes_are():
    for cents in (0, 1, 5, 10, 99, 100, 123450, 10_000_000, 123456789012, -5, -123450):
        exact = (Decimal(cents) / 100).quantize(Decimal("0.01"))
        assert amount_text(cents) == to_json(exact).decode().strip('"')
    for moment in (datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
                   datetime(2026, 3, 2, 9, 30, 5, 120000, tzinfo=UTC),
                   datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC)):
        written = to_json(moment)
        naive = moment.replace(tzinfo=None)
        for text in (f"{naive:%Y-%m-%d %H:%M:%S.%f}", naive.isoformat(" "),
                     naive.isoformat(), f"{naive.isoformat()}+00:00",
                     moment.astimezone(timezone(timedelta(hours=8))).isoformat()):
            assert orjson.dumps(utc_moment(text), option=PAGE_JSON) == written, text
        # As asyncpg gives them: aware datetimes.
        for aware in (moment, moment.astimezone(timezone(timedelta(hours=8)))):
            assert orjson.dumps(utc_moment(aware), option=PAGE_JSON) == written, aware
    assert amount_text(None) is None and utc_moment(None) is None
