"""Decoding Bot API request parameters from query strings, forms, multipart and JSON."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from standin.errors import ApiError, bad_request

_INT_RE = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class Params:
    """Typed access to one request's parameters, tolerant of Telegram's loose encodings.

    Form posts carry every value as a string (PTB JSON-encodes objects into strings),
    JSON bodies carry native values; both are accepted wherever Telegram accepts them.
    """

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None):
        self.values = values
        self.uploads = uploads or {}

    def has(self, name: str) -> bool:
        """Whether the parameter was given and is not null."""
        return self.values.get(name) is not None

    def raw(self, name: str) -> Any:
        """The value as received, or None."""
        return self.values.get(name)

    def get_str(self, name: str, *, empty: str | None = None) -> str | None:
        """A string parameter; `empty` is the error description when it is required."""
        value = self.values.get(name)
        if value is None or value == "":
            if empty is not None:
                raise bad_request(empty)
            return None if value is None else ""
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def get_int(self, name: str, *, empty: str | None = None) -> int | None:
        """An integer parameter; numbers may arrive as strings of digits."""
        value = self.values.get(name)
        if value is None or value == "":
            if empty is not None:
                raise bad_request(empty)
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT_RE.match(value.strip()):
            return int(value.strip())
        raise bad_request(f"invalid {name} specified")

    def get_float(self, name: str, *, empty: str | None = None) -> float | None:
        """A float parameter; strings are accepted."""
        value = self.values.get(name)
        if value is None or value == "":
            if empty is not None:
                raise bad_request(empty)
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        """A boolean parameter; accepts true/false/1/0 in any case."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return bool(value)
        return str(value).strip().lower() in ("true", "1", "yes", "on")

    def get_json(self, name: str, *, what: str | None = None) -> Any:
        """An object/array parameter; JSON-encoded strings are decoded like Telegram does."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def upload(self, name: str) -> Upload | None:
        """The multipart file part called `name`, if any."""
        return self.uploads.get(name)


async def read_params(request: web.Request) -> Params:
    """Collect parameters from the query string and whatever body encoding was used."""
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if not request.can_read_body:
        return Params(values, uploads)
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON encoded request parameters") from None
        if not isinstance(body, dict):
            raise bad_request("JSON object expected as request parameters")
        values.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        _split_form(form, values, uploads)
    elif content_type.startswith("multipart/"):
        raise ApiError(400, "Bad Request: unsupported multipart subtype")
    return Params(values, uploads)


def _split_form(
    form: MultiMapping[Any], values: dict[str, Any], uploads: dict[str, Upload]
) -> None:
    """Separate plain form fields from uploaded files."""
    for key, item in form.items():
        if isinstance(item, web.FileField):
            uploads[key] = Upload(item.filename, item.content_type, item.file.read())
        elif isinstance(item, (bytes, bytearray)):
            values[key] = bytes(item).decode("utf-8", "replace")
        else:
            values[key] = item
