"""What happened in the sandbox chats, and a human-readable rendering of it."""

from __future__ import annotations

import time as _time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

BOT_ACTOR = "bot"

KINDS = (
    "message",
    "edit",
    "press",
    "callback_answer",
    "delete",
    "location",
    "photo",
    "document",
    "album",
    "pin",
    "unpin",
    "chat_action",
    "member_update",
)


@dataclass(frozen=True)
class Entry:
    """One thing that happened in a chat, as a person reading the chat would notice it.

    `buttons` holds the visible labels row by row; `keyboard` says which kind they are
    ("inline", "reply", "remove", "force_reply" or None). `raw` is the Telegram object
    involved (a Message, CallbackQuery, ChatMemberUpdated or the answer's parameters);
    `markup` is the reply_markup as the bot sent it (Telegram omits reply keyboards from
    Message objects, so it is kept here). An edit whose inline keyboard became empty has
    keyboard "inline" and no buttons.
    """

    index: int
    time: float
    chat_id: int
    chat_title: str
    chat_kind: str
    actor: str
    actor_id: int | None
    kind: str
    text: str | None = None
    html: str | None = None
    buttons: list[list[str]] = field(default_factory=list)
    keyboard: str | None = None
    message_id: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    markup: dict[str, Any] | None = None

    @property
    def by_bot(self) -> bool:
        """Whether the bot did this."""
        return self.actor == BOT_ACTOR


def render_transcript(
    entries: Iterable[Entry],
    names: Mapping[int | str, str] | None = None,
    *,
    times: bool = False,
    actions: bool = False,
) -> str:
    """Render entries as a readable chat log: who said what, buttons, presses, edits…

    names maps user ids, display names or chat ids to the names to show instead.
    times prefixes each line with HH:MM:SS; actions includes "typing…" chat actions.
    """
    names = names or {}
    lines: list[str] = []
    current_chat: int | None = None
    for entry in entries:
        if entry.kind == "chat_action" and not actions:
            continue
        if entry.chat_id != current_chat:
            current_chat = entry.chat_id
            title = names.get(entry.chat_id, entry.chat_title)
            lines.append(f"── {title} ({entry.chat_kind} {entry.chat_id}) ──")
        prefix = _time.strftime("%H:%M:%S ", _time.localtime(entry.time)) if times else ""
        body = _render_entry(entry, _actor_name(entry, names)).splitlines() or [""]
        lines.append(prefix + body[0])
        lines.extend(" " * len(prefix) + line for line in body[1:])
    return "\n".join(lines)


def _actor_name(entry: Entry, names: Mapping[int | str, str]) -> str:
    """The display name for an entry's actor, honoring overrides."""
    if entry.actor_id is not None and entry.actor_id in names:
        return names[entry.actor_id]
    return names.get(entry.actor, entry.actor)


def _render_entry(entry: Entry, who: str) -> str:
    """The lines for one entry."""
    ref = f" #{entry.message_id}" if entry.message_id is not None else ""
    renderer = _RENDERERS.get(entry.kind, _render_message)
    return renderer(entry, who, ref)


def _render_message(entry: Entry, who: str, ref: str) -> str:
    """A text message with its keyboard."""
    head = f"{who}{ref}: " + _indent_text(entry.text or "", len(who) + len(ref) + 2)
    reply = _reply_note(entry.raw)
    return head + reply + _keyboard_lines(entry)


def _render_edit(entry: Entry, who: str, ref: str) -> str:
    """An edit of text, caption, keyboard or a live location."""
    raw = entry.raw
    if "location" in raw:
        return f"{who} moved{ref} 📍 {_location_text(raw['location'])}"
    head = f"{who} edited{ref}: " + _indent_text(entry.text or "", len(who) + len(ref) + 9)
    if entry.keyboard == "inline" and not entry.buttons:
        return head + "\n    (buttons removed)"
    return head + _keyboard_lines(entry)


def _render_press(entry: Entry, who: str, ref: str) -> str:
    """A button press (callback query)."""
    data = entry.raw.get("data")
    if entry.text is not None:
        return f"{who} pressed [{entry.text}] on{ref}"
    return f'{who} pressed a forged button (data "{data}") on{ref}'


def _render_answer(entry: Entry, who: str, ref: str) -> str:
    """The bot's answer to a press."""
    raw = entry.raw
    if not raw.get("text"):
        return f"{who} answered the press on{ref} (no text)"
    style = "alert" if raw.get("show_alert") else "toast"
    return f'{who} answered the press on{ref} with {style}: "{raw["text"]}"'


def _render_delete(entry: Entry, who: str, ref: str) -> str:
    """A deleted message."""
    gone = f': "{_shorten(entry.text)}"' if entry.text else ""
    return f"{who} deleted{ref}{gone}"


def _render_location(entry: Entry, who: str, ref: str) -> str:
    """A shared location or venue."""
    raw = entry.raw
    venue = raw.get("venue")
    place = _location_text(raw.get("location", {}))
    if venue:
        place = f"{venue.get('title')}, {venue.get('address')} ({place})"
    forwarded = raw.get("forward_origin", {}).get("sender_user")
    note = f" (forwarded from {forwarded.get('first_name')})" if forwarded else ""
    return f"{who}{ref}: 📍 {place}{note}" + _reply_note(raw) + _keyboard_lines(entry)


