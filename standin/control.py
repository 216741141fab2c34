"""A small JSON control API under /_sandbox/ for drivers running in another process."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from standin.limits import Limits
from standin.transcript import Entry

if TYPE_CHECKING:
    from standin.actors import SandboxUser
    from standin.server import BotApiStandIn

JSON = dict[str, Any]
Route = Callable[[JSON], Awaitable[Any]]


class ControlError(Exception):
    """A bad control request (answered with 400 and a description)."""


class UnknownPath(LookupError):
    """No such control resource (answered with 404)."""


def _reply(result: Any, status: int = 200) -> web.Response:
    """Envelope like the Bot API's, so drivers can share their decoding."""
    body = {"ok": True, "result": result} if status == 200 else {"ok": False, "description": result}
    return web.Response(
        text=json.dumps(body, ensure_ascii=False, default=str),
        status=status,
        content_type="application/json",
    )


class ControlApi:
    """POST users/groups/send/location/press/config, GET chats/<id>/messages, stats, transcript."""

    def __init__(self, standin: BotApiStandIn):
        self.standin = standin
        self._posts: dict[str, Route] = {
            "users": self._create_user,
            "groups": self._create_group,
            "send": self._send,
            "location": self._location,
            "press": self._press,
            "config": self._config,
        }

    async def handle(self, request: web.Request, path: str) -> web.Response:
        """Dispatch one control request."""
        try:
            if request.method == "POST" and path in self._posts:
                body = await request.json() if request.can_read_body else {}
                if not isinstance(body, dict):
                    raise ControlError("a JSON object is expected")
                return _reply(await self._posts[path](body))
            if request.method == "GET":
                return _reply(self._get(path, request.query))
        except UnknownPath as exc:
            return _reply(f"Not Found: {exc}", 404)
        except (ControlError, KeyError, ValueError, TypeError) as exc:
            return _reply(f"{exc.__class__.__name__}: {exc}", 400)
        return _reply("Not Found", 404)

    def _get(self, path: str, query: Any) -> Any:
        """GET stats, config, transcript, chats/<id>/messages, chats/<id>/bot_messages and
        chats/<id>/menu_button (private chats)."""
        standin = self.standin
        if path == "stats":
            return standin.stats.as_dict()
        if path == "config":
            return self._current_config()
        if path == "transcript":
            chat_id = int(query["chat_id"]) if "chat_id" in query else None
            entries = standin.transcript(chat_id)[int(query.get("since", 0)) :]
            return {
                "entries": [_entry_dict(e) for e in entries],
                "text": standin.render(chat_id) if chat_id is not None else standin.render(),
            }
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "chats" and parts[1].lstrip("-").isdigit():
            if int(parts[1]) not in standin.world.chats:
                raise UnknownPath(f"chat {parts[1]}")
            chat = standin.world.chats[int(parts[1])]
            if parts[2] == "messages":
                return [
                    m.data
                    for m in sorted(chat.messages.values(), key=lambda m: m.message_id)
                    if not m.deleted
                ]
            if parts[2] == "bot_messages":
                return [m.as_dict() for m in standin.bot_messages(chat.id)]
            if parts[2] == "menu_button" and chat.private:
                return standin.menu_button(chat.id)
        raise UnknownPath(path)

    def _user(self, body: JSON) -> SandboxUser:
        """The acting user named by user_id."""
        if "user_id" not in body:
            raise ControlError("user_id is required")
        return self.standin.get_user(int(body["user_id"]))

    async def _create_user(self, body: JSON) -> JSON:
        """POST users {id, first_name, last_name?, username?, language_code?, started?}."""
        user = self.standin.user(
            int(body["id"]),
            str(body.get("first_name") or f"User {body['id']}"),
            body.get("last_name"),
            body.get("username"),
            body.get("language_code", "en"),
            started=bool(body.get("started", True)),
        )
        return user.as_user()

    async def _create_group(self, body: JSON) -> JSON:
        """POST groups {id, title, members: [ids], admins?, kind?, bot_is_member?, ...}."""
        standin = self.standin
        group = standin.group(
            int(body["id"]),
            str(body.get("title") or body["id"]),
            [standin.get_user(int(u)) for u in body.get("members", [])],
            bool(body.get("bot_is_member", True)),
            str(body.get("kind", "supergroup")),
            admins=[standin.get_user(int(u)) for u in body.get("admins", [])],
            bot_is_admin=bool(body.get("bot_is_admin", False)),
        )
        return group.chat.as_chat()

    async def _send(self, body: JSON) -> JSON:
        """POST send {user_id, text, chat_id?}."""
        return await self._user(body).send(str(body["text"]), chat=body.get("chat_id"))

    async def _location(self, body: JSON) -> JSON:
        """POST location {user_id, latitude, longitude, horizontal_accuracy?, live_period?, ...}."""
        options = {
            key: body[key]
            for key in ("horizontal_accuracy", "live_period", "heading", "venue", "date")
            if body.get(key) is not None
        }
        return await self._user(body).share_location(
            float(body["latitude"]), float(body["longitude"]), chat=body.get("chat_id"), **options
        )

    async def _press(self, body: JSON) -> JSON:
        """POST press {user_id, message_id, chat_id?, text? | callback_data?, forge?}."""
        user = self._user(body)
        return await user.press(
            int(body["message_id"]),
            body.get("text"),
            callback_data=body.get("callback_data"),
            forge=bool(body.get("forge", False)),
            chat=body.get("chat_id"),
        )

    async def _config(self, body: JSON) -> JSON:
        """POST config {delay?, limits?: null | {...Limits fields, scale?}}."""
        if "delay" in body:
            self.standin.delay = float(body["delay"] or 0.0)
        if "limits" in body:
            raw = body["limits"]
            self.standin.limits = None if raw is None else Limits.from_dict(raw)
        return self._current_config()

    def _current_config(self) -> JSON:
        """The switches as they are now."""
        limits = self.standin.limits
        return {"delay": self.standin.delay, "limits": limits.as_dict() if limits else None}


def _entry_dict(entry: Entry) -> JSON:
    """A transcript entry as JSON."""
    return dataclasses.asdict(entry)
