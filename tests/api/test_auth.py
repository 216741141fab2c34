"""Bearer tokens and scopes: who may call what, and what a refusal gives away."""

from __future__ import annotations

import pytest

from tests.api.conftest import AUDIT, BOOKER, LEDGER, bearer
from tests.api.seed import approve_many

READS = ["/api/v1/claims/approved", "/api/v1/claims/EXP-2026-000001",
         "/api/v1/claims/EXP-2026-000001/receipts/" + "a" * 64]


@pytest.mark.parametrize("headers", [
    {}, bearer("wrong-token-0123456789abcdef"), bearer(LEDGER[:-1]), bearer(LEDGER + "x"),
    {"Authorization": LEDGER}, {"Authorization": f"Basic {LEDGER}"}, bearer(""),
], ids=["missing", "unknown", "prefix", "longer", "no-scheme", "basic", "empty"])
@pytest.mark.parametrize("path", READS)
async def test_a_wrong_token_is_refused_with_a_challenge(make_client, headers, path):
    client = make_client(token=None)
    response = await client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"error": "unauthorized",
                               "message": "a valid bearer token is required"}
    assert LEDGER[:10] not in response.text


async def test_a_wrong_token_cannot_post_either(make_client, database):
    await approve_many(database, 1, 1)
    client = make_client(token="wrong-token-0123456789abcdef")
    response = await client.post("/api/v1/claims/EXP-2026-000001/posting",
                                 json={"ledger_ref": "GL-1"})
    assert response.status_code == 401
    batch = await client.post("/api/v1/postings",
                              json={"postings": [{"number": "EXP-2026-000001",
                                                  "ledger_ref": "GL-1"}]})
    assert batch.status_code == 401


async def test_a_wrong_token_learns_nothing_from_a_malformed_request(make_client):
    client = make_client(token=None)
    for response in [
        await client.get("/api/v1/claims/approved?limit=0"),
        await client.post("/api/v1/claims/EXP-2026-000001/posting", content=b"{not json",
                          headers={"Content-Type": "application/json"}),
    ]:
        assert response.status_code == 401
        assert "fields" not in response.json()


NOT_UTF8 = "\N{CJK UNIFIED IDEOGRAPH-8BB0}".encode("gb18030")  # 记, as a Chinese ledger writes it
POSTS = [("/api/v1/claims/EXP-2026-000001/posting", b'{"ledger_ref": "' + NOT_UTF8 + b'"}'),
         ("/api/v1/postings", b'{"postings": [{"number": "EXP-2026-000001", "ledger_ref": "'
                              + NOT_UTF8 + b'"}]}')]


@pytest.mark.parametrize(("path", "body"), POSTS, ids=["posting", "postings"])
async def test_a_body_that_is_not_utf8_is_refused_only_after_the_token(make_client, database,
                                                                      path, body):
    await approve_many(database, 1, 1)
    json_type = {"Content-Type": "application/json"}
    anonymous = await make_client(token=None).post(path, content=body, headers=json_type)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "unauthorized",
                                "message": "a valid bearer token is required"}
    reader = await make_client(token=AUDIT).post(path, content=body, headers=json_type)
    assert reader.status_code == 403
    assert reader.json()["error"] == "forbidden"
    poster = await make_client(token=BOOKER).post(path, content=body, headers=json_type)
    assert poster.status_code == 422
    assert poster.json() == {"error": "invalid_request", "message": "some fields are invalid",
                             "fields": ["body"]}
    detail = await make_client().get("/api/v1/claims/EXP-2026-000001")
    assert detail.json()["posted_at"] is None


async def test_a_token_without_the_scope_learns_nothing_from_a_malformed_request(make_client):
    reader = make_client(token=AUDIT)
    response = await reader.post("/api/v1/claims/EXP-2026-000001/posting", content=b"{not json",
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 403
    assert "fields" not in response.json()
    poster = make_client(token=BOOKER)
    response = await poster.get("/api/v1/claims/approved", params={"limit": 0, "cursor": "x"})
    assert response.status_code == 403
    assert "fields" not in response.json()


async def test_a_read_only_token_may_not_post(make_client, database):
    await approve_many(database, 1, 1)
    client = make_client(token=AUDIT)
    assert (await client.get("/api/v1/claims/approved")).status_code == 200
    response = await client.post("/api/v1/claims/EXP-2026-000001/posting",
                                 json={"ledger_ref": "GL-1"})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    batch = await client.post("/api/v1/postings", json={"postings": [
        {"number": "EXP-2026-000001", "ledger_ref": "GL-1"}]})
    assert batch.status_code == 403
    detail = await client.get("/api/v1/claims/EXP-2026-000001")
    assert detail.json()["posted_at"] is None


@pytest.mark.parametrize("path", READS)
async def test_a_post_only_token_may_not_read(make_client, path):
    response = await make_client(token=BOOKER).get(path)
    assert response.status_code == 403
    assert "claims:read" in response.json()["message"]


async def test_the_openapi_document_needs_no_token(make_client):
    response = await make_client(token=None).get("/api/v1/openapi.json")
    assert response.status_code == 200


async def test_every_operation_checks_the_token_before_anything_else(make_client):
    client = make_client(token=None)
    document = (await client.get("/api/v1/openapi.json")).json()
    operations = [(method, path) for path, item in document["paths"].items()
                  for method in item]
    assert len(operations) == 5
    for method, path in operations:
        url = path.replace("{number}", "not-a-number").replace("{sha256}", "x")
        response = await client.request(method, url, params={"limit": "x", "cursor": "é"},
                                        content=NOT_UTF8,
                                        headers={"Content-Type": "application/json"})
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == "unauthorized"
