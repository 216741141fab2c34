"""Bot API methods that create, change or remove messages in chats."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from standin.errors import ApiError, bad_request
from standin.formatting import format_text
from standin.markup import Markup, validate_markup
from standin.media import (
    BOT_PHOTO_LIMIT,
    BOT_UPLOAD_LIMIT,
    DOWNLOAD_LIMIT,
    StoredFile,
    check_photo_dimensions,
)
from standin.params import Params, Upload
from standin.state import ChatState, StoredMessage, World

JSON = dict[str, Any]
Handler = Callable[[World, Params], Awaitable[Any]]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ANSWER_LIMIT = 200
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = {
    "typing": "typing",
    "upload_photo": "sending a photo",
    "record_video": "recording a video",
    "upload_video": "sending a video",
    "record_voice": "recording a voice message",
    "upload_voice": "sending a voice message",
    "upload_document": "sending a file",
    "choose_sticker": "choosing a sticker",
    "find_location": "finding a location",
    "record_video_note": "recording a video message",
    "upload_video_note": "sending a video message",
}

# --- shared steps ---------------------------------------------------------------------------


def target_chat(world: World, p: Params) -> ChatState:
    """The chat named by chat_id."""
    if not p.has("chat_id"):
        raise bad_request("chat_id is empty")
    return world.chat(p.raw("chat_id"))


def _formatted(
    world: World, p: Params, field: str, entities_field: str, *, limit: int, empty: str | None
) -> tuple[JSON, str | None]:
    """Text or caption content (plain text + entities) and its HTML source if HTML was used."""
    source = p.get_str(field, empty=empty)
    if not source:
        return {}, None
    parse_mode = p.get_str("parse_mode")
    text, entities = format_text(source, parse_mode, p.get_json(entities_field), world.person_user)
    if not text and empty is not None:
        raise bad_request(empty)
    if len(text) > limit:
        raise bad_request(
            "message is too long" if field == "text" else "message caption is too long"
        )
    content: JSON = {field: text} if text else {}
    if entities:
        content[entities_field] = entities
    html = source if (parse_mode or "").lower() == "html" else None
    return content, html


def _markup(p: Params, chat: ChatState, *, inline_only: bool = False) -> Markup | None:
    """The reply_markup parameter, validated for the chat it goes to."""
    raw = p.get_json("reply_markup", what="reply keyboard markup")
    return validate_markup(raw, inline_only=inline_only, private=chat.private)


def _reply_target(chat: ChatState, p: Params) -> StoredMessage | None:
    """The message being replied to (reply_parameters or legacy reply_to_message_id)."""
    parameters = p.get_json("reply_parameters", what="reply parameters") or {}
    if not isinstance(parameters, dict):
        raise bad_request("can't parse reply parameters JSON object")
    message_id = parameters.get("message_id", p.get_int("reply_to_message_id"))
    if message_id is None:
        return None
    allow = parameters.get("allow_sending_without_reply", p.get_bool("allow_sending_without_reply"))
    other_chat = parameters.get("chat_id")
    stored = None
    if other_chat is None or str(other_chat) == str(chat.id):
        stored = chat.live_message(int(message_id))
    if stored is None and not allow:
        raise bad_request("message to be replied not found")
    return stored


def _send(
    world: World,
    chat: ChatState,
    content: JSON,
    kind: str,
    *,
    markup: Markup | None = None,
    html: str | None = None,
    reply_to: StoredMessage | None = None,
) -> JSON:
    """Permission + flood checks, then the message goes out and into the transcript."""
    world.check_can_send(chat)
    world.acquire(chat)
    stored = world.new_message(
        chat, world.bot, content, reply_to=reply_to, markup=markup, html=html
    )
    world.record_message(stored, kind)
    return stored.data


# --- sending ----------------------------------------------------------------------------------


async def send_message(world: World, p: Params) -> JSON:
    """sendMessage."""
    chat = target_chat(world, p)
    content, html = _formatted(
        world, p, "text", "entities", limit=TEXT_LIMIT, empty="message text is empty"
    )
    markup = _markup(p, chat)
    reply_to = _reply_target(chat, p)
    return _send(world, chat, content, "message", markup=markup, html=html, reply_to=reply_to)


def _input_file(world: World, p: Params, value: Any, name: str) -> Upload | StoredFile:
    """Resolve a file parameter: multipart upload, attach://, a known file_id or a URL."""
    if isinstance(value, str) and value.startswith("attach://"):
        upload = p.upload(value[len("attach://") :])
        if upload is None:
            raise bad_request("can't parse InputMedia: media not found")
        return upload
    if not value:
        upload = p.upload(name)
        if upload is None:
            raise bad_request(f"there is no {name} in the request")
        return upload
    text = str(value)
    if text.startswith(("http://", "https://")):
        # No internet here; Telegram would fetch it, the stand-in cannot.
        raise bad_request("failed to get HTTP URL content")
    stored = world.files.get(text)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return stored


