"""The OpenAPI document is valid, declares its security, and matches what is served."""

from __future__ import annotations

import pytest

from tests.api.seed import FIRST_DECISION, add_claims, add_event, add_receipt, claim_row

OPERATIONS = {("get", "/api/v1/claims/approved"), ("get", "/api/v1/claims/{number}"),
              ("get", "/api/v1/claims/{number}/receipts/{sha256}"),
              ("post", "/api/v1/claims/{number}/posting"), ("post", "/api/v1/postings")}


@pytest.fixture
async def document(client) -> dict:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_operation_needs_a_bearer_token(document):
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    served = {(method, path) for path, item in document["paths"].items() for method in item}
    assert served == OPERATIONS
    for method, path in OPERATIONS:
        operation = document["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"401", "403"} <= set(operation["responses"])


def test_the_document_validates_against_the_openapi_specification(document):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)


async def test_served_claims_match_their_schemas(client, database, document):
    schema_validator = pytest.importorskip("openapi_schema_validator")
    await add_claims(database, [claim_row(1, FIRST_DECISION),
                                claim_row(2, FIRST_DECISION, unit=None, category=None,
                                          posted_at=FIRST_DECISION, ledger_ref="GL-1")])
    await add_receipt(database, 1, "e" * 64)
    await add_event(database, 1, "approved", None, FIRST_DECISION)

    def check(body: object, name: str) -> None:
        schema = {"$ref": f"#/components/schemas/{name}",
                  "components": document["components"]}
        schema_validator.validate(body, schema, cls=schema_validator.OAS31Validator)

    check((await client.get("/api/v1/claims/approved")).json(), "ClaimPage")
    check((await client.get("/api/v1/claims/EXP-2026-000001")).json(), "ClaimRecord")
    check((await client.post("/api/v1/claims/EXP-2026-000001/posting",
                             json={"ledger_ref": "GL-9"})).json(), "Posting")
    check((await client.post("/api/v1/claims/EXP-2026-000001/posting",
                             json={"ledger_ref": "GL-8"})).json(), "Error")
    check((await client.post("/api/v1/postings", json={"postings": [
        {"number": "EXP-2026-000002", "ledger_ref": "GL-1"}]})).json(), "BatchOut")
