"""Stored files and Telegram-like photo processing (re-encoded sizes, EXIF stripped)."""

from __future__ import annotations

import base64
import hashlib
import io
import mimetypes
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

# Longest-side sizes of the variants Telegram makes of a compressed photo.
PHOTO_SIDES = (90, 320, 800, 1280)
DOWNLOAD_LIMIT = 20 * 1024 * 1024
BOT_UPLOAD_LIMIT = 50 * 1024 * 1024
BOT_PHOTO_LIMIT = 10 * 1024 * 1024

_ID_PREFIX = {"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI"}
_DIR = {"photo": "photos", "document": "documents"}


def _digest(*parts: bytes) -> str:
    """URL-safe base64 SHA-256 of the parts, without padding."""
    digest = hashlib.sha256(b"\0".join(parts)).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class StoredFile:
    """A file the stand-in can serve via getFile and the download route."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def as_photo_size(self) -> dict[str, Any]:
        """Telegram PhotoSize."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "width": self.width,
            "height": self.height,
        }

    def as_document(self) -> dict[str, Any]:
        """Telegram Document."""
        document: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.file_name:
            document["file_name"] = self.file_name
        if self.mime_type:
            document["mime_type"] = self.mime_type
        return document

    def as_file(self) -> dict[str, Any]:
        """Telegram File as answered by getFile."""
        answer: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.size <= DOWNLOAD_LIMIT:
            answer["file_path"] = self.file_path
        return answer


class FileStore:
    """All files known to the stand-in, by file_id and by download path."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        # Photo sizes per original file_id, so resending a photo by file_id reuses them.
        self._photo_sets: dict[str, list[StoredFile]] = {}

    def get(self, file_id: str) -> StoredFile | None:
        """The file with this file_id."""
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        """The file served at this download path."""
        return self._by_path.get(file_path)

    def photo_set(self, file_id: str) -> list[StoredFile] | None:
        """All sizes of the photo one of whose sizes has this file_id."""
        return self._photo_sets.get(file_id)

    def add(self, data: bytes, kind: str, **details: Any) -> StoredFile:
        """Store content; identical content of the same kind gets the same ids."""
        unique = _digest(data)[:16]
        name = (details.get("file_name") or "").encode()
        file_id = _ID_PREFIX[kind] + _digest(kind.encode(), name, data)[:40]
        existing = self._by_id.get(file_id)
        if existing:
            return existing
        extension = _extension(details.get("file_name"), details.get("mime_type"), kind)
        path = f"{_DIR[kind]}/file_{len(self._by_path)}{extension}"
        stored = StoredFile(file_id, "AgAD" + unique, kind, data, path, **details)
        self._by_id[file_id] = stored
        self._by_path[path] = stored
        return stored

    def add_photo(self, data: bytes) -> list[StoredFile]:
        """Re-encode an image into Telegram's sizes; raises ValueError if it is no image."""
        sizes = [self.add(blob, "photo", width=w, height=h) for blob, w, h in photo_variants(data)]
        for size in sizes:
            self._photo_sets[size.file_id] = sizes
        return sizes

    def add_document(
        self,
        data: bytes,
        file_name: str | None,
        mime_type: str | None,
        *,
        fallback_mime: str | None = None,
    ) -> StoredFile:
        """Store a document untouched, guessing the MIME type from the name if needed."""
        if not mime_type and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        mime_type = mime_type or fallback_mime
        return self.add(
            data,
            "document",
            file_name=file_name,
            mime_type=mime_type or "application/octet-stream",
        )


def _extension(file_name: str | None, mime_type: str | None, kind: str) -> str:
    """A file extension for the download path."""
    if kind == "photo":
        return ".jpg"
    if file_name and "." in file_name:
        return "." + file_name.rsplit(".", 1)[1].lower()
    guessed = mimetypes.guess_extension(mime_type or "") if mime_type else None
    return guessed or ""


def open_image(data: bytes) -> Image.Image:
    """Open image bytes with Pillow; ValueError when they are not an image."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not an image Telegram could compress: {exc}") from exc
    return image


def photo_variants(data: bytes) -> list[tuple[bytes, int, int]]:
    """JPEG re-encodings at Telegram's sizes, orientation applied and metadata dropped."""
    image = ImageOps.exif_transpose(open_image(data)).convert("RGB")
    longest = max(image.size)
    variants: list[tuple[bytes, int, int]] = []
    for side in PHOTO_SIDES:
        if longest > side:
            variant = image.copy()
            variant.thumbnail((side, side), Image.Resampling.LANCZOS)
        else:
            variant = image
        buffer = io.BytesIO()
        # No exif= argument: Pillow writes no metadata, just as Telegram's recompression.
        variant.save(buffer, "JPEG", quality=80 if side < 320 else 87, optimize=True)
        variants.append((buffer.getvalue(), variant.width, variant.height))
        if longest <= side:
            break
    return variants


def check_photo_dimensions(data: bytes) -> None:
    """Telegram refuses photos with extreme dimensions; raise ValueError like it would."""
    width, height = open_image(data).size
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise ValueError("PHOTO_INVALID_DIMENSIONS")
