"""Fixtures of the service tests: the example organisation in the test's database."""

from __future__ import annotations

import pytest

from tests.example_org import import_example


@pytest.fixture
async def org(database, clock):
    """The test's database with the example organisation imported."""
    await import_example(database, clock)
    return database


@pytest.fixture
async def ids(org) -> dict[str, int]:
    """Member ids by key."""
    async with org.uow(read_only=True) as uow:
        return {m.key: m.id for m in await uow.members.all()}
