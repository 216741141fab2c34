"""Pictures the tests send: photo-like scenes as JPEG, with EXIF, and a decompression bomb."""

from __future__ import annotations

import io
import random

from PIL import ExifTags, Image, ImageDraw


def scene(seed: int, size=(800, 600)) -> Image.Image:
    """A photo-like picture: random shapes, different for each seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.ellipse((x, y, x + rng.randrange(40, 300), y + rng.randrange(40, 300)),
                     fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def jpeg(image: Image.Image, quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def with_exif(taken: str, lat: tuple, lon: tuple) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.DateTime] = taken
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = "+08:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", lat
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", lon
    return exif


def huge_png(side: int = 8900) -> bytes:
    """A small file (about 10 KB) that describes a picture of side × side pixels."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG")
    return buffer.getvalue()


def oversized_png() -> bytes:
    """A valid PNG padded to over 25 MB, more than Telegram lets a bot download."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    return buffer.getvalue() + b"\0" * (25 * 1024 * 1024)