def _photo_content(world: World, source: Upload | StoredFile) -> JSON:
    """The `photo` field (PhotoSize list) for an uploaded or known photo."""
    if isinstance(source, StoredFile):
        sizes = world.files.photo_set(source.file_id)
        if sizes is None:
            raise bad_request("type of file mismatch")
    else:
        if len(source.data) > BOT_PHOTO_LIMIT:
            raise bad_request("PHOTO_SAVE_FILE_INVALID")
        try:
            check_photo_dimensions(source.data)
            sizes = world.files.add_photo(source.data)
        except ValueError as exc:
            reason = str(exc)
            raise bad_request(
                reason if reason == "PHOTO_INVALID_DIMENSIONS" else "IMAGE_PROCESS_FAILED"
            ) from None
    return {"photo": [size.as_photo_size() for size in sizes]}


def _document_content(world: World, source: Upload | StoredFile) -> JSON:
    """The `document` field for an uploaded or known document."""
    if isinstance(source, StoredFile):
        if source.kind != "document":
            raise bad_request("type of file mismatch")
        return {"document": source.as_document()}
    if len(source.data) > BOT_UPLOAD_LIMIT:
        raise ApiError(413, "Request Entity Too Large")
    stored = world.files.add_document(
        source.data, source.filename, None, fallback_mime=source.content_type
    )
    return {"document": stored.as_document()}


async def send_photo(world: World, p: Params) -> JSON:
    """sendPhoto."""
    chat = target_chat(world, p)
    content = _photo_content(world, _input_file(world, p, p.raw("photo"), "photo"))
    caption, html = _formatted(
        world, p, "caption", "caption_entities", limit=CAPTION_LIMIT, empty=None
    )
    if p.get_bool("has_spoiler"):
        content["has_media_spoiler"] = True
    markup = _markup(p, chat)
    reply_to = _reply_target(chat, p)
    return _send(
        world, chat, {**content, **caption}, "photo", markup=markup, html=html, reply_to=reply_to
    )


async def send_document(world: World, p: Params) -> JSON:
    """sendDocument."""
    chat = target_chat(world, p)
    content = _document_content(world, _input_file(world, p, p.raw("document"), "document"))
    caption, html = _formatted(
        world, p, "caption", "caption_entities", limit=CAPTION_LIMIT, empty=None
    )
    markup = _markup(p, chat)
    reply_to = _reply_target(chat, p)
    return _send(
        world, chat, {**content, **caption}, "document", markup=markup, html=html, reply_to=reply_to
    )


def _album_item(world: World, p: Params, item: Any) -> tuple[JSON, str | None]:
    """Content of one InputMedia of a media group."""
    if not isinstance(item, dict) or "type" not in item:
        raise bad_request("can't parse InputMedia JSON object")
    kind = item["type"]
    source = _input_file(world, p, item.get("media"), "media")
    if kind == "photo":
        content = _photo_content(world, source)
    elif kind == "document":
        content = _document_content(world, source)
    else:
        raise bad_request(f"the sandbox supports photo and document albums, not {kind}")
    caption_params = Params(
        {
            "caption": item.get("caption"),
            "parse_mode": item.get("parse_mode"),
            "caption_entities": item.get("caption_entities"),
        }
    )
    caption, html = _formatted(
        world, caption_params, "caption", "caption_entities", limit=CAPTION_LIMIT, empty=None
    )
    return {**content, **caption}, html


