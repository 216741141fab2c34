"""An image someone sends: a photo, or a picture sent as a file, and whether the bot takes it."""

from __future__ import annotations

from telegram import Document, Message, PhotoSize

from core.domain.errors import DomainError

MAX_FILE_BYTES = 20 * 1024 * 1024  # the most a bot may download through the Bot API


def sent_image(message: Message) -> tuple[PhotoSize | Document, bool]:
    """The photo's largest size, or the image file (then True: sent as a document).

    DomainError 'not_an_image' for a file that is no image, 'photo_too_big' for one the bot
    may not download.
    """
    if message.photo:
        item, as_document = message.photo[-1], False
    else:
        item, as_document = message.document, True
        if not (item.mime_type or "").startswith("image/"):
            raise DomainError("not_an_image")
    if item.file_size is not None and item.file_size > MAX_FILE_BYTES:
        raise DomainError("photo_too_big")
    return item, as_document
