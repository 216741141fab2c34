"""Validating reply markup (inline and reply keyboards) the way Telegram does."""

from __future__ import annotations

from typing import Any

from standin.errors import bad_request
from standin.formatting import normalize_url

Markup = dict[str, Any]

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
    "web_app",
)
_MAX_BUTTONS = 100
_MAX_ROW = 8


def validate_markup(
    raw: Any, *, inline_only: bool = False, private: bool = True
) -> Markup | None:
    """Check a reply_markup object; returns it normalized, or raises Telegram's 400.

    `private`: the chat is a private one, the only kind where Web App buttons may go.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in raw:
        return {"inline_keyboard": _inline_rows(raw["inline_keyboard"], private)}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in raw:
        return {**raw, "keyboard": _reply_rows(raw["keyboard"], private)}
    if raw.get("remove_keyboard"):
        return {"remove_keyboard": True, **_selective(raw)}
    if raw.get("force_reply"):
        return {**raw, "force_reply": True}
    if not raw:
        return None
    raise bad_request("can't parse reply keyboard markup JSON object")


def _selective(raw: Markup) -> Markup:
    """Carry the `selective` flag along when given."""
    return {"selective": bool(raw["selective"])} if "selective" in raw else {}


def _check_shape(rows: Any, field: str) -> list[list[Any]]:
    """Rows must be an array of arrays within Telegram's size limits."""
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f'can\'t parse reply keyboard markup JSON object: field "{field}"')
    if sum(len(row) for row in rows) > _MAX_BUTTONS or any(len(row) > _MAX_ROW for row in rows):
        raise bad_request("reply markup is too long")
    return rows


def _inline_rows(rows: Any, private: bool) -> list[list[dict[str, Any]]]:
    """Validate inline keyboard rows and buttons."""
    checked: list[list[dict[str, Any]]] = []
    for row in _check_shape(rows, "inline_keyboard"):
        checked.append([_inline_button(button, private) for button in row])
    return [row for row in checked if row]


def check_web_app(web_app: Any, what: str) -> str:
    """A WebAppInfo's URL: HTTPS only, as Telegram opens Mini Apps; `what` names the button
    kind in the error ("inline keyboard button", "menu button")."""
    url = web_app.get("url") if isinstance(web_app, dict) else None
    if not isinstance(url, str) or not url:
        raise bad_request(f"can't parse {what} Web App JSON object: url is missing")
    if not url.lower().startswith("https://") or normalize_url(url) is None:
        raise bad_request(f"{what} Web App URL '{url}' is invalid: Only HTTPS links are allowed")
    return url


def _web_app_button(button: dict[str, Any], private: bool, what: str) -> None:
    """Web App buttons open the app beside a private chat; Telegram refuses them elsewhere."""
    if not private:
        raise bad_request("BUTTON_TYPE_INVALID")
    check_web_app(button["web_app"], what)


def _inline_button(button: Any, private: bool) -> dict[str, Any]:
    """Validate one inline button: text plus exactly one action."""
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text must be a String")
    if not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [key for key in _INLINE_ACTIONS if button.get(key) is not None]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in actions:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in actions:
        url = normalize_url(str(button["url"]))
        if url is None:
            raise bad_request("BUTTON_URL_INVALID")
    if "web_app" in actions:
        _web_app_button(button, private, "inline keyboard button")
    return dict(button)


def _reply_rows(rows: Any, private: bool) -> list[list[dict[str, Any]]]:
    """Validate reply keyboard rows; plain strings become {"text": ...} like Telegram."""
    checked: list[list[dict[str, Any]]] = []
    for row in _check_shape(rows, "keyboard"):
        buttons = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse keyboard button: Text must be a String")
            if not button["text"].strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            if button.get("web_app") is not None:
                _web_app_button(button, private, "keyboard button")
            buttons.append(dict(button))
        checked.append(buttons)
    return [row for row in checked if row]


def keyboard_kind(markup: Markup | None) -> str | None:
    """ "inline", "reply", "remove", "force_reply" or None."""
    if not markup:
        return None
    if "inline_keyboard" in markup:
        return "inline"
    if "keyboard" in markup:
        return "reply"
    if markup.get("remove_keyboard"):
        return "remove"
    if markup.get("force_reply"):
        return "force_reply"
    return None


def button_rows(markup: Markup | None) -> list[list[dict[str, Any]]]:
    """The button objects of an inline or reply keyboard, row by row."""
    if not markup:
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows]


def button_labels(markup: Markup | None) -> list[list[str]]:
    """Visible button texts row by row."""
    return [[button["text"] for button in row] for row in button_rows(markup)]


def find_button(markup: Markup | None, text: str | None, data: str | None) -> dict[str, Any] | None:
    """The first button matching the visible text and/or callback data."""
    for row in button_rows(markup):
        for button in row:
            if text is not None and button.get("text") != text:
                continue
            if data is not None and button.get("callback_data") != data:
                continue
            return button
    return None
