"""A failure inside says so and nothing more: no traceback, no SQL, no paths, no tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.api.conftest import LEDGER
from tests.api.seed import FIRST_DECISION, add_claims, add_receipt, claim_row

GENERIC = {"error": "internal_error", "message": "the server could not answer; try again later"}


class BrokenDisk:
    def read(self, sha256: str) -> bytes:
        raise PermissionError(13, "Permission denied", f"/srv/crmbot/photos/{sha256}")

    def watermark(self, data: bytes, lines: list[str]) -> bytes:
        return data


async def test_a_storage_failure_is_a_plain_500(make_client, database):
    await add_claims(database, [claim_row(1, FIRST_DECISION)])
    await add_receipt(database, 1, "f" * 64)
    client = make_client(photos=BrokenDisk(), raise_errors=False)
    response = await client.get("/api/v1/claims/EXP-2026-000001/receipts/" + "f" * 64)
    assert response.status_code == 500
    assert response.json() == GENERIC


async def test_a_database_failure_leaks_no_sql(make_client, database):
    if not database.is_sqlite:
        pytest.skip("renaming a table of the shared PostgreSQL test database would disturb "
                    "other test runs")
    await add_claims(database, [claim_row(1, FIRST_DECISION)])
    async with database.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE claim_events RENAME TO claim_events_gone"))
    try:
        client = make_client(raise_errors=False)
        response = await client.get("/api/v1/claims/EXP-2026-000001")
        assert response.status_code == 500
        assert response.json() == GENERIC
        assert LEDGER not in response.text
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(text(
                "ALTER TABLE claim_events_gone RENAME TO claim_events"))
