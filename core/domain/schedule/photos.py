"""Visit photos: was it used before, and does its EXIF agree with the check-in?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.geo import haversine_m

# Difference hashes of 64 bits differ in a few bits after recompression or a small crop;
# unrelated photos differ in about half of them.
REUSE_DISTANCE = 10
EXIF_TIME_TOLERANCE = timedelta(minutes=30)
EXIF_DISTANCE_TOLERANCE_M = 500.0


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def looks_alike(photo_hash: int, other: int, limit: int = REUSE_DISTANCE) -> bool:
    """The same picture, even recompressed or slightly cropped."""
    return hamming(photo_hash, other) <= limit


def reused(photo_hash: int, earlier: Iterable[int], limit: int = REUSE_DISTANCE) -> bool:
    """Whether a photo looks like one already used in an earlier check-in."""
    return any(looks_alike(photo_hash, other, limit) for other in earlier)


def same_photo(sha256: str, dhash: int | None, other_sha256: str,
               other_dhash: int | None) -> bool:
    """The same file, or (when both were hashed) a picture that looks like it."""
    return sha256 == other_sha256 or (
        dhash is not None and other_dhash is not None and looks_alike(dhash, other_dhash))


@dataclass(frozen=True)
class Exif:
    """What a photo sent as a file says about itself (compressed photos carry none)."""

    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None


def exif_agrees(exif: Exif, checked_in_at: datetime, lat: float, lon: float) -> bool:
    """False when the photo says it was taken elsewhere or at another time."""
    if exif.taken_at is not None and abs(exif.taken_at - checked_in_at) > EXIF_TIME_TOLERANCE:
        return False
    if exif.lat is not None and exif.lon is not None:
        return haversine_m(exif.lat, exif.lon, lat, lon) <= EXIF_DISTANCE_TOLERANCE_M
    return True


@dataclass(frozen=True)
class VisitPhoto:
    """A photo kept in the photo store, attached to a check-in (or waiting for one)."""

    id: int | None
    member_id: int
    check_in_id: int | None
    sha256: str
    dhash: int
    file_id: str | None
    as_document: bool
    width: int
    height: int
    size: int
    exif: Exif
    flags: frozenset[str]
    created_at: datetime
