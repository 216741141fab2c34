"""Reused photos and EXIF agreement: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.domain.expenses.claims import Receipt, duplicate_claims
from core.domain.schedule.photos import Exif, exif_agrees, hamming, reused

AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def test_hashes_a_few_bits_apart_are_the_same_photo():
    original = 0xF0F0_F0F0_0F0F_0F0F
    recompressed = original ^ 0b101  # two bits flipped
    unrelated = 0x0123_4567_89AB_CDEF
    assert hamming(original, recompressed) == 2
    assert reused(recompressed, [unrelated, original])
    assert not reused(unrelated, [original])
    assert not reused(original, [])


def test_exif_taken_elsewhere_or_at_another_time_disagrees():
    assert exif_agrees(Exif(), AT, 31.24, 121.49)
    assert exif_agrees(Exif(AT - timedelta(minutes=10), 31.2401, 121.4901), AT, 31.24, 121.49)
    assert not exif_agrees(Exif(AT - timedelta(days=7)), AT, 31.24, 121.49)
    assert not exif_agrees(Exif(AT, 39.90, 116.40), AT, 31.24, 121.49)


def receipt(sha256: str, dhash: int | None) -> Receipt:
    return Receipt(None, 1, sha256, None, False, 800, 600, 1000,
                   datetime(2026, 11, 26, tzinfo=UTC), dhash)


def test_a_receipt_on_other_claims_is_found_by_its_file_or_its_picture():
    mine = [receipt("a" * 64, 0b1111)]
    elsewhere = [("EXP-2026-000001", receipt("a" * 64, None)),  # the same file
                 ("EXP-2026-000002", receipt("b" * 64, 0b1111 ^ 0b111)),  # recompressed
                 ("EXP-2026-000002", receipt("c" * 64, 0b1111)),  # twice on it: named once
                 ("EXP-2026-000003", receipt("d" * 64, (1 << 64) - 1 - 0b1111)),  # another
                 ("EXP-2026-000004", receipt("e" * 64, None))]  # kept before hashing
    assert duplicate_claims(mine, elsewhere) == ["EXP-2026-000001", "EXP-2026-000002"]
    assert duplicate_claims([receipt("f" * 64, None)], elsewhere) == []
