"""The example organisation (examples/org.toml) the tests run with, and its team's clock."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.org_file import parse_org_file
from core.domain.org.model import OrgSettings
from core.org.membership import OrgService
from storage.database import Database
from tests.conftest import EXAMPLE_ORG

# The config's [org] settings; the file's own [org] section overrides them on import.
DEFAULTS = OrgSettings("Defaults Inc.", "UTC", "EUR", "en")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def example() -> dict:
    """The example org file, as read from TOML (a fresh copy each call)."""
    return tomllib.loads(EXAMPLE_ORG.read_text(encoding="utf-8"))


async def import_example(database: Database, clock) -> None:
    await OrgService(database.uow, clock, DEFAULTS).import_org(parse_org_file(example()))


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026 on the team's clock (the 26th is a Thursday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


async def department_id(database: Database, key: str) -> int:
    async with database.uow(read_only=True) as uow:
        return (await uow.departments.by_key(key)).id


async def make_dana_head_finance(database: Database) -> None:
    """Dana, who heads sales, heads finance too."""
    async with database.uow() as uow:
        dana = await uow.members.by_key("dana")
        finance = await uow.departments.by_key("finance")
        await uow.departments.update(replace(finance, manager_id=dana.id))
        await uow.commit()
