"""The async engine and the unit of work: one per update, one per job."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from pathlib import Path
from typing import Self

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.ports import StorageBusy
from core.trace import COMMITTED, ROLLED_BACK, record_outcome
from storage import checkins
from storage import notifications as info
from storage import repositories as repos
from storage.approvals import SqlApprovalRepository
from storage.calendar import SqlCalendarFacts
from storage.changes import TableChanges
from storage.claims import SqlClaimRepository
from storage.expense_stats import SqlExpenseStats
from storage.finance import SqlFinanceLedger
from storage.goals import SqlGoalRepository
from storage.inbound import SqlInboundUpdates
from storage.opportunities import SqlOpportunityRepository
from storage.org_records import SqlOrgRecords
from storage.plans import SqlCheckInFacts, SqlPlanRepository, SqlWorkLogRepository
from storage.schedule import SqlScheduleFacts

SQLITE_BUSY_TIMEOUT_MS = 10_000
# asyncpg waits a minute by default; a server that does not answer in this long is down.
POSTGRES_CONNECT_TIMEOUT_S = 10


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened: where (without its password) and why."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"database.url {shown_url(url)}: {cause}")


def shown_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


# SQLSTATE classes that mean the server refused the session, not the statement:
# connection exception, invalid authorization, invalid catalog name, insufficient
# resources, operator intervention.
_REFUSED_SESSION = ("08", "28", "3D", "53", "57")
_SQLITE_UNUSABLE = ("unable to open database file", "database is locked",
                    "attempt to write a readonly database", "file is not a database",
                    "disk I/O error", "database or disk is full")


def unavailable_cause(error: BaseException) -> str | None:
    """Why the database cannot be used, if `error` (or what caused it) says it cannot be
    reached, opened or locked; None for any other error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cause = _cause(current)
        if cause is not None:
            return cause
        current = current.__cause__ or current.__context__
    return None


def _first_line(text: object) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else ""


def _cause(error: BaseException) -> str | None:
    if isinstance(error, socket.gaierror):
        return f"cannot connect: host not found ({error.strerror})"
    if isinstance(error, ConnectionError | TimeoutError):
        reason = os.strerror(error.errno) if error.errno else "no answer"
        return f"cannot connect ({reason})"
    if isinstance(error, sqlite3.DatabaseError) and str(error).startswith(_SQLITE_UNUSABLE):
        return _first_line(error)
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_REFUSED_SESSION):
        return _first_line(error)
    return None


# SQLite's answer once its busy timeout is over; PostgreSQL's SQLSTATEs for a lock not
# granted, a deadlock and a serialization failure: the same write later goes through.
_SQLITE_BUSY = ("database is locked", "database table is locked")
_POSTGRES_BUSY = ("55P03", "40P01", "40001")


def is_busy(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is a write that lost the race for a lock."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.OperationalError) and str(current).startswith(
                _SQLITE_BUSY):
            return True
        if getattr(current, "sqlstate", None) in _POSTGRES_BUSY:
            return True
        current = current.__cause__ or current.__context__
    return False


# asyncpg prepares every statement, and after five runs PostgreSQL may keep one generic plan
# for it, chosen without seeing its values: for a list of departments bound as one array it
# guesses the list's length and reads a region's totals through the wrong index (0.6 s
# instead of 0.15 s). Planning each run afresh costs well under a millisecond.
POSTGRES_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


