"""The bot's health listener as monitoring sees it: /healthz, /readyz and /metrics over HTTP."""

from __future__ import annotations

import socket
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text, update

from bootstrap import metrics
from bootstrap.config import HealthConfig
from bot import observe
from bot.health import start_health
from bot.stage import free_port
from core.config import ConfigError
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.inbox.notifications import publish
from storage.database import Database
from storage.migrate import head_revision
from storage.tables import NotificationRow
from tests.example_org import DEFAULTS, import_example
from tests.scrape import scrape, value


@pytest.fixture
async def listen(clock):
    """Starts the listener over a database on a free port; its base URL."""
    servers = []

    async def start(database: Database, role: str = "active") -> str:
        port = free_port()
        servers.append(await start_health(HealthConfig(port=port), database, lambda: role,
                                          clock=clock))
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        await server.stop()


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url)


async def set_revision(database: Database, revision: str) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = :revision"),
                                 {"revision": revision})


async def test_healthz_answers_ok(database, listen):
    response = await get(f"{await listen(database)}/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("role", ["active", "standby"])
async def test_readyz_on_a_current_database_is_ready_and_says_the_role(database, listen, role):
    response = await get(f"{await listen(database, role)}/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "migrations": "current", "role": role}


async def test_readyz_on_an_empty_database_says_the_migrations_are_behind(tmp_path, listen):
    database = Database.connect(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    try:
        response = await get(f"{await listen(database, 'starting')}/readyz")
    finally:
        await database.dispose()
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "migrations": "behind", "role": "starting",
                               "revision": "none", "expected": head_revision()}


@pytest.mark.parametrize(("revision", "state"), [("0001", "behind"), ("9999", "ahead")])
async def test_readyz_on_a_schema_older_or_newer_than_the_code_is_not_ready(
        database, listen, revision, state):
    base = await listen(database)
    await set_revision(database, revision)
    try:
        response = await get(f"{base}/readyz")
    finally:
        await set_revision(database, head_revision())
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "migrations": state, "role": "active",
                               "revision": revision, "expected": head_revision()}
    assert (await get(f"{base}/readyz")).status_code == 200


async def test_a_database_that_does_not_answer_is_not_ready_but_the_process_is_alive(listen):
    database = Database.connect(f"postgresql+asyncpg://crmbot@127.0.0.1:{free_port()}/crmbot")
    try:
        base = await listen(database, "standby")
        ready, alive = await get(f"{base}/readyz"), await get(f"{base}/healthz")
        page = await scrape(f"{base}/metrics")
    finally:
        await database.dispose()
    assert ready.status_code == 503
    assert ready.json() == {"database": "unreachable", "migrations": "unknown",
                            "role": "standby", "error": "cannot connect (Connection refused)"}
    assert alive.status_code == 200
    # The process's own metrics still; the outbox's only while the database answers.
    assert value(page, "crmbot_active") is not None
    assert value(page, "crmbot_outbox_lag_seconds") is None


async def test_metrics_show_the_outbox_by_state_and_how_long_the_oldest_due_has_waited(
        database, clock, listen):
    await import_example(database, clock)
    async with database.uow() as uow:
        carol = (await uow.members.by_key("carol")).id
        start = clock.now()
        for minutes, key in [(0, "a"), (3, "b"), (4, "c"), (5, "d")]:
            await publish(uow, NewNotification(key, NotificationKind.SYSTEM, {"text": key},
                                               member_id=carol),
                          now=start + timedelta(minutes=minutes), settings=DEFAULTS)
        await publish(uow, NewNotification("later", NotificationKind.SYSTEM, {"text": "later"},
                                           member_id=carol, due_at=start + timedelta(hours=1)),
                      now=start, settings=DEFAULTS)
        for key, state in [("a", "delivered"), ("d", "failed")]:
            await uow.session.execute(update(NotificationRow).where(NotificationRow.key == key)
                                      .values(state=state))
        await uow.commit()
    clock.advance(minutes=10)
    page = await scrape(f"{await listen(database)}/metrics")
    states = {state: value(page, "crmbot_notifications", state=state)
              for state in ("pending", "failed", "skipped", "delivered")}
    # Delivered ones only grow: not counted at every scrape.
    assert states == {"pending": 3, "failed": 1, "skipped": 0, "delivered": None}
    # b has waited since minute 3; "later" is not due.
    assert value(page, "crmbot_outbox_lag_seconds") == 7 * 60


async def test_each_handled_update_is_counted_by_kind_with_its_time(database, listen):
    base = await listen(database)
    before = await scrape(f"{base}/metrics")
    observe.finished("callback_query", 0.3, "committed")
    after = await scrape(f"{base}/metrics")

    def moved(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert moved("crmbot_updates_handled_total", kind="callback_query") == 1
    assert moved("crmbot_handler_seconds_count", kind="callback_query") == 1
    assert moved("crmbot_handler_seconds_bucket", kind="callback_query", le="0.5") == 1
    assert moved("crmbot_handler_seconds_bucket", kind="callback_query", le="0.25") == 0


async def test_crmbot_active_says_whether_this_process_is_the_active_one(database, listen):
    base = await listen(database)
    metrics.set_active(True)
    assert value(await scrape(f"{base}/metrics"), "crmbot_active") == 1
    metrics.set_active(False)
    assert value(await scrape(f"{base}/metrics"), "crmbot_active") == 0


async def test_port_0_listens_nowhere(database):
    server = await start_health(HealthConfig(port=0), database, lambda: "active")
    await server.stop()


async def test_a_port_in_use_is_refused_in_one_line(database):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as refused:
            await start_health(HealthConfig(port=port), database, lambda: "active")
    assert str(refused.value) == (f"health.port: cannot listen on 127.0.0.1:{port} "
                                  "(Address already in use)")
