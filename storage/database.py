"""The async engine and the unit of work: one per update, one per job."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Self

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

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
from storage.opportunities import SqlOpportunityRepository
from storage.plans import SqlCheckInFacts, SqlPlanRepository, SqlWorkLogRepository
from storage.schedule import SqlScheduleFacts

SQLITE_BUSY_TIMEOUT_MS = 10_000


def create_engine(url: str, *, echo: bool = False, foreign_keys: bool = True) -> AsyncEngine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (asyncpg)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10,
                                   pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, pool_size=32, max_overflow=8)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Take transactions away from the driver: pysqlite's implicit BEGIN comes too late
        # for read-then-write transactions, so _on_begin emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
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
        except BaseException:
            self._release()
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
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.session.rollback()
            # The transaction is over: the next writer need not wait for the connection
            # to go back to the pool.
            self._release()
            await self.session.close()
        finally:
            self._release()

    async def commit(self) -> None:
        await self.session.commit()
        # Committed: SQLite's write lock is free, so is the queue's.
        self._release()

    async def rollback(self) -> None:
        await self.session.rollback()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