def _render_photo(entry: Entry, who: str, ref: str) -> str:
    """A photo with its caption."""
    return f"{who}{ref}: {_media_text(entry.raw)}" + _keyboard_lines(entry)


def _render_album(entry: Entry, who: str, ref: str) -> str:
    """A media group."""
    messages = entry.raw.get("messages", [])
    ids = [m["message_id"] for m in messages]
    span = f" #{ids[0]}–#{ids[-1]}" if ids else ref
    lines = [f"{who}{span}: album of {len(messages)}"]
    lines.extend(f"    - {_media_text(message)}" for message in messages)
    return "\n".join(lines)


def _render_pin(entry: Entry, who: str, ref: str) -> str:
    """A pin or unpin."""
    verb = "pinned" if entry.kind == "pin" else "unpinned"
    quoted = f': "{_shorten(entry.text)}"' if entry.text else ""
    return f"{who} {verb}{ref}{quoted}"


def _render_action(entry: Entry, who: str, ref: str) -> str:
    """A chat action such as typing."""
    return f"{who} is {entry.text or 'doing something'}…"


def _render_member(entry: Entry, who: str, ref: str) -> str:
    """A membership change."""
    return f"⚙ {entry.text or who}"


_RENDERERS = {
    "message": _render_message,
    "edit": _render_edit,
    "press": _render_press,
    "callback_answer": _render_answer,
    "delete": _render_delete,
    "location": _render_location,
    "photo": _render_photo,
    "document": _render_photo,
    "album": _render_album,
    "pin": _render_pin,
    "unpin": _render_pin,
    "chat_action": _render_action,
    "member_update": _render_member,
}


def _media_text(message: Mapping[str, Any]) -> str:
    """One-line description of a photo or document message."""
    caption = f': "{message["caption"]}"' if message.get("caption") else ""
    if message.get("photo"):
        biggest = message["photo"][-1]
        return f"🖼 photo {biggest['width']}×{biggest['height']}{caption}"
    document = message.get("document")
    if document:
        size = _human_size(document.get("file_size", 0))
        mime = document.get("mime_type", "?")
        return f"📄 {document.get('file_name', 'document')} ({mime}, {size}){caption}"
    if message.get("location"):
        return f"📍 {_location_text(message['location'])}"
    return message.get("text", "")


def _location_text(location: Mapping[str, Any]) -> str:
    """Coordinates with accuracy and live period."""
    text = f"{location.get('latitude', 0):.6f}, {location.get('longitude', 0):.6f}"
    if location.get("horizontal_accuracy"):
        text += f" ±{location['horizontal_accuracy']:g} m"
    if location.get("live_period"):
        text += f", live {location['live_period']} s"
    if location.get("heading"):
        text += f", heading {location['heading']}°"
    return text


def _keyboard_lines(entry: Entry) -> str:
    """Button rows under a message, marked by keyboard kind."""
    if entry.keyboard == "remove":
        return "\n    ⌨ (reply keyboard removed)"
    if entry.keyboard == "force_reply":
        return "\n    ↩ (asks for a reply)"
    if not entry.buttons:
        return ""
    marker = "⌨ " if entry.keyboard == "reply" else ""
    flags = _button_flags(entry)
    rows = []
    for r, row in enumerate(entry.buttons):
        cells = [
            f"[{flags.get((r, c), '')}{label}{_suffix(entry, r, c)}]" for c, label in enumerate(row)
        ]
        rows.append("    " + marker + " ".join(cells))
    return "\n" + "\n".join(rows)


def _raw_buttons(entry: Entry) -> list[list[Mapping[str, Any]]]:
    """The button objects behind the labels, when the raw markup is known."""
    markup = entry.markup or entry.raw.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [[b if isinstance(b, Mapping) else {"text": b} for b in row] for row in rows]


def _button_flags(entry: Entry) -> dict[tuple[int, int], str]:
    """Icons for reply-keyboard requests (📍 location, 📞 contact).

    A label that already opens with the icon keeps it once: "📍 Check in", not "📍 📍 Check in".
    """
    flags: dict[tuple[int, int], str] = {}
    for r, row in enumerate(_raw_buttons(entry)):
        for c, button in enumerate(row):
            icon = ("📍 " if button.get("request_location")
                    else "📞 " if button.get("request_contact") else "")
            if icon and not str(button.get("text", "")).startswith(icon.strip()):
                flags[(r, c)] = icon
    return flags


def _suffix(entry: Entry, row: int, col: int) -> str:
    """A ↗ after URL buttons; a Web App button names the page it opens."""
    rows = _raw_buttons(entry)
    if row >= len(rows) or col >= len(rows[row]):
        return ""
    button = rows[row][col]
    if button.get("url"):
        return " ↗"
    web_app = button.get("web_app")
    if isinstance(web_app, Mapping) and web_app.get("url"):
        return f" ▣ {web_app['url']}"
    return ""


def _reply_note(raw: Mapping[str, Any]) -> str:
    """A note when a message replies to another."""
    replied = raw.get("reply_to_message")
    return f"\n    (reply to #{replied['message_id']})" if replied else ""


def _indent_text(text: str, width: int) -> str:
    """Indent continuation lines of multi-line text under the first."""
    return text.replace("\n", "\n" + " " * width)


def _shorten(text: str | None, limit: int = 40) -> str:
    """Cut long text for one-line mentions."""
    text = (text or "").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _human_size(size: int) -> str:
    """Bytes as B/KB/MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
