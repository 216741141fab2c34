"""Claims as their author writes and lists them: drafts, receipts, the audit log, trips.

Status changes after submitting (decisions, withdrawals, numbers) are storage/approvals.py's;
this module writes drafts only, and every draft write is conditional on the row still
being that draft at the version its writer read.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Select, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.claims import Claim, ClaimAction, ClaimEvent, ClaimStatus, Receipt
from core.domain.expenses.drafts import ExpenseReport
from storage.tables import (
    ApprovalStepRow,
    ClaimEventRow,
    ClaimReceiptRow,
    ClaimRow,
    ExpenseReportRow,
)

_RECEIPTS = (select(func.count(ClaimReceiptRow.id))
             .where(ClaimReceiptRow.claim_id == ClaimRow.id)
             .correlate(ClaimRow).scalar_subquery())


def _claims() -> Select:
    return select(ClaimRow, _RECEIPTS.label("receipts"))


def claim_from_row(row: ClaimRow, receipt_count: int | None = 0) -> Claim:
    return Claim(
        id=row.id, member_id=row.member_id, amount=row.amount, currency=row.currency,
        category=row.category, spent_on=row.spent_on,
        unit_kind=UnitKind(row.unit_kind) if row.unit_kind else None, unit_id=row.unit_id,
        description=row.description or "", opportunity_id=row.opportunity_id,
        report_id=row.report_id, status=ClaimStatus(row.status), number=row.number,
        version=row.version, created_at=row.created_at, submitted_at=row.submitted_at,
        decided_at=row.decided_at, posted_at=row.posted_at, ledger_ref=row.ledger_ref,
        receipt_count=receipt_count or 0)


def _draft_values(claim: Claim) -> dict:
    return dict(amount=claim.amount, currency=claim.currency, category=claim.category,
                spent_on=claim.spent_on,
                unit_kind=claim.unit_kind.value if claim.unit_kind else None,
                unit_id=claim.unit_id, description=claim.description,
                opportunity_id=claim.opportunity_id, report_id=claim.report_id)


def receipt_from_row(row: ClaimReceiptRow) -> Receipt:
    return Receipt(row.id, row.claim_id, row.sha256, row.file_id, row.as_document, row.width,
                   row.height, row.size, row.created_at,
                   None if row.dhash is None else int(row.dhash, 16))


class SqlClaimRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _one(self, *where) -> Claim | None:
        found = (await self.session.execute(_claims().where(*where).limit(1))).first()
        return None if found is None else claim_from_row(found[0], found[1])

    async def add(self, claim: Claim, department_id: int, now: datetime) -> Claim:
        new_id = await self.session.scalar(
            insert(ClaimRow).values(member_id=claim.member_id, department_id=department_id,
                                    status=ClaimStatus.DRAFT.value, version=1, created_at=now,
                                    updated_at=now, **_draft_values(claim))
            .returning(ClaimRow.id))
        return replace(claim, id=new_id, status=ClaimStatus.DRAFT, version=1, created_at=now)

    async def get(self, claim_id: int) -> Claim | None:
        return await self._one(ClaimRow.id == claim_id)

    async def save_draft(self, claim: Claim, now: datetime) -> Claim | None:
        """Write the draft's fields if it is still a draft at `claim.version`; the stored
        claim (version raised), or None when it changed or left the draft state meanwhile."""
        result = await self.session.execute(
            update(ClaimRow)
            .where(ClaimRow.id == claim.id, ClaimRow.status == ClaimStatus.DRAFT.value,
                   ClaimRow.version == claim.version)
            .values(version=ClaimRow.version + 1, updated_at=now, **_draft_values(claim)))
        return await self.get(claim.id) if result.rowcount == 1 else None

    async def touch(self, claim_id: int, version: int, now: datetime) -> bool:
        """Raise a draft's version (a receipt was added): the writer's copy is stale now."""
        result = await self.session.execute(
            update(ClaimRow)
            .where(ClaimRow.id == claim_id, ClaimRow.status == ClaimStatus.DRAFT.value,
                   ClaimRow.version == version)
            .values(version=ClaimRow.version + 1, updated_at=now))
        return result.rowcount == 1

    async def delete_draft(self, claim_id: int) -> bool:
        result = await self.session.execute(
            delete(ClaimRow).where(ClaimRow.id == claim_id,
                                   ClaimRow.status == ClaimStatus.DRAFT.value))
        return result.rowcount == 1

    async def latest_draft(self, member_id: int) -> Claim | None:
        found = (await self.session.execute(
            _claims().where(ClaimRow.member_id == member_id,
                            ClaimRow.status == ClaimStatus.DRAFT.value)
            .order_by(ClaimRow.updated_at.desc(), ClaimRow.id.desc()).limit(1))).first()
        return None if found is None else claim_from_row(found[0], found[1])

    async def mine(self, member_id: int, offset: int, limit: int) -> list[Claim]:
        """The member's claims: drafts first, then newest first."""
        drafts_first = case((ClaimRow.status == ClaimStatus.DRAFT.value, 0), else_=1)
        rows = await self.session.execute(
            _claims().where(ClaimRow.member_id == member_id)
            .order_by(drafts_first, ClaimRow.id.desc()).offset(offset).limit(limit))
        return [claim_from_row(row, receipts) for row, receipts in rows]

    async def count_mine(self, member_id: int) -> int:
        return await self.session.scalar(
            select(func.count(ClaimRow.id)).where(ClaimRow.member_id == member_id)) or 0

    async def add_receipt(self, receipt: Receipt) -> Receipt | None:
        """Attach a receipt; None when the same file is attached to the claim already."""
        same = await self.session.scalar(
            select(ClaimReceiptRow.id).where(ClaimReceiptRow.claim_id == receipt.claim_id,
                                             ClaimReceiptRow.sha256 == receipt.sha256))
        if same is not None:
            return None
        new_id = await self.session.scalar(
            insert(ClaimReceiptRow).values(
                claim_id=receipt.claim_id, sha256=receipt.sha256, file_id=receipt.file_id,
                as_document=receipt.as_document, width=receipt.width, height=receipt.height,
                size=receipt.size, created_at=receipt.created_at,
                dhash=None if receipt.dhash is None else f"{receipt.dhash:016x}")
            .returning(ClaimReceiptRow.id))
        return replace(receipt, id=new_id)

    async def receipts(self, claim_id: int) -> list[Receipt]:
        rows = await self.session.scalars(
            select(ClaimReceiptRow).where(ClaimReceiptRow.claim_id == claim_id)
            .order_by(ClaimReceiptRow.id))
        return [receipt_from_row(row) for row in rows]

    async def add_event(self, event: ClaimEvent) -> None:
        await self.session.execute(insert(ClaimEventRow).values(
            claim_id=event.claim_id, action=event.action.value, actor_id=event.actor_id,
            at=event.at, chat_id=event.chat_id, detail=event.detail))

    async def events(self, claim_id: int) -> list[ClaimEvent]:
        rows = await self.session.scalars(
            select(ClaimEventRow).where(ClaimEventRow.claim_id == claim_id)
            .order_by(ClaimEventRow.at, ClaimEventRow.id))
        return [ClaimEvent(r.id, r.claim_id, ClaimAction(r.action), r.actor_id, r.at, r.chat_id,
                           r.detail or {}) for r in rows]

    async def approver_ids(self, claim_id: int) -> set[int]:
        """Everyone named on the claim's route or who decided a step of it."""
        rows = await self.session.execute(
            select(ApprovalStepRow.approver_id, ApprovalStepRow.decided_by)
            .where(ApprovalStepRow.claim_id == claim_id))
        return {member for row in rows for member in row if member is not None}

    # Trips -----------------------------------------------------------------------------------

    async def add_report(self, report: ExpenseReport) -> ExpenseReport:
        new_id = await self.session.scalar(
            insert(ExpenseReportRow).values(member_id=report.member_id, title=report.title,
                                            created_at=report.created_at)
            .returning(ExpenseReportRow.id))
        return replace(report, id=new_id)

    def _reports(self) -> Select:
        count = (select(func.count(ClaimRow.id)).where(ClaimRow.report_id == ExpenseReportRow.id)
                 .correlate(ExpenseReportRow).scalar_subquery())
        return select(ExpenseReportRow, count.label("claims"))

    @staticmethod
    def _report(row: ExpenseReportRow, claims: int) -> ExpenseReport:
        return ExpenseReport(row.id, row.member_id, row.title, row.created_at, row.submitted_at,
                             claims or 0)

    async def report(self, report_id: int) -> ExpenseReport | None:
        found = (await self.session.execute(
            self._reports().where(ExpenseReportRow.id == report_id))).first()
        return None if found is None else self._report(found[0], found[1])

    async def open_reports(self, member_id: int) -> list[ExpenseReport]:
        """The member's trips not submitted yet, newest first."""
        rows = await self.session.execute(
            self._reports().where(ExpenseReportRow.member_id == member_id,
                                  ExpenseReportRow.submitted_at.is_(None))
            .order_by(ExpenseReportRow.id.desc()))
        return [self._report(row, claims) for row, claims in rows]

    async def in_report(self, report_id: int) -> list[Claim]:
        rows = await self.session.execute(
            _claims().where(ClaimRow.report_id == report_id).order_by(ClaimRow.id))
        return [claim_from_row(row, receipts) for row, receipts in rows]

    async def close_report(self, report_id: int, at: datetime) -> bool:
        """Mark a trip submitted, once: False when it was already."""
        result = await self.session.execute(
            update(ExpenseReportRow)
            .where(ExpenseReportRow.id == report_id, ExpenseReportRow.submitted_at.is_(None))
            .values(submitted_at=at))
        return result.rowcount == 1
