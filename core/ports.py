"""What every module shares: the clock, change versions, photos, the audit trail, and the unit
of work that composes the modules' ports (core/<module>/ports.py) into one transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Protocol, Self

from core.domain.audit import RecordChange
from core.domain.schedule.photos import Exif
from core.expenses.ports import (
    ApprovalRepository,
    BudgetRepository,
    ClaimRepository,
    ExpenseStats,
    FinanceLedger,
)
from core.inbox.ports import (
    NotificationRepository,
    ReminderRuleRepository,
    TeamGroupRepository,
)
from core.opportunities.ports import GoalRepository, OpportunityRepository
from core.org.ports import (
    CustomerRepository,
    DepartmentRepository,
    InviteRepository,
    MemberRepository,
    OrganizationRepository,
    OrgRecords,
    ProjectRepository,
)
from core.schedule.ports import (
    CalendarFacts,
    CheckInFacts,
    CheckInRepository,
    CustomerSites,
    PlanRepository,
    ScheduleFacts,
    VisitPhotoRepository,
    WorkLogRepository,
)


class StorageBusy(Exception):
    """Another writer held the database for longer than a write waits; the same request a
    moment later goes through."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class Changes(Protocol):
    """What changed in storage, for caches to know when to load again."""

    def version(self, kind: str) -> int:
        """A number that grows whenever `kind` ("members", "customers", "organization")
        changes through this process."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RecordChangeRepository(Protocol):
    async def add(self, changes: list[RecordChange]) -> None: ...
    async def of(self, subject_type: str, subject_ids: Collection[int],
                 limit: int) -> list[RecordChange]:
        """The newest changes of these records, newest first."""
        ...


class SavedPhoto(Protocol):
    sha256: str
    size: int
    width: int
    height: int
    dhash: int
    exif: Exif


class PhotoStore(Protocol):
    """Keeps photo files by content; save() raises ValueError with a `code` for non-photos
    (photo_too_big, photo_too_many_pixels, not_an_image, corrupt_image)."""

    def save(self, data: bytes) -> SavedPhoto: ...
    def read(self, sha256: str) -> bytes: ...


class PhotoFiles(Protocol):
    """The photo store, as far as showing a kept photo goes."""

    def read(self, sha256: str) -> bytes: ...
    def watermark(self, data: bytes, lines: list[str]) -> bytes: ...


# Expenses -------------------------------------------------------------------------------
# Claims as their author sees them (storage/claims.py).


# Approval routes, decisions and budget usage (storage/approvals.py).


# Statistics and exports (storage/expense_stats.py).


# The finance system's view: approved claims and postings (storage/finance.py).


# Opportunities ----------------------------------------------------------------------------
# Deals, their stage history and notes (storage/opportunities.py).


# Goals ------------------------------------------------------------------------------------
# Targets and the facts their progress is read from; the deals due for a follow-up
# (storage/goals.py).


class InboundUpdates(Protocol):
    """Updates from the messenger, kept from arrival until handled (see core.inbound)."""

    async def record(self, updates: Sequence[tuple[int, dict]], at: datetime) -> set[int]: ...
    async def handled(self, update_ids: Sequence[int], at: datetime) -> None: ...
    async def forget_handled(self, *, below: int | None = None,
                             handled_before: datetime | None = None) -> None: ...
    async def pending(self) -> list[tuple[int, dict]]: ...


class UnitOfWork(Protocol):
    """One transaction: rolled back on exit unless commit() was called."""

    organization: OrganizationRepository
    departments: DepartmentRepository
    members: MemberRepository
    projects: ProjectRepository
    customers: CustomerRepository
    budgets: BudgetRepository
    record_changes: RecordChangeRepository
    invites: InviteRepository
    org_records: OrgRecords
    notifications: NotificationRepository
    groups: TeamGroupRepository
    rules: ReminderRuleRepository
    schedule: ScheduleFacts
    calendar: CalendarFacts
    plans: PlanRepository
    work_logs: WorkLogRepository
    visits: CheckInFacts
    check_ins: CheckInRepository
    photos: VisitPhotoRepository
    sites: CustomerSites
    claims: ClaimRepository
    approvals: ApprovalRepository
    expense_stats: ExpenseStats
    ledger: FinanceLedger
    opportunities: OpportunityRepository
    goals: GoalRepository
    inbound: InboundUpdates

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work; read-only ones take no write lock."""
        ...
