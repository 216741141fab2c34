"""The photo store: files named by their SHA-256, with a thumbnail and a perceptual hash."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from core.domain.photo import Exif

MAX_PHOTO_BYTES = 20 * 1024 * 1024  # what the Bot API lets a bot download
THUMBNAIL_PX = 320
# Decompression bombs: refuse images that would unpack to more pixels than this.
MAX_PIXELS = 80_000_000


class PhotoError(ValueError):
    """Not a usable photo: `code` is photo_too_big, not_an_image or corrupt_image."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class StoredPhoto:
    sha256: str
    size: int
    width: int
    height: int
    dhash: int
    exif: Exif
    path: Path
    thumbnail: Path


def _open(data: bytes) -> Image.Image:
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError("photo_too_big")
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise PhotoError("photo_too_big")
        image.load()  # decode now, so a truncated file fails here
    except PhotoError:
        raise
    except UnidentifiedImageError:
        raise PhotoError("not_an_image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoError("corrupt_image") from None
    return image


def difference_hash(image: Image.Image, size: int = 8) -> int:
    """64-bit dHash: survives recompression, resizing and small crops."""
    small = ImageOps.exif_transpose(image).convert("L").resize((size + 1, size),
                                                               Image.Resampling.LANCZOS)
    pixels = small.tobytes()  # one byte per pixel in mode L
    bits = 0
    for row in range(size):
        for col in range(size):
            left, right = pixels[row * (size + 1) + col], pixels[row * (size + 1) + col + 1]
            bits = (bits << 1) | (left > right)
    return bits


def _gps_degrees(values, ref: str | None) -> float | None:
    try:
        degrees = float(values[0]) + float(values[1]) / 60 + float(values[2]) / 3600
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    return -degrees if ref in ("S", "W") else degrees


def read_exif(image: Image.Image) -> Exif:
    """Taken time (as UTC when the photo says its offset, else as if UTC) and GPS."""
    exif = image.getexif()
    if not exif:
        return Exif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    taken_at = None
    stamp = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if isinstance(stamp, str):
        try:
            taken = datetime.strptime(stamp.strip(), "%Y:%m:%d %H:%M:%S")
            offset = details.get(ExifTags.Base.OffsetTimeOriginal)
            if isinstance(offset, str) and len(offset) == 6:
                taken = datetime.strptime(f"{stamp.strip()} {offset.replace(':', '')}",
                                          "%Y:%m:%d %H:%M:%S %z")
            taken_at = taken.astimezone(UTC) if taken.tzinfo else taken.replace(tzinfo=UTC)
        except ValueError:
            taken_at = None
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat = lon = None
    if gps:
        lat = _gps_degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef))
        lon = _gps_degrees(gps.get(ExifTags.GPS.GPSLongitude),
                           gps.get(ExifTags.GPS.GPSLongitudeRef))
    return Exif(taken_at, lat, lon)


class PhotoStore:
    """Files under `root/ab/abcdef....jpg`; the same photo twice is stored once."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str, suffix: str = "") -> Path:
        return self.root / sha256[:2] / f"{sha256}{suffix}"

    def save(self, data: bytes) -> StoredPhoto:
        """Check, hash and keep a photo; PhotoError for anything that is not one."""
        image = _open(data)
        sha = hashlib.sha256(data).hexdigest()
        path, thumbnail = self.path_for(sha), self.path_for(sha, ".thumb.jpg")
        if not path.exists():
            self._write(path, data)
        if not thumbnail.exists():
            small = ImageOps.exif_transpose(image).convert("RGB")
            small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            buffer = io.BytesIO()
            small.save(buffer, "JPEG", quality=80)
            self._write(thumbnail, buffer.getvalue())
        return StoredPhoto(sha, len(data), image.width, image.height, difference_hash(image),
                           read_exif(image), path, thumbnail)

    def read(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Write then rename, so a crash never leaves half a photo under its final name.
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
