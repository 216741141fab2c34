"""(being written)"""

from __future__ import annotations


def handlers() -> list:
    return []
