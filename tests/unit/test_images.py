"""Which image the bot takes from a message: a photo's largest size, or an image file."""

from __future__ import annotations

import pytest
from telegram import Document, Message, PhotoSize

from bot.images import MAX_FILE_BYTES, sent_image
from core.domain.errors import DomainError


def message(**kwargs) -> Message:
    return Message(1, None, None, **kwargs)  # type: ignore[arg-type]


def test_a_photo_gives_its_largest_size():
    small, large = PhotoSize("s", "us", 90, 90, 1_000), PhotoSize("l", "ul", 1280, 1280, 90_000)
    assert sent_image(message(photo=(small, large))) == (large, False)


def test_an_image_file_is_taken_as_a_document():
    scan = Document("d", "ud", mime_type="image/png", file_size=2_000)
    assert sent_image(message(document=scan)) == (scan, True)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"document": Document("d", "ud", mime_type="application/pdf", file_size=10)},
     "not_an_image"),
    ({"document": Document("d", "ud", mime_type=None)}, "not_an_image"),
    ({"document": Document("d", "ud", mime_type="image/jpeg", file_size=MAX_FILE_BYTES + 1)},
     "photo_too_big"),
    ({"photo": (PhotoSize("p", "up", 9000, 9000, MAX_FILE_BYTES + 1),)}, "photo_too_big"),
])
def test_what_the_bot_cannot_take_is_refused(kwargs, code):
    with pytest.raises(DomainError) as refused:
        sent_image(message(**kwargs))
    assert refused.value.code == code
