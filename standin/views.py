"""Read-only views of the bot's messages for assertions in tests."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from standin.markup import button_labels, find_button, keyboard_kind
from standin.state import StoredMessage


@dataclass(frozen=True)
class BotMessage:
    """A bot message as it currently stands (edits applied).

    text is the plain text (tags stripped) or, for media, the caption; html is the
    HTML source as the bot sent it (None if it did not use parse_mode HTML);
    reply_markup is the inline keyboard now attached, or the reply keyboard / removal /
    force-reply the message was sent with; buttons are its labels row by row.
    """

    chat_id: int
    message_id: int
    text: str | None
    html: str | None
    caption: str | None
    reply_markup: dict[str, Any] | None
    keyboard: str | None
    buttons: list[list[str]]
    photo: list[dict[str, Any]] | None
    document: dict[str, Any] | None
    location: dict[str, Any] | None
    media_group_id: str | None
    reply_to_message_id: int | None
    pinned: bool
    deleted: bool
    edited: bool
    date: int
    raw: dict[str, Any]

    @classmethod
    def of(cls, stored: StoredMessage) -> BotMessage:
        """Snapshot a stored message."""
        data = copy.deepcopy(stored.data)
        markup = data.get("reply_markup") or copy.deepcopy(stored.markup)
        replied = data.get("reply_to_message")
        return cls(
            chat_id=stored.chat_id,
            message_id=stored.message_id,
            text=data.get("text", data.get("caption")),
            html=stored.html,
            caption=data.get("caption"),
            reply_markup=markup,
            keyboard=keyboard_kind(markup),
            buttons=button_labels(markup),
            photo=data.get("photo"),
            document=data.get("document"),
            location=data.get("location"),
            media_group_id=data.get("media_group_id"),
            reply_to_message_id=replied["message_id"] if replied else None,
            pinned=stored.pinned,
            deleted=stored.deleted,
            edited="edit_date" in data,
            date=data["date"],
            raw=data,
        )

    def button(
        self, text: str | None = None, *, callback_data: str | None = None
    ) -> dict[str, Any]:
        """The button with that label (or callback data); KeyError if absent."""
        found = find_button(self.reply_markup, text, callback_data)
        if found is None:
            raise KeyError(f"no button {text or callback_data!r}; buttons are {self.buttons}")
        return found

    def web_app_url(self, text: str) -> str:
        """The page the Web App button with that label opens; KeyError if it opens none."""
        button = self.button(text)
        web_app = button.get("web_app")
        if not isinstance(web_app, dict) or "url" not in web_app:
            raise KeyError(f"button {text!r} opens no Web App: {button}")
        return web_app["url"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (control API)."""
        return dataclasses.asdict(self)
