"""The watermark on a visit photo a manager views: who, when, where; CJK glyphs; no EXIF."""

from __future__ import annotations

import io

from PIL import Image, ImageChops

from storage import photos
from storage.photos import watermark


def _photo(exif: bool = True) -> bytes:
    image = Image.new("RGB", (800, 600), (90, 160, 90))
    buffer = io.BytesIO()
    tags = Image.Exif()
    if exif:
        tags[0x010F] = "SecretCam"  # Make
        tags[0x0132] = "2026:11:26 09:30:00"  # DateTime
    image.save(buffer, "JPEG", exif=tags)
    return buffer.getvalue()


def _changed_box(before: bytes, after: bytes) -> tuple[int, int, int, int] | None:
    a = Image.open(io.BytesIO(before)).convert("RGB")
    b = Image.open(io.BytesIO(after)).convert("RGB")
    return ImageChops.difference(a, b).point(lambda v: 255 if v > 40 else 0).getbbox()


def test_a_chinese_name_is_drawn_with_glyphs_not_boxes():
    plain = watermark(_photo(), [""])
    named = watermark(_photo(), ["李伟"])
    box = _changed_box(plain, named)
    assert box is not None and box[1] > 300  # the text sits at the photo's foot
    other = watermark(_photo(), ["王梅"])
    # Different characters, different pixels: the font has the glyphs (no tofu boxes).
    assert _changed_box(named, other) is not None


def test_the_cjk_font_is_the_bundled_noto_font():
    font = photos._font(20)
    assert "Noto Sans CJK" in " ".join(font.getname())


def test_the_watermarked_photo_carries_no_exif():
    shown = Image.open(io.BytesIO(watermark(_photo(), ["Carol Lin", "2026-11-26 09:30"])))
    assert shown.format == "JPEG" and not shown.getexif()
    assert b"SecretCam" not in watermark(_photo(), ["x"])


def test_without_the_cjk_font_pillows_own_font_is_used(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_noto(name, *args, **kwargs):
        if name.startswith("noto_cjk"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    photos._font.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_noto)
    try:
        assert watermark(_photo(exif=False), ["Carol Lin"])[:2] == b"\xff\xd8"
    finally:
        monkeypatch.undo()
        photos._font.cache_clear()
