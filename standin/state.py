"""The stand-in's world: people, chats, messages, callbacks, commands and the transcript."""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from standin.errors import ApiError, bad_request, forbidden
from standin.limits import FloodControl, Limits
from standin.markup import Markup, button_labels, keyboard_kind
from standin.media import FileStore
from standin.transcript import BOT_ACTOR, KINDS, Entry
from standin.updates import UpdateQueue

T = TypeVar("T")
JSON = dict[str, Any]


ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": True,
    "can_edit_stories": True,
    "can_delete_stories": True,
    "can_pin_messages": True,
    "can_manage_topics": False,
}


def chat_member(person: Person, status: str) -> JSON:
    """Telegram ChatMember object for a status."""
    member: JSON = {"status": status, "user": person.as_user()}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(ADMIN_RIGHTS)
    elif status == "kicked":
        member["until_date"] = 0
    return member


class ChangeSignal:
    """Wakes every waiter whenever anything in the world changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        """Wake all current waiters."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, probe: Callable[[], T | None], timeout: float | None) -> T:
        """Return the first truthy probe() result, re-checking after each change."""
        async with asyncio.timeout(timeout):
            while True:
                result = probe()
                if result:
                    return result
                await self._event.wait()


@dataclass
class Person:
    """A Telegram user known to the stand-in."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    @property
    def display_name(self) -> str:
        """First and last name, as clients show them."""
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def as_user(self) -> JSON:
        """Telegram User object."""
        user: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value:
                user[key] = value
        return user


@dataclass
class StoredMessage:
    """A message in a chat with what the test needs besides the Telegram object."""

    chat_id: int
    message_id: int
    sender_id: int
    from_bot: bool
    data: JSON
    html: str | None = None
    markup: Markup | None = None
    deleted: bool = False
    pinned: bool = False


@dataclass
class ChatState:
    """A private chat, group or supergroup and everything in it."""

    id: int
    kind: str
    title: str | None = None
    person: Person | None = None
    username: str | None = None
    members: dict[int, str] = field(default_factory=dict)
    bot_status: str = "member"
    bot_removed: bool = False
    started: bool = True
    blocked: bool = False
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    bot_sent: list[int] = field(default_factory=list)
    cursor: int = 0
    reply_keyboard: Markup | None = None

    @property
    def private(self) -> bool:
        """Whether this is a one-to-one chat with a user."""
        return self.kind == "private"

    @property
    def name(self) -> str:
        """Title for groups, the user's name for private chats."""
        if self.person:
            return self.person.display_name
        return self.title or str(self.id)

    def as_chat(self) -> JSON:
        """Telegram Chat object."""
        if self.person:
            chat = {"id": self.id, "type": "private", "first_name": self.person.first_name}
            if self.person.last_name:
                chat["last_name"] = self.person.last_name
            if self.person.username:
                chat["username"] = self.person.username
            return chat
        chat = {"id": self.id, "type": self.kind, "title": self.title or ""}
        if self.username:
            chat["username"] = self.username
        return chat

    def live_message(self, message_id: int | None) -> StoredMessage | None:
        """The message with that id unless it was deleted."""
        stored = self.messages.get(message_id) if message_id is not None else None
        return stored if stored and not stored.deleted else None


@dataclass
class CallbackRecord:
    """A pressed button waiting for (or having) the bot's answer."""

    id: str
    chat_id: int
    message_id: int
    user_id: int
    data: str | None
    update_id: int | None
    answered: bool = False
    answer: JSON | None = None


@dataclass
class Stats:
    """What the bot asked for and what came of it."""

    requests: Counter[str] = field(default_factory=Counter)
    too_many_requests: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    messages_per_chat: Counter[int] = field(default_factory=Counter)
    messages_sent: int = 0

    def as_dict(self) -> JSON:
        """JSON-friendly snapshot."""
        return {
            "requests": dict(self.requests),
            "too_many_requests": self.too_many_requests,
            "errors": {str(k): v for k, v in self.errors.items()},
            "messages_per_chat": {str(k): v for k, v in self.messages_per_chat.items()},
            "messages_sent": self.messages_sent,
        }

    def __getitem__(self, key: str) -> Any:
        """Dict-style access, e.g. stats["messages_sent"]."""
        return self.as_dict()[key]


