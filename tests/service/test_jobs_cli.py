"""`crmbot jobs list` and `crmbot jobs run` as an admin uses them (SQLite file, fixed clock)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import cli
from core import ports
from storage.backup import Manifest
from tests.conftest import EXAMPLE_ORG
from tests.example_org import SHANGHAI


@pytest.fixture
def at(monkeypatch):
    """Set the wall clock the command sees, on the team's clock (26 November is a Thursday)."""

    def set_clock(day: int, hour: int, minute: int = 0) -> None:
        moment = datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)
        monkeypatch.setattr(ports.SystemClock, "now", lambda self: moment)

    return set_clock


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/crm.db"\n',
                    encoding="utf-8")
    assert cli.main(["--config", str(path), "org", "import", str(EXAMPLE_ORG)]) == 0
    return path


def crmbot(config: Path, capsys, *args: str) -> tuple[int, list[str], str]:
    capsys.readouterr()
    code = cli.main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_jobs_list_shows_each_rule_and_its_next_run_in_the_teams_zone(config, at, capsys):
    at(26, 10)
    code, lines, _ = crmbot(config, capsys, "jobs", "list")
    assert code == 0
    assert lines == [
        "rule            enabled  at     last run              next run (Asia/Shanghai)",
        "plan_reminder   yes      18:00  never                 Thu 2026-11-26 18:00",
        "log_reminder    yes      19:00  never                 Thu 2026-11-26 19:00",
        "morning_digest  yes      09:00  never                 Fri 2026-11-27 09:00",
        "approval_sla    yes      -      never                 "
        "every 15 minutes while the bot runs",
        "follow_up       yes      10:00  never                 Fri 2026-11-27 10:00",
        "backup          no       02:00  never                 -",
    ]


def test_jobs_run_creates_the_reminders_once_and_the_list_shows_the_run(config, at, capsys):
    at(27, 18)  # Friday: the plans are for Monday
    assert crmbot(config, capsys, "jobs", "run", "plan_reminder")[1] == [
        "plan_reminder: 4 new notifications; the bot sends them while it runs"]
    at(27, 18, 5)
    assert crmbot(config, capsys, "jobs", "run", "plan_reminder")[1] == [
        "plan_reminder: nothing new (already created today, or nobody to remind)"]
    at(27, 20)
    lines = crmbot(config, capsys, "jobs", "list")[1]
    assert lines[1] == ("plan_reminder   yes      18:00  Fri 2026-11-27 18:05  "
                        "Mon 2026-11-30 18:00")


def test_jobs_run_on_a_day_off_says_so(config, at, capsys):
    at(28, 18)
    assert crmbot(config, capsys, "jobs", "run", "log_reminder")[1] == [
        "log_reminder: today is not a working day in the team's calendar, nothing to send"]


def test_jobs_run_refuses_an_unknown_rule_in_one_line(config, capsys):
    code, out, err = crmbot(config, capsys, "jobs", "run", "weekly_report")
    assert (code, out, err.splitlines()) == (2, [], [
        'crmbot: jobs run: unknown rule "weekly_report" (known: plan_reminder, '
        "log_reminder, morning_digest, approval_sla, follow_up, backup)"])


def test_jobs_run_follow_up_runs_and_the_list_shows_the_run(config, at, capsys):
    at(27, 10)
    assert crmbot(config, capsys, "jobs", "run", "follow_up")[1] == [
        "follow_up: nothing new (already created today, or nobody to remind)"]
    at(27, 11)
    assert crmbot(config, capsys, "jobs", "list")[1][5] == (
        "follow_up       yes      10:00  Fri 2026-11-27 10:00  Mon 2026-11-30 10:00")


def test_jobs_run_refuses_a_rule_the_config_turned_off(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/crm.db"\n'
                      "[reminders.morning_digest]\nenabled = false\n", encoding="utf-8")
    code, _, err = crmbot(config, capsys, "jobs", "run", "morning_digest")
    assert code == 2
    assert err == ("crmbot: jobs run: morning_digest is disabled "
                   "(reminders.morning_digest.enabled = false in the config)\n")


def test_the_installed_command_exits_2_on_an_unknown_rule(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMBOT_")}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("crmbot")), "jobs", "run", "nope"], cwd=tmp_path,
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith('crmbot: jobs run: unknown rule "nope"')
    assert "Traceback" not in result.stderr


def test_jobs_run_backup_makes_one_a_day_on_any_day_and_the_list_shows_it(tmp_path, at,
                                                                          capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/crm.db"\n'
                      f'[storage]\nphotos_dir = "{tmp_path}/photos"\n'
                      f'[reminders.backup]\nenabled = true\nfolder = "{tmp_path}/backups"\n',
                      encoding="utf-8")
    assert cli.main(["--config", str(config), "org", "import", str(EXAMPLE_ORG)]) == 0
    at(28, 2, 10)  # Saturday
    code, lines, _ = crmbot(config, capsys, "jobs", "run", "backup")
    folder = tmp_path / "backups" / "crm-20261127-1810"  # 02:10 in Shanghai, in UTC
    made = f"made {folder} ({Manifest.read(folder).contents})"
    assert (code, lines) == (0, [f"backup: {made}"])
    assert Manifest.read(folder).tables["members"] == 8
    at(28, 9)
    assert crmbot(config, capsys, "jobs", "run", "backup")[1] == [
        f"backup: already ran today at Sat 2026-11-28 02:10: {made}"]
    assert crmbot(config, capsys, "jobs", "list")[1][6:] == [
        "backup          yes      02:00  Sat 2026-11-28 02:10  Sun 2026-11-29 02:00",
        f"                {made}"]
    assert [p.name for p in (tmp_path / "backups").iterdir()] == [folder.name]


def test_jobs_run_backup_that_fails_says_why_once(tmp_path, at, capsys):
    (tmp_path / "backups").write_text("a file where the folder should be")
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/crm.db"\n'
                      f'[reminders.backup]\nenabled = true\nfolder = "{tmp_path}/backups"\n',
                      encoding="utf-8")
    at(26, 2)
    code, lines, err = crmbot(config, capsys, "jobs", "run", "backup")
    folder = tmp_path / "backups" / "crm-20261125-1800"
    assert (code, lines) == (0, [f"backup: no backup in {folder} (the log says why)"])
    assert err.count("backup failed: ") == 1
    assert f"{tmp_path}/backups" in err
