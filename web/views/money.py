"""Budgets and statistics: usage per unit and category, the breakdowns, the export."""

from __future__ import annotations

from fastapi import APIRouter

from bot.i18n import N_  # noqa: F401

router = APIRouter()
STRINGS: tuple[str, ...] = ()
