"""Acting as people: users who write, press buttons, share locations and files; groups."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from standin.formatting import utf16_len
from standin.markup import find_button, keyboard_kind
from standin.state import CallbackRecord, ChatState, Person, StoredMessage, World
from standin.views import BotMessage

JSON = dict[str, Any]
MessageRef = BotMessage | Mapping[str, Any] | int

# Telegram's clients mark these in user text; CommandHandler relies on bot_command.
_AUTO_ENTITIES = (
    ("bot_command", re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")),
    ("hashtag", re.compile(r"(?<![\w#])#\w+")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+")),
)
_PRESENT = ("creator", "administrator", "member", "restricted")


def auto_entities(text: str) -> list[JSON]:
    """Entities a Telegram client would attach to plain user text."""
    entities = []
    for kind, pattern in _AUTO_ENTITIES:
        for match in pattern.finditer(text):
            entities.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
    return sorted(entities, key=lambda e: e["offset"])


class SandboxUser:
    """A person talking to the bot; every action injects the update a client would cause."""

    def __init__(self, world: World, person: Person):
        self._world = world
        self.person = person

    def __repr__(self) -> str:
        return f"SandboxUser({self.id}, {self.display_name!r})"

    @property
    def id(self) -> int:
        """Telegram user id."""
        return self.person.id

    @property
    def chat_id(self) -> int:
        """The private chat with the bot has the user's id."""
        return self.person.id

    @property
    def first_name(self) -> str:
        """First name."""
        return self.person.first_name

    @property
    def username(self) -> str | None:
        """@username without the @."""
        return self.person.username

    @property
    def display_name(self) -> str:
        """Name as shown in transcripts."""
        return self.person.display_name

    @property
    def blocked(self) -> bool:
        """Whether the user currently blocks the bot."""
        return self._private.blocked

    @property
    def started(self) -> bool:
        """Whether the user ever wrote to the bot (or was created started)."""
        return self._private.started

    def as_user(self) -> JSON:
        """Telegram User object."""
        return self.person.as_user()

    @property
    def _private(self) -> ChatState:
        """The private chat with the bot."""
        return self._world.chats[self.id]

    # --- plumbing ----------------------------------------------------------------------

    def _chat(self, chat: SandboxGroup | int | None) -> ChatState:
        """Resolve where the user acts; they must be in that group."""
        if chat is None:
            return self._private
        chat_id = chat.id if isinstance(chat, SandboxGroup) else int(chat)
        state = self._world.chats.get(chat_id)
        if state is None:
            raise ValueError(f"unknown chat {chat_id}")
        if not state.private and state.members.get(self.id) not in _PRESENT:
            raise ValueError(f"{self.display_name} is not a member of {state.name}")
        if state.private and state.id != self.id:
            raise ValueError("users can only write in their own private chat with the bot")
        return state

    def _before_private_message(self, chat: ChatState) -> None:
        """Writing to the bot starts it, and unblocks it like Telegram's Restart button."""
        if chat.private:
            if chat.blocked:
                self.unblock_bot()
            chat.started = True

    def _message_ref(
        self, message: MessageRef, chat: SandboxGroup | int | None
    ) -> tuple[ChatState, int, StoredMessage | None]:
        """(chat, message_id, live stored message or None) for a message reference."""
        if isinstance(message, BotMessage):
            chat_id, message_id = message.chat_id, message.message_id
        elif isinstance(message, Mapping):
            data = message.get("message", message) if "update_id" in message else message
            chat_id, message_id = data["chat"]["id"], data["message_id"]
        else:
            chat_id = self._chat(chat).id
            message_id = int(message)
        state = self._world.chats.get(chat_id)
        if state is None:
            raise ValueError(f"unknown chat {chat_id}")
        return state, message_id, state.live_message(message_id)

    def _post(
        self,
        chat_ref: SandboxGroup | int | None,
        content: JSON,
        kind: str,
        *,
        reply_to: MessageRef | None = None,
        date: float | None = None,
    ) -> JSON:
        """Create the user's message, log it, and deliver it if the bot can see it."""
        world = self._world
        chat = self._chat(chat_ref)
        self._before_private_message(chat)
        replied = None
        if reply_to is not None:
            replied = self._message_ref(reply_to, chat.id)[2]
            if replied is None:
                raise ValueError("the message to reply to does not exist")
        stored = world.new_message(
            chat,
            self.person,
            content,
            reply_to=replied,
            date=int(date) if date is not None else None,
        )
        world.record_message(stored, kind)
        if world.bot_sees(chat, stored.data):
            return world.push_update("message", stored.data)
        return world.undelivered("message", stored.data)

    # --- actions -----------------------------------------------------------------------

    async def send(
        self,
        text: str,
        chat: SandboxGroup | int | None = None,
        *,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """Send text; commands get bot_command entities like from a real client."""
        text = text.strip()
        if not text:
            raise ValueError("Telegram clients do not send empty messages")
        if len(text) > 4096:
            raise ValueError("Telegram clients split texts over 4096 characters")
        content: JSON = {"text": text}
        entities = auto_entities(text)
        if entities:
            content["entities"] = entities
        return self._post(chat, content, "message", reply_to=reply_to)

    async def press(
        self,
        message: MessageRef,
        text: str | None = None,
        *,
        callback_data: str | None = None,
        forge: bool = False,
        chat: SandboxGroup | int | None = None,
    ) -> JSON:
        """Press an inline button by label or callback_data (forge=True: any data, any message).

        Pressing a reply-keyboard button sends its text, as Telegram clients do.
        """
        world = self._world
        state, message_id, stored = self._message_ref(message, chat)
        label: str | None = None
        if forge:
            if callback_data is None:
                raise ValueError("a forged press needs callback_data")
            data: str | None = callback_data
        else:
            if stored is None:
                raise ValueError(f"message {message_id} is not in {state.name} (anymore)")
            self._chat(state.id)  # only people in the chat see its buttons
            inline = stored.data.get("reply_markup")
            if not inline and keyboard_kind(stored.markup) == "reply":
                return await self._press_reply_button(stored, text, state)
            button = find_button(inline, text, callback_data)
            if button is None:
                shown = BotMessage.of(stored).buttons
                raise ValueError(f"no button {text or callback_data!r} on that message: {shown}")
            if "callback_data" not in button:
                raise ValueError(f"button {button['text']!r} is not a callback button: {button}")
            label, data = button["text"], button["callback_data"]
        query = {
            "id": world.new_callback_id(self.id),
            "from": self.person.as_user(),
            "message": copy.deepcopy(stored.data) if stored else _inaccessible(state, message_id),
            "chat_instance": str(-4_000_000_000_000_000_000 + abs(state.id)),
            "data": data,
        }
        world.record(
            state, "press", actor=self.person, text=label, message_id=message_id, raw=query
        )
        if state.private or state.bot_status not in ("left", "kicked"):
            update = world.push_update("callback_query", query)
        else:
            update = world.undelivered("callback_query", query)
        world.callbacks[query["id"]] = CallbackRecord(
            query["id"], state.id, message_id, self.id, data, update["update_id"]
        )
        return update

    async def _press_reply_button(
        self, stored: StoredMessage, text: str | None, state: ChatState
    ) -> JSON:
        """A reply keyboard button just sends its text."""
        button = find_button(stored.markup, text, None)
        if button is None:
            raise ValueError(f"no button {text!r} on that keyboard")
        if button.get("request_location"):
            raise ValueError("a location button shares a location: use share_location()")
        return await self.send(button["text"], chat=None if state.private else state.id)

    async def share_location(
        self,
        latitude: float,
        longitude: float,
        horizontal_accuracy: float | None = None,
        live_period: int | None = None,
        heading: int | None = None,
        forward_from: SandboxUser | None = None,
        venue: Mapping[str, str] | None = None,
        date: float | None = None,
        chat: SandboxGroup | int | None = None,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """Share a location (live with live_period, a venue, or forwarded from someone)."""
        location = _location(latitude, longitude, horizontal_accuracy, heading)
        if live_period is not None:
            location["live_period"] = live_period
        content: JSON = {"location": location}
        if venue is not None:
            content["venue"] = {
                "location": dict(location),
                "title": venue["title"],
                "address": venue["address"],
            }
        if forward_from is not None:
            content["forward_origin"] = {
                "type": "user",
                "sender_user": forward_from.as_user(),
                "date": int(date if date is not None else self._world.clock()),
            }
        return self._post(chat, content, "location", reply_to=reply_to, date=date)

    async def edit_location(
        self,
        message: MessageRef,
        latitude: float,
        longitude: float,
        horizontal_accuracy: float | None = None,
        heading: int | None = None,
    ) -> JSON:
        """Move a live location: the bot gets an edited_message update."""
        world = self._world
        state, message_id, stored = self._message_ref(message, None)
        if stored is None or stored.sender_id != self.id or "location" not in stored.data:
            raise ValueError(
                f"message {message_id} is not a location shared by {self.display_name}"
            )
        old = stored.data["location"]
        location = _location(latitude, longitude, horizontal_accuracy, heading)
        if old.get("live_period"):
            location["live_period"] = old["live_period"]
        stored.data["location"] = location
        stored.data["edit_date"] = world.now()
        world.record(state, "edit", actor=self.person, message_id=message_id, raw=stored.data)
        if world.bot_sees(state, stored.data):
            return world.push_update("edited_message", stored.data)
        return world.undelivered("edited_message", stored.data)

    async def send_photo(
        self,
        data: bytes,
        caption: str | None = None,
        as_document: bool = False,
        filename: str = "photo.jpg",
        mime_type: str | None = None,
        chat: SandboxGroup | int | None = None,
    ) -> JSON:
        """Send a compressed photo (re-encoded, EXIF gone) or the file as a document."""
        if as_document:
            return await self.send_document(data, filename, mime_type, caption=caption, chat=chat)
        sizes = self._world.files.add_photo(data)  # ValueError for non-images, like a client
        content: JSON = {"photo": [size.as_photo_size() for size in sizes]}
        if caption:
            content["caption"] = caption
        return self._post(chat, content, "photo")

    async def send_document(
        self,
        data: bytes,
        filename: str,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: SandboxGroup | int | None = None,
    ) -> JSON:
        """Send a file as a document: bytes untouched."""
        stored = self._world.files.add_document(data, filename, mime_type)
        content: JSON = {"document": stored.as_document()}
        if caption:
            content["caption"] = caption
        return self._post(chat, content, "document")

    async def send_other(
        self, kind: str, content: JSON | None = None, chat: SandboxGroup | int | None = None
    ) -> JSON:
        """Send a message of a kind the stand-in does not model further (sticker, voice,
        audio, video, video_note, contact, dice, poll, game), with Telegram's minimal fields
        unless `content` gives them."""
        world = self._world
        file = {"file_id": f"{kind}-{world.now()}", "file_unique_id": f"u-{kind}"}
        minimal: dict[str, JSON] = {
            "sticker": {**file, "type": "regular", "width": 512, "height": 512,
                        "is_animated": False, "is_video": False, "emoji": "👍"},
            "voice": {**file, "duration": 4, "mime_type": "audio/ogg"},
            "audio": {**file, "duration": 180, "mime_type": "audio/mpeg"},
            "video": {**file, "width": 640, "height": 360, "duration": 12},
            "video_note": {**file, "length": 240, "duration": 6},
            "contact": {"phone_number": "+8613800000000", "first_name": "Ada"},
            "dice": {"emoji": "🎲", "value": 4},
            "poll": {"id": "1", "question": "Lunch?", "total_voter_count": 0,
                     "options": [{"persistent_id": "a", "text": "Yes", "voter_count": 0},
                                 {"persistent_id": "b", "text": "No", "voter_count": 0}],
                     "is_closed": False, "is_anonymous": True, "type": "regular",
                     "allows_multiple_answers": False, "allows_revoting": True,
                     "members_only": False},
            "game": {"title": "Snake", "description": "A game",
                     "photo": [{**file, "width": 64, "height": 64}]},
        }
        if content is None and kind not in minimal:
            raise ValueError(f"no minimal {kind!r} message: give its content")
        # Recorded as a plain message: the transcript shows who sent something, not what.
        return self._post(chat, {kind: content if content is not None else minimal[kind]},
                          "message")

    async def edit(self, message: MessageRef, text: str) -> JSON:
        """Edit one of my text messages: the bot gets an edited_message update."""
        world = self._world
        state, message_id, stored = self._message_ref(message, None)
        if stored is None or stored.sender_id != self.id or "text" not in stored.data:
            raise ValueError(f"message {message_id} is not a text sent by {self.display_name}")
        stored.data["text"] = text
        entities = auto_entities(text)
        if entities:
            stored.data["entities"] = entities
        else:
            stored.data.pop("entities", None)
        stored.data["edit_date"] = world.now()
        world.record(state, "edit", actor=self.person, text=text, message_id=message_id,
                     raw=stored.data)
        if world.bot_sees(state, stored.data):
            return world.push_update("edited_message", stored.data)
        return world.undelivered("edited_message", stored.data)

    def block_bot(self) -> JSON:
        """Block the bot: sends to this user fail with 403 until unblocked."""
        return self._set_blocked(True)

    def unblock_bot(self) -> JSON:
        """Unblock the bot."""
        return self._set_blocked(False)

    def _set_blocked(self, blocked: bool) -> JSON:
        """Flip the block and tell the bot via my_chat_member, as Telegram does."""
        world, chat = self._world, self._private
        if chat.blocked == blocked:
            return {"update_id": None}
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        change = world.member_changed(chat, self.person, world.bot, old, new)
        verb = "blocked" if blocked else "unblocked"
        world.record(
            chat,
            "member_update",
            actor=self.person,
            text=f"{self.display_name} {verb} the bot",
            raw=change,
        )
        return world.push_update("my_chat_member", change)


def _location(
    latitude: float, longitude: float, accuracy: float | None, heading: int | None
) -> JSON:
    """Location object with the optional fields that were given."""
    location: JSON = {"latitude": float(latitude), "longitude": float(longitude)}
    if accuracy is not None:
        location["horizontal_accuracy"] = float(accuracy)
    if heading is not None:
        location["heading"] = int(heading)
    return location


def _inaccessible(chat: ChatState, message_id: int) -> JSON:
    """Telegram's InaccessibleMessage (date 0) for presses on unknown/deleted messages."""
    return {"chat": chat.as_chat(), "message_id": message_id, "date": 0}


class SandboxGroup:
    """A group or supergroup with members; adding/removing the bot notifies it."""

    def __init__(self, world: World, chat: ChatState):
        self._world = world
        self.chat = chat

    def __repr__(self) -> str:
        return f"SandboxGroup({self.id}, {self.title!r})"

    @property
    def id(self) -> int:
        """Chat id (negative)."""
        return self.chat.id

    @property
    def chat_id(self) -> int:
        """Same as id, for symmetry with SandboxUser."""
        return self.chat.id

    @property
    def title(self) -> str:
        """Group title."""
        return self.chat.title or ""

    @property
    def kind(self) -> str:
        """ "group" or "supergroup"."""
        return self.chat.kind

    @property
    def members(self) -> dict[int, str]:
        """Member statuses by user id."""
        return dict(self.chat.members)

    async def add_bot(self, by: SandboxUser, *, as_admin: bool = False) -> JSON:
        """Someone adds the bot: my_chat_member plus the new_chat_members service message."""
        world, chat = self._world, self.chat
        old = chat.bot_status
        new = "administrator" if as_admin else "member"
        if old == new:
            return {"update_id": None}  # nothing changes, Telegram sends nothing
        chat.bot_status, chat.bot_removed = new, False
        change = world.member_changed(chat, by.person, world.bot, old, new)
        world.record(
            chat,
            "member_update",
            actor=by.person,
            text=f"{by.display_name} added the bot ({old} → {new})",
            raw=change,
        )
        update = world.push_update("my_chat_member", change)
        if old in ("left", "kicked"):
            bot_user = world.bot.as_user()
            service = world.new_message(chat, by.person, {"new_chat_members": [bot_user]})
            world.push_update("message", service.data)
        return update

    async def remove_bot(self, by: SandboxUser) -> JSON:
        """Someone removes the bot: my_chat_member; sending there is then forbidden."""
        world, chat = self._world, self.chat
        old = chat.bot_status
        new = "kicked" if chat.kind == "supergroup" else "left"
        if old in ("left", "kicked"):
            return {"update_id": None}
        chat.bot_status, chat.bot_removed = new, True
        change = world.member_changed(chat, by.person, world.bot, old, new)
        world.record(
            chat,
            "member_update",
            actor=by.person,
            text=f"{by.display_name} removed the bot ({old} → {new})",
            raw=change,
        )
        return world.push_update("my_chat_member", change)
