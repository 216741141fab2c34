"""Approvals: the claims waiting for the member, decided one by one or several at once."""

from __future__ import annotations

from fastapi import APIRouter

from bot.i18n import N_  # noqa: F401

router = APIRouter()
STRINGS: tuple[str, ...] = ()
