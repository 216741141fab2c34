"""Text as people type it, made safe to keep and to show."""

from __future__ import annotations

import re

# Control characters (C0 but tab and newline, DEL, C1) and lone surrogates: a client or a
# file can carry them, no person means them, and PostgreSQL refuses NUL in text outright.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """The text without control characters (a carriage return becomes a line break)."""
    return _UNWANTED.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def is_clean(text: str) -> bool:
    """Whether clean_text would leave the text as it is (quicker than comparing)."""
    return "\r" not in text and _UNWANTED.search(text) is None
