"""Photos sent into a chat as Telegram albums."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Bot, InputMediaPhoto

ALBUM = 10  # Telegram's most photos in one album


async def send_albums(bot: Bot, chat_id: int, photos: Sequence[InputMediaPhoto]) -> None:
    """The photos in order, in albums of up to ten; one left alone goes as a photo (an
    album needs two)."""
    for start in range(0, len(photos), ALBUM):
        batch = photos[start:start + ALBUM]
        if len(batch) == 1:
            await bot.send_photo(chat_id, batch[0].media, caption=batch[0].caption)
        else:
            await bot.send_media_group(chat_id, batch)
