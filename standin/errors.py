"""Bot API error answers, shaped exactly like Telegram's."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API failure that becomes an `{"ok": false, ...}` answer."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    """400 with Telegram's `Bad Request: ` prefix."""
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    """403 with Telegram's `Forbidden: ` prefix."""
    return ApiError(403, f"Forbidden: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    """429 flood-control answer carrying `retry_after` like Telegram does."""
    return ApiError(
        429,
        f"Too Many Requests: retry after {retry_after}",
        {"retry_after": retry_after},
    )


def conflict(reason: str) -> ApiError:
    """409 with Telegram's `Conflict: ` prefix."""
    return ApiError(409, f"Conflict: {reason}")
