"""Times are stored in UTC and shown in the team's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_datetime(moment: datetime, timezone: str) -> str:
    """2026-12-03 18:30 (in the team's zone, which is named once on settings screens)."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
