"""Cursors: opaque, signed, expiring; and the posting rule they feed (no I/O)."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import pytest

from api.cursor import CURSOR_TTL, MAX_CLAIM_ID, CursorCodec, CursorError, cursor_key
from api.schemas import PostingIn
from core.domain.errors import DomainError
from core.domain.expenses.finance import Position, PostingState, check_ledger_ref, existing_posting
from tests.api.conftest import CURSOR_SECRET, LEDGER, signed_cursor

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
NOW_MICROS = int(NOW.timestamp()) * 1_000_000
KEY = cursor_key(CURSOR_SECRET.encode(), "ledger")
codec = CursorCodec(KEY)


def signed(payload: object, key: bytes = KEY) -> str:
    return signed_cursor(payload, key)


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


def test_the_signing_helper_signs_as_the_server_does():
    position = Position(datetime(2026, 11, 20, 8, 0, tzinfo=UTC), 7)
    assert codec.decode(signed({"v": 2, "iat": NOW_MICROS, "at": NOW_MICROS - 5 * 86_400_000_000
                                - 18 * 3_600_000_000, "id": 7}), NOW) == position


def test_a_cursor_signed_for_another_client_or_server_is_invalid():
    for key in [cursor_key(CURSOR_SECRET.encode(), "audit"),
                cursor_key(b"another-servers-secret-0123456789abcdef", "ledger")]:
        with pytest.raises(CursorError) as refused:
            CursorCodec(key).decode(codec.encode(Position(NOW, 1), NOW), NOW)
        assert not refused.value.expired


def test_holding_a_token_is_not_enough_to_mint_a_cursor():
    # The key cursors were once signed with: derived from the caller's token alone.
    from_token = hmac.new(LEDGER.encode(), b"crmbot finance api cursor", hashlib.sha256).digest()
    for version in (1, 2):
        with pytest.raises(CursorError) as refused:
            codec.decode(signed({"v": version, "iat": NOW_MICROS, "at": 0, "id": 10**30},
                                key=from_token), NOW)
        assert not refused.value.expired


def test_the_largest_claim_id_and_the_earliest_time_are_still_a_position():
    cursor = signed({"v": 2, "iat": NOW_MICROS, "at": 0, "id": MAX_CLAIM_ID})
    assert codec.decode(cursor, NOW) == Position(datetime(1970, 1, 1, tzinfo=UTC), 2**31 - 1)


START = {"v": 2, "iat": NOW_MICROS}
AT = {**START, "at": NOW_MICROS - 60_000_000, "id": 1}


@pytest.mark.parametrize("payload", [
    {**AT, "id": 10**30}, {**AT, "id": 2**63}, {**AT, "id": 2**31}, {**AT, "id": 0},
    {**AT, "id": -1},
    {**AT, "id": "1"}, {**AT, "id": 1.0}, {**AT, "id": True}, {**AT, "id": None},
    {**AT, "at": 10**30}, {**AT, "at": -1}, {**AT, "at": NOW_MICROS + 1}, {**AT, "at": "0"},
    {**START, "iat": 10**30}, {**START, "iat": -(10**30)}, {**START, "iat": -1},
    {**START, "iat": NOW_MICROS + 301_000_000}, {**START, "iat": float(NOW_MICROS)},
    {**START, "v": 1}, {**START, "v": True}, {**START, "v": "2"}, {"v": 2}, {"iat": NOW_MICROS},
    {**START, "at": NOW_MICROS}, {**START, "id": 1}, {**AT, "extra": 1}, [2, NOW_MICROS], 2,
    "cursor", None,
], ids=repr)
def test_every_field_of_a_signed_cursor_is_bounded(payload):
    with pytest.raises(CursorError) as refused:
        codec.decode(signed(payload), NOW)
    assert not refused.value.expired


def test_a_cursor_from_a_clock_a_little_ahead_is_accepted():
    assert codec.decode(signed({"v": 2, "iat": NOW_MICROS + 300_000_000}), NOW) is None


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


@pytest.mark.parametrize("ref", [
    "", " GL", "GL ", "GL\t1", "G" * 101, "GL\n1", "GL\x00", "GL\x85", "\u3000GL", "GL\u00a0",
    "GL\u200b1", "GL\u202e1", "GL\u2028", "GL\ufeff", "GL\ud800", "GL\uffff", "\u00ad",
], ids=repr)
def test_a_ledger_reference_must_be_visible_and_trimmed(ref):
    with pytest.raises(DomainError):
        check_ledger_ref(ref)


@pytest.mark.parametrize("ref", [
    "记-2026-0042", "GL 2026 / 7", "G", "G" * 100, "Ü-1", "凭证-😀",
    "\U0001fae8",  # a newer emoji than this Python's Unicode tables know
], ids=repr)
def test_a_ledger_reference_may_be_any_script(ref):
    assert check_ledger_ref(ref) == ref


def test_the_published_ledger_reference_pattern_is_the_rule():
    document = re.compile(PostingIn.model_json_schema()["properties"]["ledger_ref"]["pattern"])
    samples = ["GL-1", " GL", "GL\u200b", "记", "G" * 100, "G" * 101, "a b", "a\tb", ""]
    for ref in samples + [chr(code) * 2 for code in range(0, 0x3100)]:
        try:
            accepted = check_ledger_ref(ref) == ref
        except DomainError:
            accepted = False
        assert bool(document.fullmatch(ref)) == accepted, repr(ref)
