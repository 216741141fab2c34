"""Bearer tokens from the config, each with its scopes."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from api.cursor import cursor_key
from core.config import ApiTokenConfig

READ = "claims:read"
POST = "claims:post"


@dataclass(frozen=True)
class Client:
    """Who is calling: the token's name (for the audit log) and what it may do."""

    name: str
    scopes: frozenset[str]
    cursor_key: bytes


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class Tokens:
    def __init__(self, tokens: list[ApiTokenConfig], cursor_secret: bytes) -> None:
        self._known = [(_digest(t.token.get_secret_value()),
                        Client(t.name, frozenset(t.scopes), cursor_key(cursor_secret, t.name)))
                       for t in tokens]

    def find(self, presented: str | None) -> Client | None:
        """The client behind a token; compares with every token in constant time."""
        if not presented:
            return None
        digest = _digest(presented)
        found = None
        for known, client in self._known:
            # No early exit: how long this takes says nothing about which token matched.
            if hmac.compare_digest(digest, known):
                found = client
        return found