async def send_media_group(world: World, p: Params) -> list[JSON]:
    """sendMediaGroup: 2-10 photos or documents sent as one album."""
    chat = target_chat(world, p)
    media = p.get_json("media", what="media")
    if media is None:
        raise bad_request('parameter "media" is required')
    if not isinstance(media, list):
        raise bad_request("can't parse media JSON object")
    if not media:
        raise bad_request("there are no messages to send")
    if len(media) > 10:
        raise bad_request("too many messages to send as an album")
    if len(media) < 2:
        raise bad_request("there must be at least two messages to send as an album")
    items = [_album_item(world, p, item) for item in media]
    reply_to = _reply_target(chat, p)
    world.check_can_send(chat)
    world.acquire(chat, len(items))
    group_id = world.new_media_group_id()
    messages = [
        world.new_message(
            chat, world.bot, {**content, "media_group_id": group_id}, reply_to=reply_to, html=html
        )
        for content, html in items
    ]
    first = messages[0].data
    world.record(
        chat,
        "album",
        text=first.get("caption"),
        message_id=first["message_id"],
        raw={"media_group_id": group_id, "messages": [m.data for m in messages]},
    )
    return [m.data for m in messages]


def location_object(p: Params) -> JSON:
    """Validated Location from latitude/longitude and the optional live-location fields."""
    latitude = p.get_float("latitude", empty="latitude is empty")
    longitude = p.get_float("longitude", empty="longitude is empty")
    assert latitude is not None and longitude is not None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request("wrong location specified")
    location: JSON = {"latitude": latitude, "longitude": longitude}
    accuracy = p.get_float("horizontal_accuracy")
    if accuracy is not None:
        if not 0 <= accuracy <= 1500:
            raise bad_request("wrong horizontal accuracy specified")
        location["horizontal_accuracy"] = accuracy
    live_period = p.get_int("live_period")
    if live_period is not None:
        if not (60 <= live_period <= 86400 or live_period == 0x7FFFFFFF):
            raise bad_request("wrong live period specified")
        location["live_period"] = live_period
    heading = p.get_int("heading")
    if heading is not None:
        if not 1 <= heading <= 360:
            raise bad_request("wrong heading specified")
        location["heading"] = heading
    radius = p.get_int("proximity_alert_radius")
    if radius is not None:
        location["proximity_alert_radius"] = radius
    return location


async def send_location(world: World, p: Params) -> JSON:
    """sendLocation."""
    chat = target_chat(world, p)
    location = location_object(p)
    markup = _markup(p, chat)
    reply_to = _reply_target(chat, p)
    return _send(world, chat, {"location": location}, "location", markup=markup, reply_to=reply_to)


async def send_venue(world: World, p: Params) -> JSON:
    """sendVenue."""
    chat = target_chat(world, p)
    location = location_object(p)
    venue = {
        "location": location,
        "title": p.get_str("title", empty="venue title is empty"),
        "address": p.get_str("address", empty="venue address is empty"),
    }
    markup = _markup(p, chat)
    reply_to = _reply_target(chat, p)
    return _send(
        world,
        chat,
        {"location": location, "venue": venue},
        "location",
        markup=markup,
        reply_to=reply_to,
    )


# --- editing ----------------------------------------------------------------------------------


def _editable(world: World, p: Params) -> tuple[ChatState, StoredMessage]:
    """The bot message an edit refers to, or Telegram's error."""
    if p.has("inline_message_id") and not p.has("chat_id"):
        # Inline-mode messages are not simulated.
        raise bad_request("MESSAGE_ID_INVALID")
    chat = target_chat(world, p)
    message_id = p.get_int("message_id", empty="message identifier is not specified")
    stored = chat.live_message(message_id)
    if stored is None:
        raise bad_request("message to edit not found")
    if not stored.from_bot:
        raise bad_request("message can't be edited")
    world.check_can_send(chat)
    return chat, stored


