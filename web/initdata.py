"""Telegram's init data: who opened the Mini App, signed by Telegram with the bot's token.

The scheme is Telegram's documented one (core.telegram.org/bots/webapps, "Validating data
received via the Mini App"): the fields but `hash`, sorted and joined as key=value lines, are
signed with HMAC-SHA-256 under the key HMAC-SHA-256("WebAppData", token).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode

# Longer than any init data Telegram sends; longer input is refused before it is parsed.
MAX_LENGTH = 8192
# A clock ahead of ours by this much is still believed.
SKEW = timedelta(minutes=1)


class InitDataError(Exception):
    """The init data is missing, forged, for another bot, or too old."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class WebUser:
    """The Telegram account that opened the page, as its init data says."""

    account_id: int
    language_code: str | None
    signed_at: datetime


def _secret(token: str) -> bytes:
    return hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()


def _check_string(fields: dict[str, str]) -> bytes:
    return "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "hash").encode()


def sign(fields: dict[str, str], token: str) -> str:
    """Init data as Telegram sends it: for the demo's launch link and for tests."""
    digest = hmac.new(_secret(token), _check_string(fields), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def launch_fields(account_id: int, first_name: str, signed_at: datetime, *,
                  language_code: str = "en") -> dict[str, str]:
    """The fields Telegram puts in a private chat's init data."""
    user = {"id": account_id, "first_name": first_name, "language_code": language_code}
    return {"user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
            "auth_date": str(int(signed_at.timestamp())), "chat_type": "sender",
            "chat_instance": "0"}


# Telegram's light theme, as its apps send it in tgWebAppThemeParams.
LIGHT_THEME = {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#707579",
               "link_color": "#2481cc", "button_color": "#2481cc",
               "button_text_color": "#ffffff", "secondary_bg_color": "#f1f1f4"}


def launch_url(page: str, init_data: str, *, theme: dict | None = None,
               platform: str = "web") -> str:
    """The address Telegram opens: the page, with the launch parameters in its fragment."""
    params = {"tgWebAppData": init_data, "tgWebAppVersion": "8.0",
              "tgWebAppPlatform": platform,
              "tgWebAppThemeParams": json.dumps(theme or LIGHT_THEME, separators=(",", ":"))}
    return page + "#" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def verify(init_data: str | None, token: str, now: datetime, max_age: timedelta) -> WebUser:
    """The signed user, or InitDataError: missing, malformed, bad signature, expired."""
    if not init_data:
        raise InitDataError("init_data_missing")
    if len(init_data) > MAX_LENGTH:
        raise InitDataError("init_data_malformed")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("init_data_malformed") from None
    fields = dict(pairs)
    if len(fields) != len(pairs) or "hash" not in fields:
        raise InitDataError("init_data_malformed")
    expected = hmac.new(_secret(token), _check_string(fields), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["hash"].lower()):
        raise InitDataError("init_data_forged")
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), now.tzinfo)
        user = json.loads(fields["user"])
        account_id = user["id"]
    except (KeyError, ValueError, TypeError, OverflowError, OSError):
        raise InitDataError("init_data_malformed") from None
    if not isinstance(account_id, int) or isinstance(account_id, bool) or account_id <= 0:
        raise InitDataError("init_data_malformed")
    if now - signed_at > max_age or signed_at - now > SKEW:
        raise InitDataError("init_data_expired")
    language = user.get("language_code")
    return WebUser(account_id, language if isinstance(language, str) else None, signed_at)