class World:
    """Everything the stand-in knows; Bot API methods and actors both work on it."""

    def __init__(
        self,
        *,
        token: str,
        bot_username: str,
        bot_first_name: str,
        clock: Callable[[], float] = time.time,
        privacy_mode: bool = True,
        limits: Limits | None = None,
    ):
        self.token = token
        self.bot = Person(
            int(token.split(":", 1)[0]), bot_first_name, None, bot_username, None, True
        )
        self.clock = clock
        self.privacy_mode = privacy_mode
        self.limits = limits
        self.people: dict[int, Person] = {self.bot.id: self.bot}
        self.chats: dict[int, ChatState] = {}
        self.files = FileStore()
        self.signal = ChangeSignal()
        self.updates = UpdateQueue(self.signal)
        self.flood = FloodControl()
        self.stats = Stats()
        self.transcript: list[Entry] = []
        self.callbacks: dict[str, CallbackRecord] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        # setChatMenuButton: per private chat, and the bot's own under None.
        self.menu_buttons: dict[int | None, JSON] = {}
        self._callback_ids = itertools.count(1)
        self._media_groups = itertools.count(13_000_000_000_000_001)

    # --- lookups -----------------------------------------------------------------------

    def now(self) -> int:
        """Unix time for message dates."""
        return int(self.clock())

    def person_user(self, user_id: int) -> JSON | None:
        """User object for a known person (used for text mentions)."""
        person = self.people.get(user_id)
        return person.as_user() if person else None

    def chat(self, chat_ref: Any) -> ChatState:
        """The chat for a chat_id parameter (int, digit string or @username)."""
        if isinstance(chat_ref, str):
            ref = chat_ref.strip()
            if ref.startswith("@"):
                for chat in self.chats.values():
                    if chat.username and chat.username.lower() == ref[1:].lower():
                        return chat
                raise bad_request("chat not found")
            if not ref.lstrip("-").isdigit():
                raise bad_request("chat not found")
            chat_ref = int(ref)
        if isinstance(chat_ref, bool) or not isinstance(chat_ref, int):
            raise bad_request("chat not found")
        chat = self.chats.get(chat_ref)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def add_person(self, person: Person, *, started: bool = True) -> ChatState:
        """Register a user and their private chat with the bot."""
        self.people[person.id] = person
        chat = self.chats.get(person.id)
        if chat is None:
            chat = ChatState(person.id, "private", person=person, started=started)
            self.chats[person.id] = chat
        else:
            chat.person = person
        return chat

    # --- the bot's permissions -----------------------------------------------------------

    def check_can_send(self, chat: ChatState) -> None:
        """Raise Telegram's 403 when the bot cannot write to the chat."""
        if chat.private:
            if chat.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.started:
                raise forbidden("bot can't initiate conversation with a user")
            return
        if chat.bot_status in ("left", "kicked"):
            if chat.bot_removed:
                raise forbidden(f"bot was kicked from the {chat.kind} chat")
            raise forbidden(f"bot is not a member of the {chat.kind} chat")

    def bot_is_admin(self, chat: ChatState) -> bool:
        """Whether the bot administers the group (private chats count as yes)."""
        return chat.private or chat.bot_status in ("administrator", "creator")

    def acquire(self, chat: ChatState, count: int = 1, *, overall: bool = True) -> None:
        """Apply flood limits for `count` messages to the chat (429 if over)."""
        try:
            self.flood.acquire(
                self.limits, chat.id, private=chat.private, count=count, overall=overall
            )
        except ApiError:
            self.stats.too_many_requests += 1
            raise

    # --- messages ----------------------------------------------------------------------

    def new_message(
        self,
        chat: ChatState,
        sender: Person,
        content: JSON,
        *,
        reply_to: StoredMessage | None = None,
        markup: Markup | None = None,
        html: str | None = None,
        date: int | None = None,
    ) -> StoredMessage:
        """Create a message in the chat (from the bot or a user)."""
        message_id = chat.next_message_id
        chat.next_message_id += 1
        data: JSON = {
            "message_id": message_id,
            "from": sender.as_user(),
            "chat": chat.as_chat(),
            "date": self.now() if date is None else date,
        }
        if reply_to is not None:
            replied = copy.deepcopy(reply_to.data)
            replied.pop("reply_to_message", None)
            data["reply_to_message"] = replied
        data.update(content)
        if keyboard_kind(markup) == "inline":
            data["reply_markup"] = markup
        stored = StoredMessage(chat.id, message_id, sender.id, sender.is_bot, data, html, markup)
        chat.messages[message_id] = stored
        if sender.is_bot:
            chat.bot_sent.append(message_id)
            self.stats.messages_per_chat[chat.id] += 1
            self.stats.messages_sent += 1
            if keyboard_kind(markup) in ("reply", "remove"):
                chat.reply_keyboard = markup if keyboard_kind(markup) == "reply" else None
        return stored

    def record(
        self,
        chat: ChatState,
        kind: str,
        *,
        actor: Person | None = None,
        text: str | None = None,
        html: str | None = None,
        markup: Markup | None = None,
        message_id: int | None = None,
        raw: JSON | None = None,
    ) -> Entry:
        """Append a transcript entry and wake waiters."""
        if kind not in KINDS:
            raise ValueError(f"unknown transcript kind {kind!r}")
        actor = actor or self.bot
        entry = Entry(
            index=len(self.transcript),
            time=self.clock(),
            chat_id=chat.id,
            chat_title=chat.name,
            chat_kind=chat.kind,
            actor=BOT_ACTOR if actor.is_bot else actor.display_name,
            actor_id=actor.id,
            kind=kind,
            text=text,
            html=html,
            buttons=button_labels(markup),
            keyboard=keyboard_kind(markup),
            message_id=message_id,
            raw=copy.deepcopy(raw) if raw is not None else {},
            markup=copy.deepcopy(markup),
        )
        self.transcript.append(entry)
        self.signal.fire()
        return entry

    def record_message(self, stored: StoredMessage, kind: str) -> Entry:
        """Transcript entry for a freshly created message."""
        chat = self.chats[stored.chat_id]
        data = stored.data
        return self.record(
            chat,
            kind,
            actor=self.people.get(stored.sender_id),
            text=data.get("text", data.get("caption")),
            html=stored.html,
            markup=stored.markup,
            message_id=stored.message_id,
            raw=data,
        )

    def member_changed(
        self, chat: ChatState, actor: Person, person: Person, old: str, new: str
    ) -> JSON:
        """Telegram ChatMemberUpdated for a status change."""
        return {
            "chat": chat.as_chat(),
            "from": actor.as_user(),
            "date": self.now(),
            "old_chat_member": chat_member(person, old),
            "new_chat_member": chat_member(person, new),
        }

    # --- updates -----------------------------------------------------------------------

    def push_update(self, kind: str, payload: JSON) -> JSON:
        """Queue an update for the bot (a snapshot, so later edits don't leak in)."""
        return self.updates.push(kind, copy.deepcopy(payload))

    def undelivered(self, kind: str, payload: JSON) -> JSON:
        """The update the bot would have got, marked as never delivered (update_id None)."""
        return {"update_id": None, kind: copy.deepcopy(payload)}

    def bot_sees(self, chat: ChatState, message: JSON) -> bool:
        """Whether a user's message reaches the bot (membership and privacy mode)."""
        if chat.private:
            return not chat.blocked
        if chat.bot_status in ("left", "kicked"):
            return False
        if not self.privacy_mode or self.bot_is_admin(chat):
            return True
        replied = message.get("reply_to_message")
        if replied and replied.get("from", {}).get("id") == self.bot.id:
            return True
        if any(key in message for key in ("new_chat_members", "left_chat_member")):
            return True
        return self._addressed_command(message)

    def _addressed_command(self, message: JSON) -> bool:
        """A command at the start of the text that is not addressed to another bot."""
        for entity in message.get("entities", []):
            if entity["type"] == "bot_command" and entity["offset"] == 0:
                command = message["text"][: entity["length"]]
                _, at, target = command.partition("@")
                return not at or target.lower() == (self.bot.username or "").lower()
        return False

    def new_media_group_id(self) -> str:
        """A fresh media_group_id."""
        return str(next(self._media_groups))

    def new_callback_id(self, user_id: int) -> str:
        """A fresh callback query id (numeric string, like Telegram's)."""
        return f"{user_id % 10**6:06d}{next(self._callback_ids):010d}"
