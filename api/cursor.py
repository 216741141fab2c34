"""Opaque page cursors: a position in decision order, signed, with the time it was issued."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

from core.domain.expenses.finance import Position

# A client that polls at least daily never meets this; one that comes back later starts
# again from its own records of what it posted.
CURSOR_TTL = timedelta(hours=24)
# API processes on other machines issue cursors by their own clocks.
CLOCK_SKEW = timedelta(minutes=5)
# expense_claims.id is an INTEGER: 32 bits on PostgreSQL.
MAX_CLAIM_ID = 2**31 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# 2: signed with the server's cursor secret (1 was signed with a key derived from the token).
_VERSION = 2
_START_KEYS = {"v", "iat"}
_POSITION_KEYS = _START_KEYS | {"at", "id"}


class CursorError(Exception):
    """A cursor this server did not issue (`expired` False) or issued too long ago (True)."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("cursor expired" if expired else "invalid cursor")
        self.expired = expired


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _whole(value: object, low: int, high: int) -> int:
    """`value` if it is an integer from low to high (JSON's true is not one)."""
    if type(value) is not int or not low <= value <= high:
        raise CursorError(expired=False)
    return value


class CursorCodec:
    """Signs one client's cursors with a key only this server holds (see `cursor_key`)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _signature(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def encode(self, position: Position | None, issued_at: datetime) -> str:
        payload: dict[str, int] = {"v": _VERSION, "iat": _micros(issued_at)}
        if position is not None:
            payload |= {"at": _micros(position.decided_at), "id": position.claim_id}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("ascii"))
        return f"{body}.{self._signature(body)}"

    def decode(self, cursor: str, now: datetime) -> Position | None:
        """The position a cursor holds; CursorError if tampered with, foreign or too old."""
        body, dot, signature = cursor.partition(".")
        if not dot or not body.isascii() or not hmac.compare_digest(
                signature.encode("ascii", "replace"), self._signature(body).encode("ascii")):
            raise CursorError(expired=False)
        try:
            payload = json.loads(_unb64(body))
        except (binascii.Error, ValueError):
            raise CursorError(expired=False) from None
        # Signed by this server, yet every field is still bounded before it reaches a query:
        # a leaked secret must not turn into a server error.
        if not isinstance(payload, dict) or set(payload) not in (_START_KEYS, _POSITION_KEYS) \
                or payload["v"] != _VERSION or type(payload["v"]) is not int:
            raise CursorError(expired=False)
        issued_at = _whole(payload["iat"], 0, _micros(now + CLOCK_SKEW))
        position = None
        if "at" in payload:
            position = Position(_EPOCH + _whole(payload["at"], 0, issued_at) * _MICROSECOND,
                                _whole(payload["id"], 1, MAX_CLAIM_ID))
        if _micros(now) - issued_at > CURSOR_TTL // _MICROSECOND:
            raise CursorError(expired=True)
        return position


def cursor_key(secret: bytes, client: str) -> bytes:
    """The key of one client's cursors: the server's secret, bound to the token's name.

    Another client's cursor is refused; a rotated token under the same name keeps its cursors.
    """
    return hmac.new(secret, b"crmbot finance api cursor\x00" + client.encode("utf-8"),
                    hashlib.sha256).digest()
