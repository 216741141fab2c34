"""The photo store: files named by their SHA-256, with a thumbnail and a perceptual hash."""

from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from core.domain.schedule.photos import Exif

MAX_PHOTO_BYTES = 20 * 1024 * 1024  # what the Bot API lets a bot download
THUMBNAIL_PX = 320
# Nothing we keep or send needs more: Telegram shows photos at most 2560 px on a side.
LARGEST_SIDE_PX = 2560
# Decompression bombs: a small file can describe a huge picture. Sizes are read from the
# header and checked before a pixel is decoded. A JPEG is decoded scaled down (1/2 to 1/8,
# to LARGEST_SIDE_PX), so it may say up to MAX_PIXELS; every other format is decoded in
# full, and what would be decoded may be at most MAX_DECODED_PIXELS (about 64 MB as RGBA).
MAX_PIXELS = 80_000_000
MAX_DECODED_PIXELS = 16_000_000
# Pillow's own limit, set deliberately rather than left at its default: anything that gets
# past the checks above (an image inside another format) is still refused.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Decoding is memory-heavy: at most this many images are decoded at once in the process,
# whichever thread or request asks.
DECODES_AT_ONCE = 2
_decoding = threading.BoundedSemaphore(DECODES_AT_ONCE)


class PhotoError(ValueError):
    """Not a usable photo: `code` is photo_too_big (the file), photo_too_many_pixels (the
    picture it describes), not_an_image or corrupt_image."""

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


def _open(data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """The image decoded at most LARGEST_SIDE_PX on a side (when its format allows), and
    its size as taken. Call while holding _decoding."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError("photo_too_big")
    try:
        image = Image.open(io.BytesIO(data))
        size = image.size
        if image.width * image.height > MAX_PIXELS:
            raise PhotoError("photo_too_many_pixels")
        # JPEG: scaled decoding, to no less than LARGEST_SIDE_PX on the longer side.
        ratio = LARGEST_SIDE_PX / max(1, *size)
        image.draft("RGB", (math.ceil(size[0] * ratio), math.ceil(size[1] * ratio)))
        if image.width * image.height > MAX_DECODED_PIXELS:
            raise PhotoError("photo_too_many_pixels")
        image.load()  # decode now, so a truncated file fails here
    except PhotoError:
        raise
    except Image.DecompressionBombError:
        raise PhotoError("photo_too_many_pixels") from None
    except UnidentifiedImageError:
        raise PhotoError("not_an_image") from None
    except (OSError, SyntaxError, ValueError):
        raise PhotoError("corrupt_image") from None
    if max(image.size) > LARGEST_SIDE_PX:
        image.thumbnail((LARGEST_SIDE_PX, LARGEST_SIDE_PX))
    return image, size


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
        with _decoding:
            image, (width, height) = _open(data)
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
            return StoredPhoto(sha, len(data), width, height, difference_hash(image),
                               read_exif(image), path, thumbnail)

    def read(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def watermark(self, data: bytes, lines: list[str]) -> bytes:
        return watermark(data, lines)

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


WATERMARK_FONT_PX = 0.035  # of the shorter side: readable on a phone, small on the photo


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Noto Sans CJK when installed (names are often Chinese); Pillow's own font otherwise."""
    try:
        from noto_cjk_sans_jp_regular import FONT_PATH
        return ImageFont.truetype(str(FONT_PATH), size)
    except (ImportError, OSError):
        try:
            return ImageFont.load_default(size)
        except TypeError:  # Pillow before 10.1 has one size only
            return ImageFont.load_default()


def watermark(data: bytes, lines: list[str]) -> bytes:
    """The photo as a JPEG with `lines` written at its foot; no EXIF (nor GPS) goes out."""
    with _decoding:
        return _watermarked(_open(data)[0], lines)


def _watermarked(image: Image.Image, lines: list[str]) -> bytes:
    image = ImageOps.exif_transpose(image).convert("RGB")
    size = max(12, int(min(image.size) * WATERMARK_FONT_PX))
    font, draw = _font(size), ImageDraw.Draw(image, "RGBA")
    margin, spacing = size // 2, size // 4
    text = "\n".join(lines)
    left, top, _right, bottom = draw.multiline_textbbox((0, 0), text, font=font, spacing=spacing)
    box_top = image.height - (bottom - top) - 2 * margin
    draw.rectangle((0, box_top, image.width, image.height), fill=(0, 0, 0, 110))
    draw.multiline_text((margin - left, box_top + margin - top), text, font=font,
                        fill=(255, 255, 255, 235), spacing=spacing)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)  # saved without exif=: nothing of it is copied
    return buffer.getvalue()
