"""(being written)"""

from __future__ import annotations

from telegram.ext import Application


def handlers(application: Application) -> list:
    """The /expense conversation and what must run before the catch-alls."""
    return []
