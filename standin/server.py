"""BotApiStandIn: a local Telegram Bot API server for running the real bot without Telegram."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp
from aiohttp import web

from standin import api_bot, api_messages
from standin.actors import SandboxGroup, SandboxUser
from standin.control import ControlApi
from standin.errors import ApiError
from standin.limits import Limits
from standin.params import read_params
from standin.state import ChatState, Person, Stats, World
from standin.transcript import Entry, render_transcript
from standin.views import BotMessage

JSON = dict[str, Any]
ChatRef = int | SandboxUser | SandboxGroup

_LOG = logging.getLogger(__name__)
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_NEW_MESSAGE_KINDS = frozenset({"message", "photo", "document", "location", "album"})
# Room for 50 MB documents plus multipart overhead.
_MAX_REQUEST = 60 * 1024 * 1024


def _json(body: Any, status: int = 200) -> web.Response:
    """A JSON response the way Telegram sends them."""
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


def _error(error: ApiError) -> web.Response:
    """An error envelope with the matching HTTP status."""
    return _json(error.payload(), error.code)


class BotApiStandIn:
    """A Bot API server on 127.0.0.1 that records everything and lets code act as users.

    Point python-telegram-bot at it with base_url=standin.base_url and
    base_file_url=standin.base_file_url. Every state change happens on the event loop
    the stand-in was started on, so tests in that loop never see half-done changes.
    """

    def __init__(
        self,
        token: str = "123456:SANDBOX",
        bot_username: str = "crmbot_demo_bot",
        bot_first_name: str = "crmbot",
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits | None = None,
        delay: float = 0.0,
        clock: Callable[[], float] = time.time,
        *,
        privacy_mode: bool = True,
    ):
        if not _TOKEN_RE.match(token):
            raise ValueError(f"not a bot token: {token!r}")
        self.world = World(
            token=token,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            clock=clock,
            privacy_mode=privacy_mode,
            limits=limits,
        )
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.delay = delay
        self._methods = {
            name.lower(): (name, handler)
            for name, handler in {**api_bot.METHODS, **api_messages.METHODS}.items()
        }
        self._control = ControlApi(self)
        self._runner: web.AppRunner | None = None
        self._inflight = 0
        self._last_activity = time.monotonic()

    # --- identity and switches -------------------------------------------------------------

    @property
    def token(self) -> str:
        """The bot token the stand-in accepts."""
        return self.world.token

    @property
    def bot_id(self) -> int:
        """The bot's user id (the token's part before ':')."""
        return self.world.bot.id

    @property
    def bot_username(self) -> str:
        """The bot's @username without the @."""
        return self.world.bot.username or ""

    @property
    def limits(self) -> Limits | None:
        """Flood limits in force (None = off); may be switched at any time."""
        return self.world.limits

    @limits.setter
    def limits(self, value: Limits | None) -> None:
        self.world.limits = value

    @property
    def clock(self) -> Callable[[], float]:
        """Unix-time source for message dates; tests may replace it."""
        return self.world.clock

    @clock.setter
    def clock(self, value: Callable[[], float]) -> None:
        self.world.clock = value

    @property
    def privacy_mode(self) -> bool:
        """Whether the bot only sees commands and replies in groups where it is not admin."""
        return self.world.privacy_mode

    @privacy_mode.setter
    def privacy_mode(self, value: bool) -> None:
        self.world.privacy_mode = value

    @property
    def stats(self) -> Stats:
        """Requests per method, 429s sent, messages per chat and in total."""
        return self.world.stats

    @property
    def base_url(self) -> str:
        """PTB's base_url (the token is appended by PTB)."""
        return f"http://{self.host}:{self._running_port()}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB's base_file_url."""
        return f"http://{self.host}:{self._running_port()}/file/bot"

    def _running_port(self) -> int:
        """The bound port; the stand-in must be started."""
        if self.port is None:
            raise RuntimeError("BotApiStandIn is not started")
        return self.port

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the server and start serving."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=_MAX_REQUEST)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.world.updates.stopping = False
        self.world.updates.http = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Release long polls, stop webhook delivery and close the server."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self.world.updates.close()
        http, self.world.updates.http = self.world.updates.http, None
        if http is not None:
            await http.close()
        await runner.cleanup()

    async def __aenter__(self) -> BotApiStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- HTTP ------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """Route Bot API calls, file downloads and the control API."""
        path = request.path
        if path.startswith("/_sandbox/"):
            return await self._control.handle(request, path[len("/_sandbox/") :])
        if path.startswith("/file/bot"):
            return await self._download(path[len("/file/bot") :])
        if path.startswith("/bot"):
            return await self._api_call(request, path[len("/bot") :])
        return _error(ApiError(404, "Not Found"))

    async def _api_call(self, request: web.Request, rest: str) -> web.Response:
        """One Bot API method call."""
        token, _, method = rest.partition("/")
        if token != self.token:
            return _error(ApiError(401, "Unauthorized"))
        found = self._methods.get(method.lower()) if method and "/" not in method else None
        if found is None:
            return _error(ApiError(404, "Not Found"))
        name, handler = found
        self.stats.requests[name] += 1
        long_poll = name == "getUpdates"
        self._touch(0 if long_poll else 1)
        try:
            try:
                params = await read_params(request)
                response = _json({"ok": True, "result": await handler(self.world, params)})
            except ApiError as error:
                self.stats.errors[error.code] += 1
                response = _error(error)
            except Exception as exc:
                # A stand-in bug must not look like a network failure to the bot under test.
                _LOG.exception("sandbox failed in %s", name)
                self.stats.errors[500] += 1
                response = _error(ApiError(500, f"Internal Server Error: sandbox {exc!r}"))
            if self.delay > 0:
                await asyncio.sleep(self.delay)
            return response
        finally:
            self._touch(0 if long_poll else -1)

    async def _download(self, rest: str) -> web.Response:
        """GET /file/bot<token>/<file_path>."""
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return _error(ApiError(401, "Unauthorized"))
        stored = self.world.files.by_path(file_path)
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if stored is None:
            return _error(ApiError(404, "Not Found"))
        return web.Response(body=stored.data, content_type=stored.mime_type or "image/jpeg")

    def _touch(self, inflight_change: int) -> None:
        """Note bot activity for idle()."""
        self._inflight += inflight_change
        self._last_activity = time.monotonic()

    # --- people and chats ---------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        *,
        started: bool = True,
    ) -> SandboxUser:
        """A user with a private chat with the bot (started=False: never pressed Start)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        if user_id == self.bot_id:
            raise ValueError("that id belongs to the bot")
        person = Person(user_id, first_name, last_name, username, language_code)
        self.world.add_person(person, started=started)
        return SandboxUser(self.world, person)

    def group(
        self,
        chat_id: int,
        title: str,
        members: Iterable[SandboxUser] = (),
        bot_is_member: bool = True,
        kind: str = "supergroup",
        *,
        admins: Iterable[SandboxUser] = (),
        creator: SandboxUser | None = None,
        bot_is_admin: bool = False,
        username: str | None = None,
    ) -> SandboxGroup:
        """A group the users are in; the bot is already a member unless told otherwise."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative (supergroups start with -100)")
        if kind not in ("group", "supergroup"):
            raise ValueError("kind is 'group' or 'supergroup'")
        if chat_id in self.world.chats:
            raise ValueError(f"chat {chat_id} already exists")
        chat = ChatState(chat_id, kind, title=title, username=username)
        for member in members:
            chat.members[member.id] = "member"
        for admin in admins:
            chat.members[admin.id] = "administrator"
        if creator is not None:
            chat.members[creator.id] = "creator"
        if bot_is_admin:
            chat.bot_status = "administrator"
        elif not bot_is_member:
            chat.bot_status = "left"
        self.world.chats[chat_id] = chat
        return SandboxGroup(self.world, chat)

    def get_user(self, user_id: int) -> SandboxUser:
        """The SandboxUser for a known user id."""
        person = self.world.people.get(user_id)
        if person is None or person.is_bot:
            raise KeyError(f"unknown user {user_id}")
        return SandboxUser(self.world, person)

    # --- observing -------------------------------------------------------------------------

    def _chat_state(self, chat: ChatRef) -> ChatState:
        """The chat behind an id, user or group."""
        chat_id = chat if isinstance(chat, int) else chat.chat_id
        state = self.world.chats.get(chat_id)
        if state is None:
            raise KeyError(f"unknown chat {chat_id}")
        return state

    def transcript(self, chat_id: ChatRef | None = None) -> list[Entry]:
        """Everything so far in order, or one chat's part of it."""
        if chat_id is None:
            return list(self.world.transcript)
        wanted = self._chat_state(chat_id).id
        return [e for e in self.world.transcript if e.chat_id == wanted]

    def render(self, chat_id: ChatRef | None = None, **options: Any) -> str:
        """render_transcript of the whole transcript or one chat."""
        return render_transcript(self.transcript(chat_id), **options)

    def mark(self) -> int:
        """The current transcript length: pass as since= to wait only for what comes next."""
        return len(self.world.transcript)

    def bot_messages(self, chat_id: ChatRef) -> list[BotMessage]:
        """The bot's messages in a chat as they stand now (edited; deleted ones left out)."""
        chat = self._chat_state(chat_id)
        return [
            BotMessage.of(m)
            for m in sorted(chat.messages.values(), key=lambda m: m.message_id)
            if m.from_bot and not m.deleted
        ]

    def skip_bot_messages(self, chat_id: ChatRef) -> None:
        """Move next_bot_message's cursor past everything the bot has sent so far."""
        chat = self._chat_state(chat_id)
        chat.cursor = len(chat.bot_sent)

    async def next_bot_message(
        self, chat_id: ChatRef, timeout: float = 5.0, *, since: int | None = None
    ) -> BotMessage:
        """The bot's next new message in the chat, waiting for it if needed.

        Each chat has a cursor: every message the bot sends is returned once, in order, so
        a reply that arrives before you call this is not missed. With since= (a transcript
        index, e.g. from mark()) the first bot message at or after it is returned instead.
        """
        chat = self._chat_state(chat_id)

        def probe() -> int | None:
            if since is not None:
                return self._first_bot_message_since(chat, since)
            return chat.bot_sent[chat.cursor] if chat.cursor < len(chat.bot_sent) else None

        try:
            message_id = await self.world.signal.wait_for(probe, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no new bot message in {chat.name} within {timeout}s; chat so far:\n"
                + render_transcript(self.transcript(chat.id)[-15:])
            ) from None
        position = chat.bot_sent.index(message_id) + 1
        chat.cursor = max(chat.cursor, position)
        return BotMessage.of(chat.messages[message_id])

    def _first_bot_message_since(self, chat: ChatState, since: int) -> int | None:
        """Message id of the first new bot message in chat at transcript index >= since."""
        for entry in self.world.transcript[since:]:
            if entry.chat_id == chat.id and entry.by_bot and entry.kind in _NEW_MESSAGE_KINDS:
                return entry.message_id
        return None

    async def wait_for(
        self, predicate: Callable[[Entry], bool], timeout: float = 5.0, *, since: int | None = None
    ) -> Entry:
        """The first transcript entry matching predicate, added after the call (or since=)."""
        transcript = self.world.transcript
        checked = self.mark() if since is None else since

        def probe() -> Entry | None:
            nonlocal checked  # entries already rejected need no second look
            for entry in transcript[checked:]:
                checked = entry.index + 1
                if predicate(entry):
                    return entry
            return None

        try:
            return await self.world.signal.wait_for(probe, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no matching transcript entry within {timeout}s; latest entries:\n"
                + render_transcript(transcript[-15:])
            ) from None

    async def wait_fetched(self, update: int | JSON, timeout: float = 5.0) -> None:
        """Wait until the bot confirmed the update (getUpdates offset past it, or webhook 2xx)."""
        update_id = update.get("update_id") if isinstance(update, dict) else update
        if update_id is None:
            raise ValueError(
                "this update was never delivered to the bot (privacy mode, bot not in the "
                "chat, blocked, or excluded by allowed_updates)"
            )
        status = self.world.updates.status

        def probe() -> str | None:
            return (
                status.get(update_id)
                if status.get(update_id) not in ("pending", "delivered")
                else None
            )

        try:
            final = await self.world.signal.wait_for(probe, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"update {update_id} not fetched within {timeout}s (status: "
                f"{status.get(update_id)}); is the bot polling or is the webhook set?"
            ) from None
        if final != "fetched":
            raise RuntimeError(f"update {update_id} was {final}, never processed by the bot")

    async def idle(self, quiet: float = 0.1, timeout: float = 10.0) -> None:
        """Wait until no update is pending and the bot made no request for `quiet` seconds.

        A waiting long poll does not count as activity. A handler that thinks longer than
        `quiet` without calling the API looks idle; use next_bot_message/wait_for then.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    busy = self._inflight > 0 or self.world.updates.pending_count > 0
                    quiet_for = time.monotonic() - self._last_activity
                    if not busy and quiet_for >= quiet:
                        return
                    await asyncio.sleep(0.01 if busy else max(quiet - quiet_for, 0.005))
        except TimeoutError:
            raise TimeoutError(
                f"bot not idle within {timeout}s: {self._inflight} requests in flight, "
                f"{self.world.updates.pending_count} updates pending"
            ) from None

    def callback_answer(self, update: JSON) -> JSON | None:
        """What the bot answered to a press (text, show_alert, ...), or None if not yet."""
        query = update.get("callback_query", update)
        record = self.world.callbacks.get(query.get("id", ""))
        return dict(record.answer) if record and record.answer is not None else None

    def received_messages(self, chat_id: ChatRef | None = None) -> int:
        """How many messages the bot successfully sent (album items count one each)."""
        if chat_id is None:
            return self.stats.messages_sent
        return self.stats.messages_per_chat[self._chat_state(chat_id).id]

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands stored by setMyCommands for exactly this scope and language."""
        return list(self.world.commands.get(api_bot.scope_key(scope, language_code), []))

    def menu_button(self, chat: ChatRef | None = None) -> JSON:
        """The menu button setChatMenuButton left for a private chat (None: the bot's own);
        {"type": "default"} when none was set."""
        chat_id = None if chat is None else self._chat_state(chat).id
        return copy.deepcopy(self.world.menu_buttons.get(chat_id, api_bot.DEFAULT_MENU_BUTTON))

    def commands_for(self, user: SandboxUser, chat: ChatRef | None = None) -> list[JSON]:
        """The command menu this user sees in a chat (Telegram's scope/language fallback)."""
        chat_id = None if chat is None else self._chat_state(chat).id
        return api_bot.visible_commands(self.world, user.id, chat_id)

    def update_status(self, update: int | JSON) -> str | None:
        """pending / delivered / fetched / dropped / failed, or None if never queued."""
        update_id = update.get("update_id") if isinstance(update, dict) else update
        return self.world.updates.status.get(update_id) if update_id is not None else None
