"""Cursors: opaque, signed, expiring; and the posting rule they feed (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.cursor import CURSOR_TTL, CursorCodec, CursorError, cursor_key
from core.domain.errors import DomainError
from core.domain.finance import Position, PostingState, check_ledger_ref, existing_posting

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
codec = CursorCodec(cursor_key("ledger-token-0123456789abcdef"))


def test_a_cursor_gives_back_its_position_to_the_microsecond():
    position = Position(datetime(2026, 11, 20, 8, 0, 0, 123457, tzinfo=UTC), 42)
    cursor = codec.encode(position, NOW)
    assert codec.decode(cursor, NOW + CURSOR_TTL) == position
    assert codec.decode(codec.encode(None, NOW), NOW) is None
    assert cursor.isascii() and "=" not in cursor and "+" not in cursor and "/" not in cursor


def test_a_cursor_expires_after_a_day():
    cursor = codec.encode(Position(NOW, 1), NOW)
    with pytest.raises(CursorError) as refused:
        codec.decode(cursor, NOW + CURSOR_TTL + timedelta(microseconds=1))
    assert refused.value.expired


def test_a_cursor_signed_with_another_key_is_invalid():
    other = CursorCodec(cursor_key("audit-token-0123456789abcdefgh"))
    with pytest.raises(CursorError) as refused:
        other.decode(codec.encode(Position(NOW, 1), NOW), NOW)
    assert not refused.value.expired


def test_even_an_expired_forgery_is_invalid_rather_than_expired():
    cursor = codec.encode(Position(NOW, 1), NOW - timedelta(days=30))
    body, _, signature = cursor.partition(".")
    with pytest.raises(CursorError) as refused:
        codec.decode(f"{body}.{signature.swapcase()}", NOW)
    assert not refused.value.expired


def state(status: str = "approved", ref: str | None = None) -> PostingState:
    return PostingState(1, "EXP-2026-000001", status, NOW if ref else None, ref)


def test_posting_decisions():
    assert existing_posting(state(), "GL-1") is None
    assert existing_posting(state(ref="GL-1"), "GL-1").posted_at == NOW
    for current, code in [(state(ref="GL-1"), "claim_posted_elsewhere"),
                          (state("pending"), "claim_not_approved"),
                          (None, "claim_not_found")]:
        with pytest.raises(DomainError) as refused:
            existing_posting(current, "GL-2")
        assert refused.value.code == code


@pytest.mark.parametrize("ref", ["", " GL", "GL ", "GL\t1", "G" * 101])
def test_a_ledger_reference_must_be_printable_and_trimmed(ref):
    with pytest.raises(DomainError):
        check_ledger_ref(ref)


def test_a_ledger_reference_may_be_any_script():
    assert check_ledger_ref("记-2026-0042") == "记-2026-0042"
