"""Reused photos and EXIF agreement: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.domain.photo import Exif, exif_agrees, hamming, reused

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
