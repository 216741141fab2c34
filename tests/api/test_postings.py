"""Marking claims posted: idempotent, audited, refused for the wrong claims and inputs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from storage.tables import ClaimEventRow, ClaimRow
from tests.api.seed import FIRST_DECISION, add_claims, approve_many, claim_row

POSTING = "/api/v1/claims/{}/posting"


async def events(database) -> list[tuple]:
    async with database.uow(read_only=True) as uow:
        return (await uow.session.execute(select(
            ClaimEventRow.claim_id, ClaimEventRow.action, ClaimEventRow.actor_id,
            ClaimEventRow.detail).order_by(ClaimEventRow.id))).all()


async def test_posting_twice_with_the_same_ref_is_one_posting(client, database, clock):
    await approve_many(database, 1, 1)
    first = await client.post(POSTING.format("EXP-2026-000001"),
                              json={"ledger_ref": "记-2026-0042"})
    assert first.status_code == 200
    assert first.json() == {"number": "EXP-2026-000001", "ledger_ref": "记-2026-0042",
                            "posted_at": "2026-11-26T02:00:00Z"}
    clock.advance(hours=1)
    again = await client.post(POSTING.format("EXP-2026-000001"),
                              json={"ledger_ref": "记-2026-0042"})
    assert (again.status_code, again.json()) == (200, first.json())
    assert await events(database) == [
        (1, "posted", None, {"ledger_ref": "记-2026-0042", "token": "ledger"})]
    listed = (await client.get("/api/v1/claims/approved")).json()["claims"][0]
    assert (listed["posted_at"], listed["ledger_ref"]) == ("2026-11-26T02:00:00Z",
                                                           "记-2026-0042")


async def test_posting_again_with_another_ref_is_a_conflict(client, database):
    await approve_many(database, 1, 1)
    await client.post(POSTING.format("EXP-2026-000001"), json={"ledger_ref": "GL-1"})
    response = await client.post(POSTING.format("EXP-2026-000001"),
                                 json={"ledger_ref": "GL-2"})
    assert response.status_code == 409
    assert response.json()["error"] == "claim_posted_elsewhere"
    assert response.json()["ledger_ref"] == "GL-1"
    async with database.uow(read_only=True) as uow:
        assert await uow.session.scalar(select(ClaimRow.ledger_ref)) == "GL-1"
    assert len(await events(database)) == 1


@pytest.mark.parametrize("status", ["draft", "pending", "rejected", "withdrawn"])
async def test_a_claim_that_is_not_approved_cannot_be_posted(client, database, status):
    await add_claims(database, [claim_row(1, None if status in ("draft", "pending")
                                          else FIRST_DECISION, status=status)])
    response = await client.post(POSTING.format("EXP-2026-000001"), json={"ledger_ref": "G"})
    if status == "draft":  # a draft has no number yet
        assert response.status_code == 404
    else:
        assert response.status_code == 409
        assert response.json()["error"] == "claim_not_approved"
    assert await events(database) == []


async def test_an_unknown_claim_cannot_be_posted(client):
    response = await client.post(POSTING.format("EXP-2026-000404"), json={"ledger_ref": "G"})
    assert response.status_code == 404


@pytest.mark.parametrize(("body", "fields"), [
    ({}, ["ledger_ref"]),
    ({"ledger_ref": ""}, ["ledger_ref"]),
    ({"ledger_ref": "   "}, ["ledger_ref"]),
    ({"ledger_ref": " GL-1"}, ["ledger_ref"]),
    ({"ledger_ref": "GL\n1"}, ["ledger_ref"]),
    ({"ledger_ref": "G" * 101}, ["ledger_ref"]),
    ({"ledger_ref": 42}, ["ledger_ref"]),
    ({"ledger_ref": "GL-1", "amount": "1"}, ["amount"]),
    (["GL-1"], ["body"]),
])
async def test_a_bad_posting_names_only_the_field(client, database, body, fields):
    await approve_many(database, 1, 1)
    response = await client.post(POSTING.format("EXP-2026-000001"), json=body)
    assert response.status_code == 422
    assert response.json() == {"error": "invalid_request", "message": "some fields are invalid",
                               "fields": fields}
    assert await events(database) == []


async def test_a_body_that_is_not_json_is_refused(client, database):
    response = await client.post(POSTING.format("EXP-2026-000001"), content=b"ledger_ref=1",
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["fields"] == ["body"]


async def test_a_batch_posts_many_and_answers_each(client, database):
    await approve_many(database, 1, 3)
    await add_claims(database, [claim_row(4, None, status="pending")])
    await client.post(POSTING.format("EXP-2026-000003"), json={"ledger_ref": "GL-3"})
    response = await client.post("/api/v1/postings", json={"postings": [
        {"number": "EXP-2026-000001", "ledger_ref": "GL-1"},
        {"number": "EXP-2026-000002", "ledger_ref": "GL-2"},
        {"number": "EXP-2026-000003", "ledger_ref": "GL-3"},
        {"number": "EXP-2026-000003", "ledger_ref": "GL-X"},
        {"number": "EXP-2026-000004", "ledger_ref": "GL-4"},
        {"number": "EXP-2026-000404", "ledger_ref": "GL-5"}]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["number"], r["status"]) for r in results] == [
        ("EXP-2026-000001", "posted"), ("EXP-2026-000002", "posted"),
        ("EXP-2026-000003", "unchanged"), ("EXP-2026-000003", "conflict"),
        ("EXP-2026-000004", "not_approved"), ("EXP-2026-000404", "not_found")]
    assert results[0]["posting"] == {"number": "EXP-2026-000001", "ledger_ref": "GL-1",
                                     "posted_at": "2026-11-26T02:00:00Z"}
    assert results[4]["posting"] is None
    assert [e[0] for e in await events(database)] == [3, 1, 2]


async def test_a_batch_is_bounded_and_validated(client):
    too_many = [{"number": f"EXP-2026-{i:06d}", "ledger_ref": "G"} for i in range(1001)]
    for body, fields in [({"postings": too_many}, ["postings"]), ({"postings": []},
                                                                 ["postings"]),
                         ({"postings": [{"number": "EXP-2026-000001", "ledger_ref": ""}]},
                          ["postings.0.ledger_ref"]),
                         ({"postings": [{"number": "EXP-2026-000001", "ledger_ref": "G"},
                                        {"number": "GL-2026-1", "ledger_ref": "G"}]},
                          ["postings.1.number"])]:
        response = await client.post("/api/v1/postings", json=body)
        assert response.status_code == 422
        assert response.json()["fields"] == fields


async def test_control_characters_in_a_batch_are_refused_and_change_nothing(client, database):
    await approve_many(database, 1, 1)
    for line in ({"number": "EXP-2026-\x00000001", "ledger_ref": "GL-1"},
                 {"number": "EXP-2026-000001", "ledger_ref": "GL-\x001"}):
        response = await client.post("/api/v1/postings", json={"postings": [line]})
        assert response.status_code == 422, line
        assert response.json()["fields"] in (["postings.0.number"], ["postings.0.ledger_ref"])
    assert await events(database) == []


async def test_a_claim_number_is_made_of_ascii_digits(client, database):
    await approve_many(database, 1, 1)
    # A lone surrogate cannot even be sent to the database; other digits never name a claim.
    for number in ["EXP-2026-00000\ud800", "EXP-2026-00000\u0661",
                   "EXP-\uff12\uff10\uff12\uff16-000001"]:
        # json.dumps escapes the lone surrogate, as a client's JSON library would.
        body = json.dumps({"postings": [{"number": number, "ledger_ref": "GL-1"}]})
        response = await client.post("/api/v1/postings", content=body,
                                     headers={"Content-Type": "application/json"})
        assert response.status_code == 422, number
        assert response.json()["fields"] == ["postings.0.number"]
    single = await client.post("/api/v1/claims/EXP-2026-00000\u0661/posting",
                               json={"ledger_ref": "GL-1"})
    assert single.status_code == 422
    assert single.json()["fields"] == ["number"]
    assert (await client.get("/api/v1/claims/EXP-2026-000001")).json()["posted_at"] is None


async def test_a_body_over_the_limit_is_refused_unread(make_client, database):
    await approve_many(database, 1, 1)
    line = {"number": "EXP-2026-000001", "ledger_ref": "记" * 100}
    body = json.dumps({"postings": [line] * 4000}).encode()
    assert len(body) > 2 * 1024 * 1024

    async def chunks():
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    json_type = {"Content-Type": "application/json"}
    for content in (body, chunks()):
        response = await make_client().post("/api/v1/postings", content=content,
                                            headers=json_type)
        assert response.status_code == 413
        assert response.json() == {"error": "too_large", "message": (
            "the request body is larger than 2 MiB; send fewer lines")}
    anonymous = await make_client(token=None).post("/api/v1/postings", content=body,
                                                   headers=json_type)
    assert anonymous.status_code == 401
    assert (await make_client().get("/api/v1/claims/EXP-2026-000001")).json()[
        "posted_at"] is None


async def test_a_full_batch_fits_the_body_limit(client, database):
    await approve_many(database, 1, 1)
    lines = [{"number": f"EXP-2026-{i:06d}", "ledger_ref": "\U0001f600" * 100}
             for i in range(1, 1001)]
    response = await client.post("/api/v1/postings", json={"postings": lines})
    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "posted"
