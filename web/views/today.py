"""Today: the team's people, their check-ins on a map, and one person's month and days."""

from __future__ import annotations

from fastapi import APIRouter

from bot.i18n import N_  # noqa: F401

router = APIRouter()
STRINGS: tuple[str, ...] = ()
