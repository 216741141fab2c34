"""`crmbot org import` and `crmbot db upgrade` as an admin runs them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLE_ORG

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