def _apply_edit(
    world: World,
    chat: ChatState,
    stored: StoredMessage,
    changes: JSON,
    markup: Markup | None,
    *,
    html: str | None = None,
    keep_html: bool = False,
) -> JSON:
    """Apply content/markup changes unless nothing changes (Telegram's 'not modified')."""
    edited = copy.deepcopy(stored.data)
    for key, value in changes.items():
        if value in (None, [], ""):
            edited.pop(key, None)
        else:
            edited[key] = value
    edited.pop("reply_markup", None)
    if markup:
        edited["reply_markup"] = markup
    comparable = {k: v for k, v in stored.data.items() if k != "edit_date"}
    if {k: v for k, v in edited.items() if k != "edit_date"} == comparable:
        raise bad_request(NOT_MODIFIED)
    world.acquire(chat, overall=False)
    had_buttons = "reply_markup" in stored.data
    edited["edit_date"] = world.now()
    stored.data = edited
    stored.markup = markup
    if not keep_html:
        stored.html = html
    shown_markup = markup if markup or not had_buttons else {"inline_keyboard": []}
    world.record(
        chat,
        "edit",
        text=edited.get("text", edited.get("caption")),
        html=stored.html,
        markup=shown_markup,
        message_id=stored.message_id,
        raw=edited,
    )
    return edited


async def edit_message_text(world: World, p: Params) -> JSON:
    """editMessageText; a missing reply_markup removes the keyboard, as in Telegram."""
    chat, stored = _editable(world, p)
    if "text" not in stored.data:
        raise bad_request("there is no text in the message to edit")
    content, html = _formatted(
        world, p, "text", "entities", limit=TEXT_LIMIT, empty="message text is empty"
    )
    markup = _markup(p, chat, inline_only=True)
    changes = {"text": content["text"], "entities": content.get("entities")}
    return _apply_edit(world, chat, stored, changes, markup, html=html)


async def edit_message_caption(world: World, p: Params) -> JSON:
    """editMessageCaption."""
    chat, stored = _editable(world, p)
    if not any(key in stored.data for key in ("photo", "document")):
        raise bad_request("there is no caption in the message to edit")
    content, html = _formatted(
        world, p, "caption", "caption_entities", limit=CAPTION_LIMIT, empty=None
    )
    markup = _markup(p, chat, inline_only=True)
    changes = {
        "caption": content.get("caption"),
        "caption_entities": content.get("caption_entities"),
    }
    return _apply_edit(world, chat, stored, changes, markup, html=html)


async def edit_message_reply_markup(world: World, p: Params) -> JSON:
    """editMessageReplyMarkup."""
    chat, stored = _editable(world, p)
    markup = _markup(p, chat, inline_only=True)
    return _apply_edit(world, chat, stored, {}, markup, keep_html=True)


async def edit_message_live_location(world: World, p: Params) -> JSON:
    """editMessageLiveLocation for the bot's own live locations."""
    chat, stored = _editable(world, p)
    current = stored.data.get("location")
    if not current or not current.get("live_period"):
        raise bad_request("message can't be edited")
    location = {**location_object(p), "live_period": current["live_period"]}
    markup = _markup(p, chat, inline_only=True)
    return _apply_edit(world, chat, stored, {"location": location}, markup, keep_html=True)


# --- removing, pinning, actions ------------------------------------------------------------


def _delete_one(world: World, chat: ChatState, message_id: int | None) -> None:
    """Delete one message the bot may delete."""
    stored = chat.live_message(message_id)
    if stored is None:
        raise bad_request("message to delete not found")
    if not (stored.from_bot or chat.private or world.bot_is_admin(chat)):
        raise bad_request("message can't be deleted")
    stored.deleted = True
    world.record(
        chat,
        "delete",
        text=stored.data.get("text", stored.data.get("caption")),
        message_id=stored.message_id,
        raw=stored.data,
    )


async def delete_message(world: World, p: Params) -> bool:
    """deleteMessage."""
    chat = target_chat(world, p)
    world.check_can_send(chat)
    _delete_one(world, chat, p.get_int("message_id", empty="message identifier is not specified"))
    return True


async def delete_messages(world: World, p: Params) -> bool:
    """deleteMessages: missing ones are skipped, as Telegram does."""
    chat = target_chat(world, p)
    world.check_can_send(chat)
    ids = p.get_json("message_ids") or []
    for message_id in ids:
        try:
            _delete_one(world, chat, int(message_id))
        except ApiError:
            continue
    return True


