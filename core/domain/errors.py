"""Domain errors: a stable code the front end translates, and the values it needs."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. `code` picks the message; `params` fill it in."""

    code = "domain_error"

    def __init__(self, code: str | None = None, **params: object) -> None:
        self.code = code or self.code
        self.params = params
        super().__init__(self.code, params)


class NotAllowed(DomainError):
    """The actor may not do this."""

    code = "not_allowed"


class NotFound(DomainError):
    """The object does not exist or is not visible to the actor."""

    code = "not_found"
