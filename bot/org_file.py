"""The org file of a Telegram team: members name their accounts by `telegram_id` or username."""

from __future__ import annotations

import re

from core.domain.org import org_file
from core.domain.org.org_file import AccountFormat, OrgDocument

# Telegram promises user ids of at most 52 significant bits; usernames are 5-32 characters.
TELEGRAM_ACCOUNTS = AccountFormat(
    messenger="Telegram", id_field="telegram_id", max_id=2**52 - 1,
    username=re.compile(r"^@?[A-Za-z][A-Za-z0-9_]{4,31}$"),
    username_rule="5-32 letters, digits or _")


def parse_org_file(data: dict) -> OrgDocument:
    """Check a parsed TOML org file whose members are Telegram accounts."""
    return org_file.parse_org_file(data, TELEGRAM_ACCOUNTS)