async def pin_chat_message(world: World, p: Params) -> bool:
    """pinChatMessage: groups need the bot to be an administrator."""
    chat = target_chat(world, p)
    world.check_can_send(chat)
    stored = chat.live_message(p.get_int("message_id", empty="message identifier is not specified"))
    if stored is None:
        raise bad_request("message to pin not found")
    if not world.bot_is_admin(chat):
        raise bad_request("not enough rights to manage pinned messages in the chat")
    stored.pinned = True
    world.record(
        chat,
        "pin",
        text=stored.data.get("text", stored.data.get("caption")),
        message_id=stored.message_id,
        raw=stored.data,
    )
    return True


async def unpin_chat_message(world: World, p: Params) -> bool:
    """unpinChatMessage: a given message, or the most recent pinned one."""
    chat = target_chat(world, p)
    world.check_can_send(chat)
    if not world.bot_is_admin(chat):
        raise bad_request("not enough rights to manage pinned messages in the chat")
    message_id = p.get_int("message_id")
    pinned = [m for m in chat.messages.values() if m.pinned and not m.deleted]
    if message_id is not None:
        pinned = [m for m in pinned if m.message_id == message_id]
    if not pinned:
        raise bad_request("message to unpin not found")
    stored = max(pinned, key=lambda m: m.message_id)
    stored.pinned = False
    world.record(chat, "unpin", message_id=stored.message_id, raw=stored.data)
    return True


async def unpin_all_chat_messages(world: World, p: Params) -> bool:
    """unpinAllChatMessages."""
    chat = target_chat(world, p)
    world.check_can_send(chat)
    if not world.bot_is_admin(chat):
        raise bad_request("not enough rights to manage pinned messages in the chat")
    for stored in chat.messages.values():
        if stored.pinned:
            stored.pinned = False
            world.record(chat, "unpin", message_id=stored.message_id, raw=stored.data)
    return True


async def send_chat_action(world: World, p: Params) -> bool:
    """sendChatAction."""
    chat = target_chat(world, p)
    action = p.get_str("action") or ""
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    world.check_can_send(chat)
    world.record(chat, "chat_action", text=CHAT_ACTIONS[action], raw={"action": action})
    return True


async def answer_callback_query(world: World, p: Params) -> bool:
    """answerCallbackQuery: each query can be answered once."""
    record = world.callbacks.get(p.get_str("callback_query_id") or "")
    if record is None or record.answered:
        raise bad_request(QUERY_TOO_OLD)
    text = p.get_str("text") or ""
    if len(text) > ANSWER_LIMIT:
        raise bad_request("MESSAGE_TOO_LONG")
    answer: JSON = {
        "callback_query_id": record.id,
        "text": text,
        "show_alert": p.get_bool("show_alert"),
    }
    for key in ("url", "cache_time"):
        if p.has(key):
            answer[key] = p.raw(key)
    record.answered = True
    record.answer = answer
    world.record(
        world.chats[record.chat_id],
        "callback_answer",
        text=text or None,
        message_id=record.message_id,
        raw=answer,
    )
    return True


async def get_file(world: World, p: Params) -> JSON:
    """getFile: files over 20 MB cannot be downloaded by bots."""
    stored = world.files.get(p.get_str("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > DOWNLOAD_LIMIT:
        raise bad_request("file is too big")
    return stored.as_file()


METHODS: dict[str, Handler] = {
    "sendMessage": send_message,
    "sendPhoto": send_photo,
    "sendDocument": send_document,
    "sendMediaGroup": send_media_group,
    "sendLocation": send_location,
    "sendVenue": send_venue,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "editMessageLiveLocation": edit_message_live_location,
    "deleteMessage": delete_message,
    "deleteMessages": delete_messages,
    "pinChatMessage": pin_chat_message,
    "unpinChatMessage": unpin_chat_message,
    "unpinAllChatMessages": unpin_all_chat_messages,
    "sendChatAction": send_chat_action,
    "answerCallbackQuery": answer_callback_query,
    "getFile": get_file,
}
