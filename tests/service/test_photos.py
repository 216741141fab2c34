"""The photo store on disk: dedupe, thumbnails, EXIF, perceptual hashes, bad files."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageFile

from core.domain.schedule.photos import hamming, reused
from storage.photos import LARGEST_SIDE_PX, MAX_PHOTO_BYTES, PhotoError, PhotoStore
from tests.pictures import huge_png, jpeg, scene, with_exif


@pytest.fixture
def store(tmp_path) -> PhotoStore:
    return PhotoStore(tmp_path / "photos")


def test_photo_is_stored_once_by_content_with_a_thumbnail(store):
    data = jpeg(scene(1))
    first, second = store.save(data), store.save(data)
    assert first.sha256 == second.sha256 and first.path.read_bytes() == data
    assert store.read(first.sha256) == data
    with Image.open(first.thumbnail) as thumb:
        assert max(thumb.size) == 320
    assert len(list(store.root.rglob("*.jpg"))) == 1  # the photo has no suffix


def test_exif_time_and_gps_are_read_from_a_file(store):
    exif = with_exif("2026:11:26 10:05:00", (31.0, 14.0, 24.0), (121.0, 29.0, 24.0))
    stored = store.save(jpeg(scene(2), exif=exif))
    assert stored.exif.taken_at == datetime(2026, 11, 26, 2, 5, tzinfo=UTC)
    assert stored.exif.lat == pytest.approx(31.24) and stored.exif.lon == pytest.approx(121.49)


def test_photo_without_exif_has_none(store):
    assert store.save(jpeg(scene(3))).exif.taken_at is None


def test_recompressed_or_slightly_cropped_photo_is_recognised(store):
    original = scene(4)
    base = store.save(jpeg(original, quality=95)).dhash
    recompressed = store.save(jpeg(original.resize((640, 480)), quality=40)).dhash
    width, height = original.size
    cropped = store.save(jpeg(original.crop((16, 12, width - 16, height - 12)))).dhash
    others = [store.save(jpeg(scene(seed))).dhash for seed in range(10, 20)]
    assert reused(recompressed, [base]) and reused(cropped, [base])
    assert not any(reused(other, [base]) for other in others)
    assert min(hamming(base, other) for other in others) > 10


def test_corrupt_jpeg_is_refused(store):
    data = jpeg(scene(5))
    with pytest.raises(PhotoError) as error:
        store.save(data[: len(data) // 2])
    assert error.value.code == "corrupt_image"
    assert not store.root.exists()


def test_file_that_is_not_an_image_is_refused(store):
    with pytest.raises(PhotoError) as error:
        store.save(b"%PDF-1.7\n" + b"0" * 1000)
    assert error.value.code == "not_an_image"


def test_file_over_20_mb_is_refused(store):
    with pytest.raises(PhotoError) as error:
        store.save(b"\xff\xd8" + b"0" * MAX_PHOTO_BYTES)
    assert error.value.code == "photo_too_big"


def test_a_small_file_of_huge_dimensions_is_refused_before_decoding(store, monkeypatch):
    data = huge_png()
    assert len(data) < 50_000

    def decode(*_args):
        raise AssertionError("decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    with pytest.raises(PhotoError) as error:
        store.save(data)
    assert error.value.code == "photo_too_many_pixels"
    with pytest.raises(PhotoError):
        store.watermark(data, ["Carol"])
    assert not store.root.exists()


def test_a_large_jpeg_is_decoded_scaled_down_and_kept_with_its_size(store):
    buffer = io.BytesIO()
    Image.new("L", (6000, 4000), 128).save(buffer, "JPEG")  # 24 million pixels
    stored = store.save(buffer.getvalue())
    assert (stored.width, stored.height) == (6000, 4000)
    with Image.open(stored.thumbnail) as thumb:
        assert max(thumb.size) == 320
    with Image.open(io.BytesIO(store.watermark(buffer.getvalue(), ["Carol"]))) as shown:
        assert max(shown.size) <= LARGEST_SIDE_PX


def test_no_more_than_a_few_photos_are_decoded_at_once(store, monkeypatch):
    import threading
    import time

    import storage.photos as photos

    inside, most, lock = 0, 0, threading.Lock()
    real_open = photos._open

    def counting_open(data):
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.05)
        try:
            return real_open(data)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(photos, "_open", counting_open)
    data = [jpeg(scene(seed, (200, 150))) for seed in range(8)]
    threads = [threading.Thread(target=store.save, args=(d,)) for d in data]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == photos.DECODES_AT_ONCE
    assert len(list(store.root.rglob("*.thumb.jpg"))) == 8
