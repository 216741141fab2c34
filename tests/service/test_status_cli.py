"""`crmbot status` as an operator runs it: facts from the database, on each backend."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from bot import cli
from bot.stage import free_port
from core import ports
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.domain.inbox.reminders import ReminderRule
from core.inbox.notifications import publish
from core.inbox.reminders import RULE_NAMES
from storage.database import Database
from storage.migrate import head_revision
from storage.tables import ActiveProcessRow, NotificationRow
from tests.conftest import BACKENDS, FixedClock, filled_database_url, run_aside
from tests.example_org import DEFAULTS, SHANGHAI, import_example


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


NOW = shanghai(26, 10)  # Thursday


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A migrated database holding the example organisation."""
    return filled_database_url(request, tmp_path,
                               lambda database: import_example(database, FixedClock(NOW)))


def write_config(folder: Path, url: str) -> Path:
    path = folder / "config.toml"
    path.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    return path


def status(config: Path, capsys, monkeypatch) -> tuple[int, list[str], str]:
    monkeypatch.setattr(ports.SystemClock, "now", lambda self: NOW)
    capsys.readouterr()
    code = cli.main(["--config", str(config), "status"])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


async def a_working_day(url: str) -> None:
    """An active process, an outbox with a backlog, and a rule that ran yesterday."""
    database = Database.connect(url)
    try:
        async with database.uow() as uow:
            carol = (await uow.members.by_key("carol")).id
            for key, due in [("sent", shanghai(26, 9)), ("old", shanghai(26, 9, 53)),
                             ("new", shanghai(26, 9, 58)), ("refused", shanghai(26, 9, 50)),
                             ("tonight", shanghai(26, 20))]:
                await publish(uow, NewNotification(key, NotificationKind.SYSTEM, {"text": key},
                                                   member_id=carol, due_at=due),
                              now=shanghai(26, 9), settings=DEFAULTS)
            for key, state in [("sent", "delivered"), ("refused", "failed")]:
                await uow.session.execute(update(NotificationRow).where(
                    NotificationRow.key == key).values(state=state))
            await uow.session.execute(insert(ActiveProcessRow).values(
                id=1, worker="crm-1:4242", since=shanghai(26, 8, 30),
                seen_at=shanghai(26, 9, 59)))
            await uow.rules.save(ReminderRule("plan_reminder", True, "18:00", {},
                                              shanghai(25, 18, 0)))
            await uow.rules.save(ReminderRule("follow_up", False, "10:00", {}))
            await uow.commit()
    finally:
        await database.dispose()


def test_status_shows_the_active_process_the_outbox_and_each_rules_last_run(
        database_url, tmp_path, capsys, monkeypatch):
    run_aside(a_working_day(database_url))
    code, lines, err = status(write_config(tmp_path, database_url), capsys, monkeypatch)
    assert (code, err) == (0, "")
    assert lines[:7] == [
        "time zone: Asia/Shanghai",
        f"database schema: current ({head_revision()})",
        "active process: crm-1:4242, since Thu 2026-11-26 08:30, "
        "last seen Thu 2026-11-26 09:59 (1 min ago)",
        "outbox due now: 2, the oldest waiting 7 min (due Thu 2026-11-26 09:53)",
        "outbox scheduled for later: 1",
        "outbox failed (refused for good): 1",
        "outbox skipped (recipient unreachable or no longer true): 0"]
    expected = {name: f"rule {name}: never run" for name in RULE_NAMES}
    expected["plan_reminder"] = "rule plan_reminder: last run Wed 2026-11-25 18:00"
    expected["follow_up"] = "rule follow_up: never run, off"
    assert lines[7:] == list(expected.values())


def test_status_without_an_active_process_or_a_backlog_says_so(database_url, tmp_path,
                                                               capsys, monkeypatch):
    code, lines, _ = status(write_config(tmp_path, database_url), capsys, monkeypatch)
    assert code == 0
    assert lines[2:4] == ["active process: none", "outbox due now: 0"]


def test_status_on_an_empty_database_says_to_upgrade_and_changes_nothing(tmp_path, capsys,
                                                                        monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path}/crm.db"
    code, lines, _ = status(write_config(tmp_path, url), capsys, monkeypatch)
    assert (code, lines) == (1, [f"database schema: behind (empty); this crmbot expects "
                                 f"{head_revision()}: run `crmbot db upgrade`"])
    code, lines, _ = status(write_config(tmp_path, url), capsys, monkeypatch)
    assert lines[0].startswith("database schema: behind (empty)")


def test_status_when_the_database_does_not_answer_is_one_line(tmp_path, capsys, monkeypatch):
    url = f"postgresql+asyncpg://crmbot@127.0.0.1:{free_port()}/crmbot"
    code, lines, err = status(write_config(tmp_path, url), capsys, monkeypatch)
    assert (code, lines) == (2, [])
    assert err == f"crmbot: database.url {url}: cannot connect (Connection refused)\n"
