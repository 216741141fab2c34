"""What an operator asks of the database: does it answer, is its schema the one this code
migrates to, and how much of the outbox waits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from core.domain.inbox.notifications import DeliveryState
from storage.database import Database, unavailable_cause
from storage.migrate import alembic_config, revision_of
from storage.tables import NotificationRow

# A probe that waits longer than this is told the database does not answer.
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Readiness:
    """The database's answer to a probe: "ok" or "unreachable"; the schema "current",
    "behind" (older or empty: `crmbot db upgrade`), "ahead" (a newer crmbot migrated it) or
    "unknown" (not asked)."""

    database: str
    migrations: str
    revision: str | None
    head: str
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.migrations == "current"

    def report(self, role: str) -> dict[str, str]:
        """The body of /readyz: each part's state, the process's role, and what failed."""
        body = {"database": self.database, "migrations": self.migrations, "role": role}
        if self.error is not None:
            body["error"] = self.error
        if self.database == "ok" and self.migrations != "current":
            body["revision"], body["expected"] = self.revision or "none", self.head
        return body


@cache
def _revisions() -> tuple[str, frozenset[str]]:
    """This code's head revision and every revision it knows (read from disk once)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head(), frozenset(s.revision for s in script.walk_revisions())


def _schema(revision: str | None) -> str:
    head, known = _revisions()
    if revision == head:
        return "current"
    return "behind" if revision is None or revision in known else "ahead"


async def readiness(database: Database, timeout: float = PROBE_TIMEOUT_S) -> Readiness:
    """One `SELECT 1` and the schema's revision, on a connection of the engine's pool."""
    head = _revisions()[0]
    try:
        async with asyncio.timeout(timeout), database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            revision = await connection.run_sync(revision_of)
    except TimeoutError:
        return Readiness("unreachable", "unknown", None, head,
                         f"no answer within {timeout:g} s")
    except Exception as error:
        cause = unavailable_cause(error) or f"the probe failed ({type(error).__name__})"
        return Readiness("unreachable", "unknown", None, head, cause)
    return Readiness("ok", _schema(revision), revision, head)


# Delivered ones are left out: they only grow, and counting them would read the whole table
# (a tenth of a second at a million rows) where the others are a short range of an index.
UNDELIVERED = tuple(str(s) for s in DeliveryState if s is not DeliveryState.DELIVERED)


@dataclass(frozen=True)
class OutboxBacklog:
    """Notifications not delivered, by state (each of UNDELIVERED, 0 when none), and of the
    pending ones how many are due and since when the oldest of those waits."""

    by_state: dict[str, int]
    due: int
    oldest_due_at: datetime | None

    def lag_seconds(self, now: datetime) -> float:
        """How long the oldest due notification has waited; 0 when none waits."""
        if self.oldest_due_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_due_at).total_seconds())


async def outbox_backlog(database: Database, now: datetime) -> OutboxBacklog:
    """One grouped query over a range of the (state, due_at) index."""
    due = NotificationRow.due_at <= now
    query = (select(NotificationRow.state, func.count(), func.count().filter(due),
                    func.min(NotificationRow.due_at).filter(due))
             .where(NotificationRow.state.in_(UNDELIVERED)).group_by(NotificationRow.state))
    async with database.uow(read_only=True) as uow:
        rows = (await uow.session.execute(query)).all()
    by_state = dict.fromkeys(UNDELIVERED, 0)
    due_count, oldest = 0, None
    for state, count, due_now, oldest_due in rows:
        by_state[state] = count
        if state == DeliveryState.PENDING:
            due_count, oldest = due_now, oldest_due
    return OutboxBacklog(by_state, due_count, oldest)
