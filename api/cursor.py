"""Opaque page cursors: a position in decision order, signed, with the time it was issued."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

from core.domain.finance import Position

# A client that polls at least daily never meets this; one that comes back later starts
# again from its own records of what it posted.
CURSOR_TTL = timedelta(hours=24)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_VERSION = 1


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


class CursorCodec:
    """Signs cursors with a key only this server holds (derived from the client's token)."""

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
        """The position a cursor holds; CursorError if tampered with or too old."""
        body, dot, signature = cursor.partition(".")
        if not dot or not body.isascii() or not hmac.compare_digest(
                signature.encode("ascii", "replace"), self._signature(body).encode("ascii")):
            raise CursorError(expired=False)
        try:
            payload = json.loads(_unb64(body))
            issued_at = _EPOCH + payload["iat"] * _MICROSECOND
            position = (Position(_EPOCH + payload["at"] * _MICROSECOND, int(payload["id"]))
                        if "at" in payload else None)
        except (binascii.Error, ValueError, KeyError, TypeError, OverflowError):
            # Signed by us yet unreadable: only an older format could be.
            raise CursorError(expired=False) from None
        if payload.get("v") != _VERSION:
            raise CursorError(expired=False)
        if now - issued_at > CURSOR_TTL:
            raise CursorError(expired=True)
        return position


def cursor_key(token: str) -> bytes:
    """The signing key of one client's cursors; a rotated token retires its cursors."""
    return hmac.new(token.encode("utf-8"), b"crmbot finance api cursor", hashlib.sha256).digest()
