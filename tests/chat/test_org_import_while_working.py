"""`crmbot org import` of a company's file, run by an admin while the team works: check-ins
and approvals get their usual answers, and nobody is told that something went wrong."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import tomli_w

from storage.tables import CustomerRow, MemberRow
from tests.chat.conftest import answers, count, texts
from tests.chat.test_approvals import filed_card
from tests.chat.test_checkin import check_in
from tests.example_org import example

pytestmark = pytest.mark.usefixtures("same_time")

CUSTOMERS = 30_000
REPS = 1_000


def company_file(folder: Path) -> Path:
    """The example org grown to a company: many more reps and customers."""
    data = example()
    data["members"] += [{"key": f"rep{n}", "name": f"Rep {n}", "telegram_id": 600_000 + n,
                         "department": "east"} for n in range(REPS)]
    data["customers"] += [{"key": f"shop{n}", "name": f"Shop {n}",
                           "lat": 22.0 + (n % 400) / 100, "lon": 113.0 + (n // 400) / 100}
                          for n in range(CUSTOMERS)]
    path = folder / "company.toml"
    with path.open("wb") as handle:
        tomli_w.dump(data, handle)
    return path


async def start_import(database, folder: Path) -> asyncio.subprocess.Process:
    """`crmbot org import` in a process of its own against the bot's SQLite file."""
    url = database.engine.url.render_as_string(hide_password=False)
    config = folder / "import.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[org]\ntimezone = "Asia/Shanghai"\n')
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), "org", "import",
        str(company_file(folder)), cwd=Path(__file__).parents[2],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def until_writing(database, process) -> None:
    """Until the import has written its first customers (or ended), two minutes at most."""
    for _look in range(2400):
        if process.returncode is not None or await count(database, CustomerRow) > 4:
            return
        await asyncio.sleep(0.05)


async def test_a_rep_checks_in_and_a_manager_approves_while_the_org_imports(
        stage, cast, org_database, clock, tmp_path):
    _claim, card = await filed_card(stage, cast, org_database, clock)
    process = await start_import(org_database, tmp_path)
    await until_writing(org_database, process)
    importing = process.returncode is None
    checked_in = await check_in(stage, cast.carol)
    approved = await stage.act(cast.erin.press(card, "✅ Approve"))
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert importing, "the import ended before anyone acted"
    assert texts(checked_in)[0].startswith("📍 Checked in at Harbor Logistics")
    assert answers(approved) == ["✅ You approved it. Finance checks it next."]
    assert "went wrong" not in str(stage.standin.transcript())
    assert "busy" not in str(stage.standin.transcript())
    assert b"customers    created 30000" in out
    assert await count(org_database, CustomerRow) == 4 + CUSTOMERS
    assert await count(org_database, MemberRow) == 8 + REPS
