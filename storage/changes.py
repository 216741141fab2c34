"""Which stored data changed: counters that caches compare to know when to reload."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.dml import UpdateBase

# What core's caches ask about, and the tables that make it up.
KINDS = {
    "members": ("members", "member_roles"),
    "customers": ("customers",),
    "organization": ("organization",),
}

_WRITTEN = "crmbot_written_tables"


class TableChanges:
    """Counts, per table, the transactions of this process that wrote to it and committed.

    Sessions made from `session_class()` report every INSERT, UPDATE and DELETE they run
    (Core statements through `Session.execute` and ORM flushes alike); the count moves only
    after the commit, so a cache that notes the count before it reads never keeps data
    older than the count it noted. Writes by other processes are not seen here.
    """

    def __init__(self) -> None:
        self._committed: Counter[str] = Counter()

    def version(self, kind: str) -> int:
        """A number that grows whenever `kind` ("members", "customers", "organization")
        changes through this process."""
        return sum(self._committed[table] for table in KINDS[kind])

    def session_class(self) -> type[Session]:
        """A Session class of its own whose committed writes are counted here."""
        tracked = type("TrackedSession", (Session,), {})
        event.listen(tracked, "do_orm_execute", self._on_execute)
        event.listen(tracked, "after_flush", self._on_flush)
        event.listen(tracked, "after_commit", self._on_commit)
        event.listen(tracked, "after_rollback", self._on_rollback)
        return tracked

    @staticmethod
    def _on_execute(state: ORMExecuteState) -> None:
        statement = state.statement
        if isinstance(statement, UpdateBase):
            state.session.info.setdefault(_WRITTEN, set()).add(statement.table.name)

    @staticmethod
    def _on_flush(session: Session, _flush: UOWTransaction) -> None:
        changed = [*session.new, *session.dirty, *session.deleted]
        if changed:
            session.info.setdefault(_WRITTEN, set()).update(
                inspect(instance).mapper.local_table.name for instance in changed)

    def _on_commit(self, session: Session) -> None:
        self._committed.update(session.info.pop(_WRITTEN, ()))

    @staticmethod
    def _on_rollback(session: Session) -> None:
        session.info.pop(_WRITTEN, None)
