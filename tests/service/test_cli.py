"""`crmbot org import` and `crmbot db upgrade` as an admin runs them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.stage import free_port
from tests.conftest import EXAMPLE_ORG, PG_URL

CRMBOT = [sys.executable, "-m", "bot.cli"]


def crmbot(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CRMBOT, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin",
                                            "PYTHONPATH": str(Path(__file__).parents[2])})


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return list(connection.iterdump())


def write_config(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{folder}/crm.db"\n')
    return config


def test_org_import_twice_gives_the_same_database(tmp_path):
    config = write_config(tmp_path)
    first = crmbot("--config", str(config), "org", "import", str(EXAMPLE_ORG), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "members      created    8" in first.stdout
    before = dump(tmp_path / "crm.db")
    second = crmbot("org", "import", "--config", str(config), str(EXAMPLE_ORG), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "nothing to change" in second.stdout
    assert dump(tmp_path / "crm.db") == before


def test_org_file_with_one_bad_entry_is_refused_whole(tmp_path):
    config = write_config(tmp_path)
    assert crmbot("--config", str(config), "db", "upgrade", cwd=tmp_path).returncode == 0
    before = dump(tmp_path / "crm.db")
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE_ORG.read_text(encoding="utf-8").replace(
        'telegram_id = 2003', 'telegram_id = "two thousand"'), encoding="utf-8")
    result = crmbot("--config", str(config), "org", "import", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "crmbot: members[sam].telegram_id: must be a whole number"
    assert "Traceback" not in result.stderr
    assert dump(tmp_path / "crm.db") == before


def test_reference_to_a_missing_department_is_refused_whole(tmp_path):
    config = write_config(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE_ORG.read_text(encoding="utf-8").replace(
        'department = "west"\nroles = ["rep"]\n\n[[members]]\nkey = "mei"',
        'department = "atlantis"\nroles = ["rep"]\n\n[[members]]\nkey = "mei"'),
        encoding="utf-8")
    result = crmbot("--config", str(config), "org", "import", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == 'crmbot: members[sam].department: unknown department "atlantis"'
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        assert connection.execute("select count(*) from members").fetchone() == (0,)


# A database nobody can reach or open: one line naming it (password hidden), exit code 2.

TOKENS = '[telegram]\ntoken = "123456:test-token"\n' \
         '[api]\ntokens = [{ name = "ledger", token = "a-long-random-secret-string" }]\n' \
         'cursor_secret = "a-server-secret-of-at-least-32-characters"\n'
COMMANDS = {"run": ["run"], "db upgrade": ["db", "upgrade"], "api": ["api"],
            "org import": ["org", "import", str(EXAMPLE_ORG)]}


def refused_in_one_line(folder: Path, url: str, command: str) -> str:
    config = folder / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n{TOKENS}')
    result = crmbot("--config", str(config), *COMMANDS[command], cwd=folder)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "s3cret" not in result.stderr
    return result.stderr.strip()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_postgres_nobody_listens_on_is_one_line(tmp_path, command):
    port = free_port()
    said = refused_in_one_line(
        tmp_path, f"postgresql+asyncpg://crm:s3cret@127.0.0.1:{port}/crm", command)
    assert said == (f"crmbot: database.url postgresql+asyncpg://crm:***@127.0.0.1:{port}/crm: "
                    "cannot connect (Connection refused)")


@pytest.mark.parametrize("command", ["run", "api"])
def test_an_unresolvable_database_host_is_one_line(tmp_path, command):
    said = refused_in_one_line(
        tmp_path, "postgresql+asyncpg://crm:s3cret@nohost.invalid:5432/crm", command)
    assert said.startswith("crmbot: database.url postgresql+asyncpg://crm:***@nohost.invalid"
                           ":5432/crm: cannot connect: host not found")


@pytest.mark.skipif(not PG_URL, reason="needs CRMBOT_TEST_DATABASE_URL (PostgreSQL)")
@pytest.mark.parametrize("command", ["db upgrade", "org import"])
def test_a_database_name_the_server_does_not_have_is_one_line(tmp_path, command):
    url = make_url(PG_URL).set(database="crmbot_no_such_database", password="s3cret")
    said = refused_in_one_line(tmp_path, url.render_as_string(hide_password=False), command)
    assert said.endswith('database "crmbot_no_such_database" does not exist')
    assert url.render_as_string(hide_password=True) in said


@pytest.mark.parametrize("command", ["db upgrade", "run"])
def test_sqlite_where_no_folder_can_be_made_is_one_line(tmp_path, command):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data folder should be")
    said = refused_in_one_line(tmp_path, f"sqlite+aiosqlite:///{blocker}/crm.db", command)
    assert said == (f"crmbot: database.url sqlite+aiosqlite:///{blocker}/crm.db: "
                    f"cannot create the folder {blocker} (File exists)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_sqlite_in_a_read_only_folder_is_one_line(tmp_path):
    folder = tmp_path / "locked-away"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        said = refused_in_one_line(tmp_path, f"sqlite+aiosqlite:///{folder}/crm.db",
                                   "db upgrade")
    finally:
        folder.chmod(0o755)
    assert said.endswith("crm.db: unable to open database file")


def test_sqlite_locked_by_another_process_is_one_line(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/crm.db?timeout=0.2"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    assert crmbot("--config", str(config), "db", "upgrade", cwd=tmp_path).returncode == 0
    holder = sqlite3.connect(tmp_path / "crm.db", isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        said = refused_in_one_line(tmp_path, url, "org import")
    finally:
        holder.close()
    assert said == f"crmbot: database.url {url}: database is locked"
