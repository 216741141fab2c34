"""Bot API methods about the bot itself, updates, commands and chat information."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from standin.api_messages import target_chat
from standin.errors import bad_request
from standin.markup import check_web_app
from standin.params import Params
from standin.state import ChatState, World, chat_member
from standin.updates import Webhook

JSON = dict[str, Any]
Handler = Callable[[World, Params], Awaitable[Any]]

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2}$")
_SCOPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}


async def get_me(world: World, p: Params) -> JSON:
    """getMe."""
    return {
        **world.bot.as_user(),
        "can_join_groups": True,
        "can_read_all_group_messages": not world.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


async def answer_true(world: World, p: Params) -> bool:
    """logOut and close: nothing to do locally."""
    return True


# --- updates ----------------------------------------------------------------------------------


async def get_updates(world: World, p: Params) -> list[JSON]:
    """getUpdates with offset confirmation and long polling."""
    allowed = p.get_json("allowed_updates", what="allowed updates")
    if allowed is not None and not isinstance(allowed, list):
        raise bad_request("can't parse allowed updates JSON object")
    return await world.updates.poll(
        p.get_int("offset"),
        p.get_int("limit") or 100,
        p.get_float("timeout") or 0.0,
        allowed,
    )


def _apply_update_options(world: World, p: Params) -> None:
    """drop_pending_updates and allowed_updates shared by setWebhook/deleteWebhook."""
    if p.get_bool("drop_pending_updates"):
        world.updates.drop_pending()
    allowed = p.get_json("allowed_updates", what="allowed updates")
    if isinstance(allowed, list):
        world.updates.allowed = list(allowed) or None


async def set_webhook(world: World, p: Params) -> bool:
    """setWebhook; an empty url removes it. Plain http is allowed for local receivers."""
    url = p.get_str("url") or ""
    secret = p.get_str("secret_token")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not _SECRET_RE.match(secret):
            raise bad_request("bad webhook: secret token contains unallowed characters")
    _apply_update_options(world, p)
    if not url:
        world.updates.set_webhook(None)
        return True
    webhook = Webhook(
        url=url,
        secret_token=secret,
        max_connections=p.get_int("max_connections") or 40,
        ip_address=p.get_str("ip_address"),
    )
    world.updates.set_webhook(webhook)
    return True


async def delete_webhook(world: World, p: Params) -> bool:
    """deleteWebhook."""
    _apply_update_options(world, p)
    world.updates.set_webhook(None)
    return True


async def get_webhook_info(world: World, p: Params) -> JSON:
    """getWebhookInfo."""
    queue = world.updates
    if queue.webhook is None:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": queue.pending_count,
        }
    return queue.webhook.info(queue.pending_count, queue.allowed)


# --- commands ---------------------------------------------------------------------------------


def _scope_key(world: World, p: Params) -> tuple[str, str]:
    """Storage key for (scope, language_code), validating both."""
    scope = p.get_json("scope", what="BotCommandScope") or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    normalized: JSON = {"type": scope["type"]}
    for key in _SCOPES[scope["type"]]:
        if scope.get(key) is None:
            raise bad_request(f"can't parse BotCommandScope JSON object: {key} is missing")
        normalized[key] = world.chat(scope[key]).id if key == "chat_id" else int(scope[key])
    language = p.get_str("language_code") or ""
    if language and not _LANGUAGE_RE.match(language):
        raise bad_request("invalid language code specified")
    return json.dumps(normalized, sort_keys=True), language


def scope_key(scope: JSON | None, language_code: str = "") -> tuple[str, str]:
    """The storage key for a scope dict, for tests reading commands back."""
    normalized = dict(scope or {"type": "default"})
    return json.dumps(normalized, sort_keys=True), language_code


async def set_my_commands(world: World, p: Params) -> bool:
    """setMyCommands: validated and stored per scope and language."""
    commands = p.get_json("commands", what="commands")
    if commands is None:
        raise bad_request('parameter "commands" is required')
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    checked = []
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND_RE.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        description = command.get("description")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": command["command"], "description": description})
    key = _scope_key(world, p)
    if checked:
        world.commands[key] = checked
    else:
        world.commands.pop(key, None)
    return True


async def get_my_commands(world: World, p: Params) -> list[JSON]:
    """getMyCommands: exactly the list stored for that scope and language."""
    return world.commands.get(_scope_key(world, p), [])


async def delete_my_commands(world: World, p: Params) -> bool:
    """deleteMyCommands."""
    world.commands.pop(_scope_key(world, p), None)
    return True


def visible_commands(world: World, user_id: int, chat_id: int | None = None) -> list[JSON]:
    """The command menu a user would see in a chat, resolved like Telegram's clients do."""
    chat = world.chats.get(chat_id if chat_id is not None else user_id)
    person = world.people.get(user_id)
    language = (person.language_code or "")[:2] if person else ""
    scopes: list[JSON] = []
    if chat is None or chat.private:
        target = chat.id if chat else user_id
        scopes += [{"type": "chat", "chat_id": target}, {"type": "all_private_chats"}]
    else:
        admin = chat.members.get(user_id) in ("administrator", "creator")
        scopes.append({"type": "chat_member", "chat_id": chat.id, "user_id": user_id})
        if admin:
            scopes.append({"type": "chat_administrators", "chat_id": chat.id})
        scopes.append({"type": "chat", "chat_id": chat.id})
        if admin:
            scopes.append({"type": "all_chat_administrators"})
        scopes.append({"type": "all_group_chats"})
    scopes.append({"type": "default"})
    for scope in scopes:
        for lang in dict.fromkeys((language, "")):
            found = world.commands.get(scope_key(scope, lang))
            if found:
                return found
    return []


