"""The `crmbot` command with a bad config: exit code 2, one line naming the key, no traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import TerminalProgress

ROOT = Path(__file__).resolve().parents[2]
CRMBOT = Path(sys.executable).with_name("crmbot")
EXAMPLE_ORG = ROOT / "examples" / "org.toml"


def crmbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMBOT_")}
    return subprocess.run([str(CRMBOT), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def assert_refused_naming(result: subprocess.CompletedProcess[str], key: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"crmbot: {key}: "), result.stderr


@pytest.fixture
def bad_mode(tmp_path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text('[telegram]\nmode = "carrier-pigeon"\n', encoding="utf-8")
    return path


@pytest.fixture
def bad_zone(tmp_path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text('[org]\ntimezone = "Mars/Olympus_Mons"\n', encoding="utf-8")
    return path


def test_db_upgrade_with_a_bad_config_names_the_key(bad_mode, tmp_path):
    assert_refused_naming(crmbot("db", "upgrade", "--config", str(bad_mode), cwd=tmp_path),
                          "telegram.mode")


def test_org_import_with_a_bad_config_names_the_key(bad_zone, tmp_path):
    result = crmbot("org", "import", "--config", str(bad_zone), str(EXAMPLE_ORG), cwd=tmp_path)
    assert_refused_naming(result, "org.timezone")
    assert not (tmp_path / "data").exists(), "nothing is written when the config is refused"


def test_config_given_before_the_subcommand_is_used(bad_mode, tmp_path):
    assert_refused_naming(crmbot("--config", str(bad_mode), "db", "upgrade", cwd=tmp_path),
                          "telegram.mode")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_import_shows_a_bar_per_phase_on_a_terminal_and_nothing_elsewhere():
    terminal, piped = Terminal(), io.StringIO()
    for stream in (terminal, piped):
        with TerminalProgress(stream).phase("writing customers", 3000) as advance:
            advance(1000)
            advance(2000)
    assert "writing customers" in terminal.getvalue()
    assert "3.00k/3.00k" in terminal.getvalue()
    assert piped.getvalue() == ""
