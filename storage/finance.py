"""The finance system's ledger view: approved claims in decision order, and postings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, and_, func, insert, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from core.domain.expenses import ClaimStatus
from core.domain.finance import (
    HistoryLine,
    LedgerClaim,
    LedgerClaimRecord,
    LedgerReceipt,
    LedgerRow,
    Person,
    Position,
    PostingState,
)
from storage.tables import (
    ClaimEventRow,
    ClaimReceiptRow,
    ClaimRow,
    DepartmentRow,
    MemberRow,
    ProjectRow,
)

_APPROVED = ClaimStatus.APPROVED.value
_unit_department = aliased(DepartmentRow)
_unit_project = aliased(ProjectRow)
_unit_member = aliased(MemberRow)
_receipt_count = (select(func.count()).where(ClaimReceiptRow.claim_id == ClaimRow.id)
                  .correlate(ClaimRow).scalar_subquery())


class _UtcText(FunctionElement[str]):
    """A UTCDateTime column as its UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]", no parsing."""

    type = String()
    inherit_cache = True


@compiles(_UtcText)
def _utc_text_sqlite(element: _UtcText, compiler, **kw) -> str:
    # SQLite already stores UTCDateTime as this text.
    return compiler.process(element.clauses, **kw)


@compiles(_UtcText, "postgresql")
def _utc_text_postgresql(element: _UtcText, compiler, **kw) -> str:
    return (f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD HH24:MI:SS.US')")


class _DateText(FunctionElement[str]):
    """A Date column as "YYYY-MM-DD"."""

    type = String()
    inherit_cache = True


@compiles(_DateText)
def _date_text_sqlite(element: _DateText, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_DateText, "postgresql")
def _date_text_postgresql(element: _DateText, compiler, **kw) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


def _ledger(amount, spent_on, submitted_at, decided_at, posted_at):
    """One Core statement whose rows are LedgerClaims (or LedgerRows), field for field."""
    return (
        select(ClaimRow.number, ClaimRow.id, MemberRow.key, MemberRow.name, DepartmentRow.key,
               amount, ClaimRow.currency, ClaimRow.category, spent_on, ClaimRow.unit_kind,
               func.coalesce(_unit_department.key, _unit_project.key, _unit_member.key),
               func.coalesce(_unit_department.name, _unit_project.name, _unit_member.name),
               ClaimRow.opportunity_id, ClaimRow.description, submitted_at, decided_at,
               posted_at, ClaimRow.ledger_ref, _receipt_count)
        .join(MemberRow, MemberRow.id == ClaimRow.member_id)
        .join(DepartmentRow, DepartmentRow.id == ClaimRow.department_id)
        .outerjoin(_unit_department, and_(ClaimRow.unit_kind == "department",
                                          _unit_department.id == ClaimRow.unit_id))
        .outerjoin(_unit_project, and_(ClaimRow.unit_kind == "project",
                                       _unit_project.id == ClaimRow.unit_id))
        .outerjoin(_unit_member, and_(ClaimRow.unit_kind == "member",
                                      _unit_member.id == ClaimRow.unit_id))
        .where(ClaimRow.status == _APPROVED)
    )


# A 10,000-claim page builds no ORM objects, and neither Decimals nor datetimes: cents and
# time text straight from the driver (LedgerRow).
_LEDGER = _ledger(ClaimRow.amount, ClaimRow.spent_on, ClaimRow.submitted_at,
                  ClaimRow.decided_at, ClaimRow.posted_at)
_LEDGER_ROWS = _ledger(type_coerce(ClaimRow.amount, BigInteger), _DateText(ClaimRow.spent_on),
                       _UtcText(ClaimRow.submitted_at), _UtcText(ClaimRow.decided_at),
                       _UtcText(ClaimRow.posted_at))


class SqlFinanceLedger:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def approved_after(self, position: Position | None, until: datetime,
                             limit: int) -> list[LedgerRow]:
        statement = _LEDGER_ROWS.where(ClaimRow.decided_at <= until)
        if position is not None:
            # Spelled out rather than a row-value comparison, so both backends range-scan
            # ix_expense_claims_decided from the position on.
            statement = statement.where(ClaimRow.decided_at >= position.decided_at, or_(
                ClaimRow.decided_at > position.decided_at, ClaimRow.id > position.claim_id))
        statement = statement.order_by(ClaimRow.decided_at, ClaimRow.id).limit(limit)
        # On the session's connection: the plain Core result, no ORM loading per row.
        connection = await self.session.connection()
        result = await connection.execute(statement)
        return list(map(LedgerRow._make, result.all()))

    async def record(self, number: str) -> LedgerClaimRecord | None:
        row = (await self.session.execute(_LEDGER.where(ClaimRow.number == number))).first()
        if row is None:
            return None
        claim = LedgerClaim._make(row)
        receipts = await self.session.execute(
            select(ClaimReceiptRow.sha256, ClaimReceiptRow.size, ClaimReceiptRow.width,
                   ClaimReceiptRow.height)
            .where(ClaimReceiptRow.claim_id == claim.id).order_by(ClaimReceiptRow.id))
        events = await self.session.execute(
            select(ClaimEventRow.action, MemberRow.key, MemberRow.name, ClaimEventRow.at)
            .outerjoin(MemberRow, MemberRow.id == ClaimEventRow.actor_id)
            .where(ClaimEventRow.claim_id == claim.id)
            .order_by(ClaimEventRow.at, ClaimEventRow.id))
        return LedgerClaimRecord(
            claim, [LedgerReceipt(*r) for r in receipts],
            [HistoryLine(action, None if key is None else Person(key, name), at)
             for action, key, name, at in events])

    async def has_receipt(self, number: str, sha256: str) -> bool:
        found = await self.session.scalar(
            select(ClaimReceiptRow.id)
            .join(ClaimRow, ClaimRow.id == ClaimReceiptRow.claim_id)
            .where(ClaimRow.number == number, ClaimRow.status == _APPROVED,
                   ClaimReceiptRow.sha256 == sha256)
            .limit(1))
        return found is not None

    async def posting_state(self, number: str) -> PostingState | None:
        row = (await self.session.execute(
            select(ClaimRow.id, ClaimRow.number, ClaimRow.status, ClaimRow.posted_at,
                   ClaimRow.ledger_ref)
            .where(ClaimRow.number == number))).first()
        return None if row is None else PostingState(*row)

    async def mark_posted(self, claim_id: int, ledger_ref: str, at: datetime) -> bool:
        result = await self.session.execute(
            update(ClaimRow)
            .where(ClaimRow.id == claim_id, ClaimRow.status == _APPROVED,
                   ClaimRow.posted_at.is_(None))
            .values(posted_at=at, ledger_ref=ledger_ref, updated_at=at,
                    version=ClaimRow.version + 1)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1

    async def add_event(self, claim_id: int, action: str, at: datetime, detail: dict) -> None:
        await self.session.execute(insert(ClaimEventRow).values(
            claim_id=claim_id, action=action, actor_id=None, at=at, chat_id=None,
            detail=detail))
