"""The update (or request) being handled, as a context variable: who spoke, where, and what
its units of work came to. Storage records the outcomes, the front end binds the rest, and the
log puts them on every line written meanwhile (bootstrap/logs.py). Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

# What the units of work of an update came to, the strongest one winning.
NONE, COMMITTED, ROLLED_BACK = "none", "committed", "rolled_back"
_STRENGTH = {NONE: 0, COMMITTED: 1, ROLLED_BACK: 2}


@dataclass(slots=True)
class UpdateFields:
    """The update being handled: who spoke, where, and what its units of work did."""

    update_id: int
    chat_id: int | None
    member_id: int | None = None
    member_key: str | None = None
    outcome: str = NONE


_update: ContextVar[UpdateFields | None] = ContextVar("crmbot_update", default=None)


@contextmanager
def handling_update(update_id: int, chat_id: int | None) -> Iterator[UpdateFields]:
    """Bind an update's fields to every line logged in this context until the block ends."""
    fields = UpdateFields(update_id, chat_id)
    token = _update.set(fields)
    try:
        yield fields
    finally:
        _update.reset(token)


def bind_member(member_id: int | None, member_key: str) -> None:
    """The speaker of the update being handled is this member."""
    fields = _update.get()
    if fields is not None:
        fields.member_id, fields.member_key = member_id, member_key


def record_outcome(outcome: str) -> None:
    """A unit of work of the update being handled committed or rolled back."""
    fields = _update.get()
    if fields is not None and _STRENGTH[outcome] > _STRENGTH[fields.outcome]:
        fields.outcome = outcome


def current_update() -> UpdateFields | None:
    return _update.get()