# --- the menu button -------------------------------------------------------------------------

_MENU_TYPES = ("commands", "web_app", "default")
_MENU_TEXT = 64
DEFAULT_MENU_BUTTON: JSON = {"type": "default"}


def _menu_chat(world: World, p: Params) -> int | None:
    """The private chat named by chat_id, or None for the bot's own menu button."""
    if not p.has("chat_id"):
        return None
    chat = world.chat(p.raw("chat_id"))
    if not chat.private:
        raise bad_request("invalid chat_id specified")
    return chat.id


def _menu_button(raw: Any) -> JSON:
    """A MenuButton checked like Telegram: a Web App needs 1-64 characters and HTTPS."""
    if not isinstance(raw, dict) or raw.get("type") not in _MENU_TYPES:
        raise bad_request("can't parse menu button JSON object")
    if raw["type"] != "web_app":
        return {"type": raw["type"]}
    text = raw.get("text")
    if not isinstance(text, str) or not 1 <= len(text.strip()) <= _MENU_TEXT:
        raise bad_request("BUTTON_TEXT_INVALID")
    return {"type": "web_app", "text": text, "web_app": {"url": check_web_app(
        raw.get("web_app"), "menu button")}}


async def set_chat_menu_button(world: World, p: Params) -> bool:
    """setChatMenuButton: a private chat's own button, or the bot's; default removes it."""
    chat_id = _menu_chat(world, p)
    button = _menu_button(p.get_json("menu_button", what="menu button") or DEFAULT_MENU_BUTTON)
    if button == DEFAULT_MENU_BUTTON:
        world.menu_buttons.pop(chat_id, None)
    else:
        world.menu_buttons[chat_id] = button
    return True


async def get_chat_menu_button(world: World, p: Params) -> JSON:
    """getChatMenuButton: what was set for the chat (or the bot), else the default."""
    return copy.deepcopy(world.menu_buttons.get(_menu_chat(world, p), DEFAULT_MENU_BUTTON))


# --- chats ------------------------------------------------------------------------------------


def _member_status(chat: ChatState, world: World, user_id: int) -> str:
    """A user's (or the bot's) status in the chat."""
    if user_id == world.bot.id:
        return "member" if chat.private else chat.bot_status
    if chat.private:
        if user_id != chat.id:
            raise bad_request("user not found")
        return "member"
    return chat.members.get(user_id, "left")


def _in_chat(world: World, chat: ChatState) -> None:
    """Group information needs the bot to be in the group."""
    if not chat.private:
        world.check_can_send(chat)


async def get_chat(world: World, p: Params) -> JSON:
    """getChat: a ChatFullInfo."""
    chat = target_chat(world, p)
    _in_chat(world, chat)
    info: JSON = {
        **chat.as_chat(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }
    pinned = [m for m in chat.messages.values() if m.pinned and not m.deleted]
    if pinned:
        info["pinned_message"] = max(pinned, key=lambda m: m.message_id).data
    return info


async def get_chat_member(world: World, p: Params) -> JSON:
    """getChatMember."""
    chat = target_chat(world, p)
    _in_chat(world, chat)
    user_id = p.get_int("user_id", empty="invalid user_id specified")
    assert user_id is not None
    person = world.people.get(user_id)
    if person is None:
        raise bad_request("user not found")
    return chat_member(person, _member_status(chat, world, user_id))


async def get_chat_administrators(world: World, p: Params) -> list[JSON]:
    """getChatAdministrators."""
    chat = target_chat(world, p)
    _in_chat(world, chat)
    if chat.private:
        return []
    admins = [
        chat_member(world.people[uid], status)
        for uid, status in chat.members.items()
        if status in ("creator", "administrator") and uid in world.people
    ]
    if chat.bot_status == "administrator":
        admins.append(chat_member(world.bot, "administrator"))
    return admins


async def get_chat_member_count(world: World, p: Params) -> int:
    """getChatMemberCount."""
    chat = target_chat(world, p)
    _in_chat(world, chat)
    if chat.private:
        return 2
    present = ("creator", "administrator", "member", "restricted")
    humans = sum(1 for status in chat.members.values() if status in present)
    return humans + (1 if chat.bot_status in present else 0)


async def leave_chat(world: World, p: Params) -> bool:
    """leaveChat: the bot leaves a group (my_chat_member follows)."""
    chat = target_chat(world, p)
    if chat.private:
        raise bad_request("chat member status can't be changed in private chats")
    _in_chat(world, chat)
    old = chat.bot_status
    chat.bot_status, chat.bot_removed = "left", False
    change = world.member_changed(chat, world.bot, world.bot, old, "left")
    world.record(chat, "member_update", text=f"bot left {chat.name}", raw=change)
    world.push_update("my_chat_member", change)
    return True


METHODS: dict[str, Handler] = {
    "getMe": get_me,
    "logOut": answer_true,
    "close": answer_true,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setChatMenuButton": set_chat_menu_button,
    "getChatMenuButton": get_chat_menu_button,
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "getChatMemberCount": get_chat_member_count,
    "leaveChat": leave_chat,
}
