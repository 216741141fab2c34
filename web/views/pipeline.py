"""The pipeline: the board by stage, the funnel, an opportunity's card, the goals."""

from __future__ import annotations

from fastapi import APIRouter

from bot.i18n import N_  # noqa: F401

router = APIRouter()
STRINGS: tuple[str, ...] = ()
