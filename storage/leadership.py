"""Which of several `crmbot run` processes on one database is the active one.

PostgreSQL: a session advisory lock, held on a connection of its own and renewed every
RENEW_SECONDS. A process that dies (killed, machine gone) ends its session and frees the
lock at once; a process cut off from the server gets no answer within RENEW_TIMEOUT and
steps down, well before the server, probing the silent connection with TCP keepalives,
drops the session and lets a standby take over (KEEPALIVE: about 11 s). A standby asks for
the lock every ACQUIRE_SECONDS.

SQLite: one process only. The first takes an exclusive lock on a file beside the database;
a second is refused with one line, so two bots never poll Telegram against one file.

Either way, the active process writes its name and since when into `active_process`
(`crmbot status` reads it) and refreshes `seen_at` with every renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import make_url

from storage.database import Database
from storage.tables import ActiveProcessRow

log = logging.getLogger("crmbot.standby")

# pg_advisory_lock's key: "crmb" in ASCII, apart from the migrations' key.
ACTIVE_KEY = 0x63726D62
RENEW_SECONDS = 2.0
RENEW_TIMEOUT = 3.0
ACQUIRE_SECONDS = 0.5
CONNECT_TIMEOUT = 5.0
# The server's side of a cut connection: probed after 5 s of silence, every 2 s, 3 times.
KEEPALIVE = {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2",
             "tcp_keepalives_count": "3"}
ROW_ID = 1

Now = Callable[[], datetime]


@dataclass(frozen=True)
class Holder:
    """The active process as it last wrote itself down."""

    worker: str
    since: datetime
    seen_at: datetime


class AlreadyRunning(Exception):
    """Another `crmbot run` holds this SQLite database."""


async def read_holder(database: Database) -> Holder | None:
    async with database.uow(read_only=True) as uow:
        row = (await uow.session.execute(select(
            ActiveProcessRow.worker, ActiveProcessRow.since, ActiveProcessRow.seen_at))).first()
    return Holder(*row) if row is not None else None


class Leadership:
    """The active role, from acquiring it to losing or giving it up."""

    def __init__(self, database: Database, worker: str, now: Now) -> None:
        self.database = database
        self.worker = worker
        self.now = now
        self.since: datetime | None = None
        # The process that was active before this one took over, as it wrote itself down.
        self.predecessor: str | None = None

    async def try_acquire(self) -> bool:
        raise NotImplementedError

    async def held(self) -> None:
        """Return when the role is lost (never while it is held)."""
        raise NotImplementedError

    async def release(self) -> None:
        raise NotImplementedError


class PostgresLeadership(Leadership):
    def __init__(self, database: Database, url: str, worker: str, now: Now) -> None:
        super().__init__(database, worker, now)
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._connection = None
        self._unanswered = False

    async def _connect(self):
        import asyncpg

        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(
                self.dsn, timeout=CONNECT_TIMEOUT, server_settings=KEEPALIVE)
        return self._connection

    async def try_acquire(self) -> bool:
        try:
            connection = await self._connect()
            granted = await asyncio.wait_for(connection.fetchval(
                "SELECT pg_try_advisory_lock($1)", ACTIVE_KEY), RENEW_TIMEOUT)
            self._unanswered = False
            if not granted:
                return False
            self.since = self.now()
            self.predecessor = await asyncio.wait_for(connection.fetchval(
                "SELECT worker FROM active_process WHERE id = $1", ROW_ID), RENEW_TIMEOUT)
            await asyncio.wait_for(connection.execute(
                "INSERT INTO active_process (id, worker, since, seen_at) VALUES ($1, $2, $3, $3)"
                " ON CONFLICT (id) DO UPDATE SET worker = $2, since = $3, seen_at = $3",
                ROW_ID, self.worker, self.since), RENEW_TIMEOUT)
        except Exception as error:
            # Said once, not twice a second, until the database answers again.
            if not self._unanswered:
                log.warning("cannot ask for the active role: %s", error)
            self._unanswered = True
            await self._drop()
            return False
        return True

    async def held(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            connection = self._connection
            try:
                # Any answer on the lock's own session proves the lock is still ours.
                await asyncio.wait_for(connection.execute(
                    "UPDATE active_process SET seen_at = $2 WHERE id = $1",
                    ROW_ID, self.now()), RENEW_TIMEOUT)
            except Exception as error:
                log.error("lost the database connection that holds the active role (%s)",
                          error or type(error).__name__)
                await self._drop()
                return

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()

    async def release(self) -> None:
        connection = self._connection
        if connection is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.execute(
                "DELETE FROM active_process WHERE id = $1 AND worker = $2",
                ROW_ID, self.worker), RENEW_TIMEOUT)
            await asyncio.wait_for(connection.close(), RENEW_TIMEOUT)
        await self._drop()


class SqliteLeadership(Leadership):
    """The only process: an exclusive lock on `<database>.lock`, held until exit."""

    def __init__(self, database: Database, path: Path | None, worker: str, now: Now) -> None:
        super().__init__(database, worker, now)
        self.path = path.with_name(path.name + ".lock") if path is not None else None
        self._file: int | None = None

    async def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        if self.path is not None:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise AlreadyRunning(
                    f"another crmbot run is using {self.path.with_suffix('')}: stop it first "
                    "(a standby process needs PostgreSQL)") from None
            self._file = descriptor
        self.since = self.now()
        async with self.database.uow() as uow:
            await uow.session.execute(delete(ActiveProcessRow))
            await uow.session.execute(insert(ActiveProcessRow).values(
                id=ROW_ID, worker=self.worker, since=self.since, seen_at=self.since))
            await uow.commit()
        return True

    async def held(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS * 5)
            try:
                async with self.database.uow() as uow:
                    await uow.session.execute(update(ActiveProcessRow).where(
                        ActiveProcessRow.id == ROW_ID).values(seen_at=self.now()))
                    await uow.commit()
            except Exception as error:  # a busy file: the next round writes it
                log.warning("could not note that this process is alive: %s", error)

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            async with self.database.uow() as uow:
                await uow.session.execute(delete(ActiveProcessRow).where(
                    ActiveProcessRow.worker == self.worker))
                await uow.commit()
        if self._file is not None:
            os.close(self._file)
            self._file = None


def leadership_for(database: Database, url: str, worker: str, now: Now) -> Leadership:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database
        path = Path(name) if name and name != ":memory:" else None
        return SqliteLeadership(database, path, worker, now)
    return PostgresLeadership(database, url, worker, now)
