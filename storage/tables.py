"""ORM tables. Rows stay here; repositories hand core plain domain objects."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import Money, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OrganizationRow(Base):
    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    default_language: Mapped[str] = mapped_column(String(16))


class DepartmentRow(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", use_alter=True), index=True
    )


class MemberRow(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    # The member's messenger account; the column keeps its first name.
    account_id: Mapped[int | None] = mapped_column("telegram_id", BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when Telegram refuses to deliver to them (blocked the bot, never started it).
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_paused: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default="0")
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))


class MemberRoleRow(Base):
    __tablename__ = "member_roles"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ProjectMemberRow(Base):
    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float] = mapped_column(Float, index=True)
    lon: Mapped[float] = mapped_column(Float, index=True)
    radius_m: Mapped[int] = mapped_column(Integer)


class BudgetRow(Base):
    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("unit_kind", "unit_id", "category", "period", name="uq_budgets_scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_kind: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int] = mapped_column(Integer)
    # "" rather than NULL for "all categories": NULLs never collide in a unique index.
    category: Mapped[str] = mapped_column(String(64), default="")
    period: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(Money)
    policy: Mapped[str] = mapped_column(String(16))


class InviteRow(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    roles: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class TeamGroupRow(Base):
    """A Telegram group bound to a department: digests and group reminders go there."""

    __tablename__ = "team_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    bound_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class NotificationRow(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "state", "due_at", "id"),
        Index("ix_notifications_inbox", "member_id", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("team_groups.id"), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    sent_version: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Not sent before this: quiet hours, or a retry after an error or a 429.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


class ReminderRuleRow(Base):
    """A scheduled rule (plan reminder, digest...): stored so a restart re-registers it."""

    __tablename__ = "reminder_rules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[str] = mapped_column(String(5))
    params: Mapped[dict] = mapped_column(JSON)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlanRow(Base):
    """A member's plan for one day (its items come with the schedule module)."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("member_id", "day", name="uq_plans_member_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlanItemRow(Base):
    """One thing planned for a day; the log records what became of it."""

    __tablename__ = "plan_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # Opportunities arrive with their module; the link is kept already.
    opportunity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    at_time: Mapped[str | None] = mapped_column(String(5))
    outcome: Mapped[str] = mapped_column(String(16), default="open")
    moved_to: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    verified_check_in_id: Mapped[int | None] = mapped_column(ForeignKey("check_ins.id"))
    logged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    logged_late: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkLogRow(Base):
    """A member's work log for one day: outcomes of plan items, unplanned work, a rating."""

    __tablename__ = "work_logs"
    __table_args__ = (UniqueConstraint("member_id", "day", name="uq_work_logs_member_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    # Amended after its day ended (in the team's zone): kept, and shown as late.
    amended_late: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LogEntryRow(Base):
    """Unplanned work written into a day's log."""

    __tablename__ = "log_entries"
    # An opportunity's card: its entries, newest first.
    __table_args__ = (Index("ix_log_entries_opportunity_created", "opportunity_id",
                            "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    log_id: Mapped[int] = mapped_column(ForeignKey("work_logs.id", ondelete="CASCADE"),
                                        index=True)
    text: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    opportunity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CheckInRow(Base):
    """A visit proven (or not) by a shared location; flags say what was doubtful."""

    __tablename__ = "check_ins"
    __table_args__ = (
        Index("ix_check_ins_member_at", "member_id", "at"),
        # An opportunity's card: check-ins linked to it, and its owner's at its customer.
        Index("ix_check_ins_opportunity_at", "opportunity_id", "at"),
        Index("ix_check_ins_customer_member_at", "customer_id", "member_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the server received it
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the message's own date
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    live_period: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    distance_m: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(String(200), default="")
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # live updates
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VisitPhotoRow(Base):
    """A photo kept in the photo store, usually taken at a check-in."""

    __tablename__ = "visit_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    check_in_id: Mapped[int | None] = mapped_column(ForeignKey("check_ins.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # 64-bit difference hash as 16 hex digits (BIGINT is signed).
    dhash: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str | None] = mapped_column(String(255))
    as_document: Mapped[bool] = mapped_column(Boolean, default=False)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExpenseReportRow(Base):
    """A trip or report: claims grouped to be submitted together."""

    __tablename__ = "expense_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClaimRow(Base):
    """An expense claim, from draft to decision (and posting by finance)."""

    __tablename__ = "expense_claims"
    __table_args__ = (
        # Budget usage: a unit's committed claims in a period (covering: category, amount).
        Index("ix_expense_claims_unit", "unit_kind", "unit_id", "spent_on", "status",
              "category", "amount"),
        # Exports by period, then status (statistics read expense_totals).
        Index("ix_expense_claims_spent", "spent_on", "status", "department_id"),
        Index("ix_expense_claims_department", "department_id", "spent_on"),
        Index("ix_expense_claims_member", "member_id", "status", "id"),
        # The finance API pages through decided claims.
        Index("ix_expense_claims_decided", "status", "decided_at", "id"),
        # An opportunity's card: its claims, newest first.
        Index("ix_expense_claims_opportunity_submitted", "opportunity_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    # The claimant's department when the claim was submitted: statistics by team.
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    category: Mapped[str | None] = mapped_column(String(32))
    spent_on: Mapped[date | None] = mapped_column(Date)
    unit_kind: Mapped[str | None] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    # Opportunities arrive with their module; the link is kept already.
    opportunity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("expense_reports.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    # The opportunity's stage at the end of spent_on on the team's calendar, set on submission
    # and when the opportunity moves on that day or before it: statistics by stage.
    stage: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ledger_ref: Mapped[str | None] = mapped_column(String(100))


class ExpenseTotalRow(Base):
    """Submitted claims summed per month, status and claimant's department, for each group of
    each breakdown (storage/expense_totals.py keeps them with every change of a claim), so
    /stats reads a few thousand sums rather than every claim of its period."""

    __tablename__ = "expense_totals"
    # On SQLite the primary key's b-tree is the table: a range of it holds the sums too.
    __table_args__ = ({"sqlite_with_rowid": False},)

    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    # A breakdown's groups side by side in a month (or span): summed without a sort.
    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # the group, as text
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    claims: Mapped[int] = mapped_column(Integer)


class ClaimReceiptRow(Base):
    """A receipt photo of a claim, kept in the photo store by its SHA-256."""

    __tablename__ = "claim_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(
        ForeignKey("expense_claims.id", ondelete="CASCADE"), index=True
    )
    # Looked up across the organisation: the same receipt filed on another claim.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # 64-bit difference hash as 16 hex digits, as for visit photos (NULL: kept before it was).
    dhash: Mapped[str | None] = mapped_column(String(16))
    file_id: Mapped[str | None] = mapped_column(String(255))
    as_document: Mapped[bool] = mapped_column(Boolean, default=False)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApprovalStepRow(Base):
    """One step of a claim's approval route, decided by one person (or any finance member)."""

    __tablename__ = "approval_steps"
    __table_args__ = (
        UniqueConstraint("claim_id", "position", name="uq_approval_steps_claim_position"),
        # The SLA rule: current steps by how long they have waited.
        Index("ix_approval_steps_waiting", "state", "reached_at"),
        Index("ix_approval_steps_approver", "approver_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("expense_claims.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    state: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class ClaimEventRow(Base):
    """The audit log: who did what to a claim, when, from which chat."""

    __tablename__ = "claim_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(
        ForeignKey("expense_claims.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class OpportunityRow(Base):
    """A deal with a customer, moving through the pipeline's stages."""

    __tablename__ = "opportunities"
    __table_args__ = (
        # Lists and the pipeline of a team, of a person, and the follow-up rule by date.
        Index("ix_opportunities_department_stage", "department_id", "stage"),
        Index("ix_opportunities_owner_stage", "owner_id", "stage"),
        Index("ix_opportunities_stage_close", "stage", "expected_close"),
        # /pipeline: the deals closed in a period, summed from the index alone (the open
        # ones are kept summed in pipeline_counts).
        Index("ix_opportunities_closed", "closed_at", "department_id", "owner_id", "stage",
              "amount", "probability"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    # The owner's department when created: who sees it, and pipeline statistics by team.
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    stage: Mapped[str] = mapped_column(String(32))
    probability: Mapped[int] = mapped_column(Integer)
    expected_close: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lost_reason: Mapped[str | None] = mapped_column(Text)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PipelineCountRow(Base):
    """The open opportunities summed per department, owner and stage (storage/pipeline_counts.py
    keeps them with every change of a deal), so /pipeline reads a few sums per person rather
    than every open deal."""

    __tablename__ = "pipeline_counts"
    # On SQLite the primary key's b-tree is the table: a range of it holds the sums too.
    __table_args__ = ({"sqlite_with_rowid": False},)

    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    deals: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)  # cents
    weighted: Mapped[int] = mapped_column(BigInteger)  # cents x percent


class PipelineClosedRow(Base):
    """Deals won or lost, summed per UTC day they closed, department and stage
    (storage/pipeline_counts.py keeps them with every change of a deal), so /pipeline reads a
    few rows a day rather than every deal closed in its period."""

    __tablename__ = "pipeline_closed"
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # in UTC
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    deals: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)  # cents
    weighted: Mapped[int] = mapped_column(BigInteger)  # cents x percent


class PipelineStayRow(Base):
    """Stays in a stage that ended (the deal moved on), summed per UTC day they ended, the
    deal's department and the stage left (storage/pipeline_counts.py keeps them with every
    move), so /pipeline's days per stage read a few rows a day rather than every move."""

    __tablename__ = "pipeline_stays"
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # in UTC
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    stays: Mapped[int] = mapped_column(Integer)
    milliseconds: Mapped[int] = mapped_column(BigInteger)


class OpportunityStageRow(Base):
    """One move of an opportunity (from_stage NULL: created): "stage on a date" reads these."""

    __tablename__ = "opportunity_stages"
    __table_args__ = (
        Index("ix_opportunity_stages_opportunity_at", "opportunity_id", "at"),
        # /pipeline: the stays that ended in a period, read from the index alone.
        Index("ix_opportunity_stages_at", "at", "opportunity_id", "from_stage", "entered_at"),
        # The same in stage order, so SQLite sums the stays stage by stage (a skip-scan over
        # the few stages, the period's range in each) without sorting them.
        Index("ix_opportunity_stages_from_at", "from_stage", "at", "entered_at",
              "opportunity_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    changed_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    # When from_stage was entered (the previous change's `at`): this row ends that stay.
    entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OpportunityNoteRow(Base):
    """A note on an opportunity's card."""

    __tablename__ = "opportunity_notes"
    __table_args__ = (Index("ix_opportunity_notes_opportunity_at", "opportunity_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class GoalRow(Base):
    """A target of a member or a department for one metric and period."""

    __tablename__ = "goals"
    __table_args__ = (
        UniqueConstraint("unit_kind", "unit_id", "metric", "period", name="uq_goals_scope"),
        # The daily check reads the goals of the current periods.
        Index("ix_goals_period", "period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_kind: Mapped[str] = mapped_column(String(16))  # member or department
    unit_id: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(8))
    # Counts, money and percentages alike, to the hundredth.
    target: Mapped[Decimal] = mapped_column(Money)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundUpdateRow(Base):
    """An update from the messenger, kept from its arrival until it has been handled."""

    __tablename__ = "inbound_updates"
    __table_args__ = (Index("ix_inbound_updates_pending", "handled_at", "update_id"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecordChangeRow(Base):
    """The audit trail of budgets and opportunities: who changed which field, when, from, to."""

    __tablename__ = "record_changes"
    __table_args__ = (
        Index("ix_record_changes_subject", "subject_type", "subject_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))  # budget, opportunity
    subject_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(32))
    # Values as text in a fixed form (amounts "1200.00", dates ISO); NULL: none before.
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ActiveProcessRow(Base):
    """The `crmbot run` process that holds the active role (one row), for `crmbot status`."""

    __tablename__ = "active_process"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    worker: Mapped[str] = mapped_column(String(128))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChatStateRow(Base):
    """What the bot remembers of a chat, a person or a conversation between updates, so that
    a standby taking over goes on where the active process stopped."""

    __tablename__ = "chat_states"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # chat, user, flow name
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