def create_engine(url: str, *, echo: bool = False, foreign_keys: bool = True) -> AsyncEngine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (asyncpg).

    On SQLite the URL's `timeout` (seconds, as for sqlite3) is how long a writer waits for
    another process's lock."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10,
                                   pool_pre_ping=True,
                                   connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_S,
                                                 "server_settings": POSTGRES_SETTINGS})
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseUnavailable(url, f"cannot create the folder {error.filename} "
                                           f"({error.strerror})") from None
    busy_ms = SQLITE_BUSY_TIMEOUT_MS
    if "timeout" in parsed.query:
        busy_ms = int(float(parsed.query["timeout"]) * 1000)
    engine = create_async_engine(url, echo=echo, pool_size=32, max_overflow=8)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Take transactions away from the driver: pysqlite's implicit BEGIN comes too late
        # for read-then-write transactions, so _on_begin emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection) -> None:
        # A writer takes the write lock up front, so it never fails half-way with
        # "database is locked" when upgrading a read lock.
        immediate = connection.get_execution_options().get("crmbot_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The engine, its sessions, and on SQLite a process-wide queue for writers."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Committed writes are counted, so that caches know when to load again.
        self.changes = TableChanges()
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False,
                                           sync_session_class=self.changes.session_class())
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock: asyncio.Lock | None = None

    @classmethod
    def connect(cls, url: str, *, echo: bool = False) -> Database:
        return cls(create_engine(url, echo=echo))

    def uow(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self, read_only=read_only)

    def write_lock(self) -> asyncio.Lock:
        # SQLite has one writer at a time; queueing them here is fair and never
        # busy-waits inside SQLite.
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        return self._write_lock

    async def dispose(self) -> None:
        await self.engine.dispose()


class SqlUnitOfWork:
    """A transaction with the repositories bound to it; rolls back unless committed."""

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._database = database
        self._read_only = read_only
        self._lock: asyncio.Lock | None = None
        self._committed = False
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        if self._database.is_sqlite and not self._read_only:
            self._lock = self._database.write_lock()
            await self._lock.acquire()
        try:
            self.session = self._database.sessions()
            await self.session.connection(
                execution_options={"crmbot_write": not self._read_only}
            )
        except BaseException as error:
            self._release()
            if is_busy(error):
                raise StorageBusy() from error
            raise
        session = self.session
        self.organization = repos.SqlOrganizationRepository(session)
        self.departments = repos.SqlDepartmentRepository(session)
        self.members = repos.SqlMemberRepository(session)
        self.projects = repos.SqlProjectRepository(session)
        self.customers = repos.SqlCustomerRepository(session)
        self.budgets = repos.SqlBudgetRepository(session)
        self.record_changes = repos.SqlRecordChangeRepository(session)
        self.invites = repos.SqlInviteRepository(session)
        self.org_records = SqlOrgRecords(session)
        self.notifications = info.SqlNotificationRepository(session)
        self.groups = info.SqlTeamGroupRepository(session)
        self.rules = info.SqlReminderRuleRepository(session)
        self.schedule = SqlScheduleFacts(session)
        self.calendar = SqlCalendarFacts(session)
        self.check_ins = checkins.SqlCheckInRepository(session)
        self.photos = checkins.SqlVisitPhotoRepository(session)
        self.sites = checkins.SqlCustomerSites(session)
        self.plans = SqlPlanRepository(session)
        self.work_logs = SqlWorkLogRepository(session)
        self.visits = SqlCheckInFacts(session)
        self.claims = SqlClaimRepository(session)
        self.approvals = SqlApprovalRepository(session)
        self.expense_stats = SqlExpenseStats(session)
        self.ledger = SqlFinanceLedger(session)
        self.opportunities = SqlOpportunityRepository(session)
        self.goals = SqlGoalRepository(session)
        self.inbound = SqlInboundUpdates(session)
        return self

    async def __aexit__(self, _type: object, error: BaseException | None,
                        _traceback: object) -> None:
        try:
            await self.session.rollback()
            # The transaction is over: the next writer need not wait for the connection
            # to go back to the pool.
            self._release()
            await self.session.close()
        finally:
            self._release()
        if error is not None and not self._read_only and not self._committed:
            record_outcome(ROLLED_BACK)
        if error is not None and not isinstance(error, StorageBusy) and is_busy(error):
            # Said as such, so that the person is asked to try again rather than told that
            # something broke.
            raise StorageBusy() from error

    async def commit(self) -> None:
        try:
            await self.session.commit()
        except Exception as error:
            if is_busy(error):
                raise StorageBusy() from error
            raise
        # Committed: SQLite's write lock is free, so is the queue's.
        self._release()
        self._committed = True
        record_outcome(COMMITTED)

    async def rollback(self) -> None:
        await self.session.rollback()
        record_outcome(ROLLED_BACK)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
