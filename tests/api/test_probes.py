"""The finance API's /healthz, /readyz and /metrics: for monitoring, without a token, and
outside the finance system's OpenAPI document."""

from __future__ import annotations

from sqlalchemy import text

from storage.migrate import head_revision
from tests.scrape import samples, value


async def test_healthz_needs_no_token(make_client):
    response = await make_client(token=None).get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_says_the_database_and_schema_are_current_for_the_api(make_client):
    response = await make_client(token=None).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "migrations": "current", "role": "api"}


async def test_readyz_on_an_older_schema_is_503_and_names_it(make_client, database):
    client = make_client(token=None)
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        response = await client.get("/readyz")
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = :head"),
                                     {"head": head_revision()})
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "migrations": "behind", "role": "api",
                               "revision": "0001", "expected": head_revision()}


async def test_metrics_need_no_token_and_show_the_outbox(make_client):
    response = await make_client(token=None).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    page = samples(response.text)
    assert value(page, "crmbot_notifications", state="pending") == 0
    assert value(page, "crmbot_outbox_lag_seconds") == 0
    assert value(page, "crmbot_active") is not None


async def test_the_probes_are_not_in_the_openapi_document(make_client):
    document = (await make_client(token=None).get("/api/v1/openapi.json")).json()
    assert not {"/healthz", "/readyz", "/metrics"} & set(document["paths"])
