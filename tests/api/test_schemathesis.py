"""Schemathesis drives the finance API in-process with every check: a short, seeded run.

Whatever the OpenAPI document allows must be answered as it documents, anything else
refused with a 4xx, and nothing may give a 500.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.formats import unregister_string_format

from api.app import create_app
from api.cursor import MAX_CLAIM_ID, CursorCodec, cursor_key
from core.domain.expenses.finance import Position
from storage.database import Database
from tests.api.conftest import CURSOR_SECRET, LEDGER, api_config
from tests.api.seed import FIRST_DECISION, add_claims, claim_row, seed_org
from tests.conftest import BACKENDS, FixedClock, filled_database_url

SEED = 20261126
EXAMPLES = 25


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A migrated database holding the org and a few approved claims, one of them posted."""

    async def fill(database) -> None:
        await seed_org(database)
        await add_claims(database, [
            claim_row(i, FIRST_DECISION + timedelta(minutes=i)) for i in range(1, 6)] + [
            claim_row(6, FIRST_DECISION, posted_at=FIRST_DECISION, ledger_ref="GL-6"),
            claim_row(7, None, status="pending")])

    return filled_database_url(request, tmp_path, fill)


def cursors(clock: FixedClock) -> st.SearchStrategy[str]:
    """Cursors this server could have handed the ledger token: the `cursor` format."""
    codec = CursorCodec(cursor_key(CURSOR_SECRET.encode(), "ledger"))
    now = clock.now()
    positions = st.builds(Position, st.datetimes(
        min_value=FIRST_DECISION.replace(tzinfo=None) - timedelta(days=400),
        max_value=now.replace(tzinfo=None) - timedelta(minutes=1),
        timezones=st.just(now.tzinfo)), st.integers(1, MAX_CLAIM_ID))
    issued = st.integers(0, 24 * 3600).map(lambda seconds: now - timedelta(seconds=seconds))
    return st.builds(codec.encode, st.none() | positions, issued)


def failures(schema) -> list[str]:
    found = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        found.append(f"{failure.code} {failure.operation}: {failure.title}\n"
                                     f"{failure.message}\n{check.failure_info.code_sample}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"error: {event}")
    return found


def test_the_api_passes_every_schemathesis_check(database_url, tmp_path):
    clock = FixedClock()
    database = Database.connect(database_url)
    app = create_app(api_config(tmp_path), database, clock=clock)

    @asynccontextmanager
    async def lifespan(_app):
        # The engine's connections live on schemathesis' event loop: closed there too.
        yield
        await database.dispose()

    app.router.lifespan_context = lifespan
    schemathesis.openapi.format("cursor", cursors(clock))
    config = SchemathesisConfig.from_dict({
        "seed": SEED, "checks": {"enabled": True},
        # No example database: the run is the seed's alone, wherever and whenever it runs.
        "generation": {"max-examples": EXAMPLES, "database": "none"},
        "headers": {"Authorization": f"Bearer {LEDGER}"}})
    try:
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, config=config)
        found = failures(schema)
    finally:
        shutdown_lifespans()
        unregister_string_format("cursor")
    assert found == [], "\n\n".join(found)
