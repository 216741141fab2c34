"""Approval routes, decisions and budget usage on expense_claims and approval_steps.

Every change of a claim's status is a conditional UPDATE on its status and version: the
rowcount says whether this caller was first, so two presses can never both decide.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.claims import (
    COMMITTED,
    ApprovalStep,
    Claim,
    ClaimAction,
    ClaimEvent,
    ClaimStatus,
    Receipt,
    StepKind,
    StepState,
)
from core.domain.inbox.notifications import NotificationKind
from storage import expense_totals
from storage.claims import claim_from_row, receipt_from_row
from storage.tables import (
    ApprovalStepRow,
    ClaimEventRow,
    ClaimReceiptRow,
    ClaimRow,
    NotificationRow,
)
from storage.value_lists import one_of


def _step(row: ApprovalStepRow) -> ApprovalStep:
    return ApprovalStep(
        id=row.id, claim_id=row.claim_id, position=row.position, kind=StepKind(row.kind),
        approver_id=row.approver_id, state=StepState(row.state), decided_by=row.decided_by,
        decided_at=row.decided_at, reason=row.reason, reached_at=row.reached_at,
        reminded_at=row.reminded_at, escalated=bool(row.escalated))


def _event(row: ClaimEventRow) -> ClaimEvent:
    return ClaimEvent(row.id, row.claim_id, ClaimAction(row.action), row.actor_id, row.at,
                      row.chat_id, dict(row.detail or {}))


_RECEIPTS = (select(func.count(ClaimReceiptRow.id))
             .where(ClaimReceiptRow.claim_id == ClaimRow.id).scalar_subquery())


class SqlApprovalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Claims ---------------------------------------------------------------------------

    async def claim(self, claim_id: int) -> Claim | None:
        row = (await self.session.execute(
            select(ClaimRow, _RECEIPTS).where(ClaimRow.id == claim_id))).first()
        return None if row is None else claim_from_row(row[0], row[1])

    async def submit(self, claim_id: int, *, version: int, number: str, department_id: int,
                     at: datetime, stage: str | None = None) -> bool:
        """Draft -> pending, numbered (its opportunity was in `stage` on its date); False
        when the draft changed or was submitted."""
        result = await self.session.execute(
            update(ClaimRow)
            .where(ClaimRow.id == claim_id, ClaimRow.status == str(ClaimStatus.DRAFT),
                   ClaimRow.version == version)
            .values(status=str(ClaimStatus.PENDING), number=number, submitted_at=at,
                    department_id=department_id, stage=stage, updated_at=at,
                    version=ClaimRow.version + 1))
        if result.rowcount != 1:
            return False
        await expense_totals.count_submitted(self.session, claim_id)
        return True

    async def transition(self, claim_id: int, *, version: int, status: ClaimStatus,
                         at: datetime) -> bool:
        """A pending claim at `version` moves to `status` (pending again: the next step);
        False when someone changed it first."""
        values: dict = {"status": str(status), "updated_at": at, "version": ClaimRow.version + 1}
        if status in (ClaimStatus.APPROVED, ClaimStatus.REJECTED):
            values["decided_at"] = at
        result = await self.session.execute(
            update(ClaimRow)
            .where(ClaimRow.id == claim_id, ClaimRow.status == str(ClaimStatus.PENDING),
                   ClaimRow.version == version)
            .values(**values))
        if result.rowcount != 1:
            return False
        if status is not ClaimStatus.PENDING:
            await expense_totals.count_transition(self.session, claim_id, ClaimStatus.PENDING)
        return True

    # Steps ----------------------------------------------------------------------------

    async def add_steps(self, steps: list[ApprovalStep]) -> list[ApprovalStep]:
        rows = [ApprovalStepRow(
            claim_id=s.claim_id, position=s.position, kind=str(s.kind),
            approver_id=s.approver_id, state=str(s.state), reached_at=s.reached_at,
            escalated=s.escalated) for s in steps]
        self.session.add_all(rows)
        await self.session.flush()
        return [_step(r) for r in rows]

    async def steps(self, claim_id: int) -> list[ApprovalStep]:
        rows = await self.session.scalars(
            select(ApprovalStepRow).where(ApprovalStepRow.claim_id == claim_id)
            .order_by(ApprovalStepRow.position))
        return [_step(r) for r in rows]

    async def save_step(self, step: ApprovalStep) -> None:
        await self.session.execute(
            update(ApprovalStepRow).where(ApprovalStepRow.id == step.id).values(
                approver_id=step.approver_id, state=str(step.state), decided_by=step.decided_by,
                decided_at=step.decided_at, reason=step.reason, reached_at=step.reached_at,
                reminded_at=step.reminded_at, escalated=step.escalated))

    async def cancel_open_steps(self, claim_id: int) -> int:
        result = await self.session.execute(
            update(ApprovalStepRow)
            .where(ApprovalStepRow.claim_id == claim_id,
                   ApprovalStepRow.state.in_([str(StepState.WAITING), str(StepState.CURRENT)]))
            .values(state=str(StepState.CANCELLED)))
        return result.rowcount

    async def current_steps_of(self, approver_ids: Collection[int]) -> list[ApprovalStep]:
        """Steps waiting on a decision of one of these approvers now."""
        rows = await self.session.scalars(
            select(ApprovalStepRow)
            .where(ApprovalStepRow.state == str(StepState.CURRENT),
                   one_of(ApprovalStepRow.approver_id, approver_ids))
            .order_by(ApprovalStepRow.reached_at, ApprovalStepRow.id))
        return [_step(r) for r in rows]

    async def hand_over_step(self, step_id: int, from_id: int, to_id: int) -> bool:
        """Give a current step to another approver (its own has left)."""
        result = await self.session.execute(
            update(ApprovalStepRow)
            .where(ApprovalStepRow.id == step_id, ApprovalStepRow.approver_id == from_id,
                   ApprovalStepRow.state == str(StepState.CURRENT))
            .values(approver_id=to_id))
        return result.rowcount == 1

    async def overdue_steps(self, reached_before: datetime) -> list[ApprovalStep]:
        """Current steps that became current before the moment and still have an SLA
        action left (a reminder or an escalation)."""
        rows = await self.session.scalars(
            select(ApprovalStepRow)
            .where(ApprovalStepRow.state == str(StepState.CURRENT),
                   ApprovalStepRow.reached_at <= reached_before,
                   (ApprovalStepRow.reminded_at.is_(None))
                   | (ApprovalStepRow.escalated.is_(False)))
            .order_by(ApprovalStepRow.reached_at, ApprovalStepRow.id))
        return [_step(r) for r in rows]

    async def waiting_for(self, approver_ids: Collection[int],
                          finance: bool) -> list[ApprovalStep]:
        """Current steps of these approvers (and the finance pool's, if asked)."""
        condition = one_of(ApprovalStepRow.approver_id, approver_ids)
        if finance:
            condition = condition | (ApprovalStepRow.kind == str(StepKind.FINANCE))
        rows = await self.session.scalars(
            select(ApprovalStepRow)
            .where(ApprovalStepRow.state == str(StepState.CURRENT), condition)
            .order_by(ApprovalStepRow.reached_at, ApprovalStepRow.id))
        return [_step(r) for r in rows]

    # The SLA: each at most once per step, whichever process gets there first -----------

    async def mark_reminded(self, step_id: int, at: datetime) -> bool:
        result = await self.session.execute(
            update(ApprovalStepRow)
            .where(ApprovalStepRow.id == step_id, ApprovalStepRow.reminded_at.is_(None),
                   ApprovalStepRow.state == str(StepState.CURRENT))
            .values(reminded_at=at))
        return result.rowcount == 1

    async def escalate_step(self, step_id: int, approver_id: int | None,
                            at: datetime) -> bool:
        """Pass a current step to another approver (None: nobody above, keep it)."""
        values: dict = {"escalated": True,
                        "reminded_at": func.coalesce(ApprovalStepRow.reminded_at, at)}
        if approver_id is not None:
            values["approver_id"] = approver_id
        result = await self.session.execute(
            update(ApprovalStepRow)
            .where(ApprovalStepRow.id == step_id, ApprovalStepRow.escalated.is_(False),
                   ApprovalStepRow.state == str(StepState.CURRENT))
            .values(**values))
        return result.rowcount == 1

    # The audit log, receipts, cards ---------------------------------------------------

    async def add_event(self, event: ClaimEvent) -> None:
        await self.session.execute(insert(ClaimEventRow).values(
            claim_id=event.claim_id, action=str(event.action), actor_id=event.actor_id,
            at=event.at, chat_id=event.chat_id, detail=event.detail))

    async def events(self, claim_id: int) -> list[ClaimEvent]:
        rows = await self.session.scalars(
            select(ClaimEventRow).where(ClaimEventRow.claim_id == claim_id)
            .order_by(ClaimEventRow.at, ClaimEventRow.id))
        return [_event(r) for r in rows]

    async def receipts(self, claim_id: int) -> list[Receipt]:
        rows = await self.session.scalars(
            select(ClaimReceiptRow).where(ClaimReceiptRow.claim_id == claim_id)
            .order_by(ClaimReceiptRow.id))
        return [receipt_from_row(r) for r in rows]

    async def receipts_elsewhere(self, claim_id: int,
                                 sha256s: Collection[str]) -> list[tuple[str, Receipt]]:
        """Receipts of other claims still claimed (pending or approved), with their numbers:
        those with one of these files, and every one whose picture was hashed."""
        rows = await self.session.execute(
            select(ClaimRow.number, ClaimReceiptRow)
            .join(ClaimRow, ClaimRow.id == ClaimReceiptRow.claim_id)
            .where(ClaimRow.id != claim_id,
                   ClaimRow.status.in_([str(s) for s in COMMITTED]),
                   or_(ClaimReceiptRow.sha256.in_(list(sha256s)),
                       ClaimReceiptRow.dhash.is_not(None)))
            .order_by(ClaimReceiptRow.claim_id))
        return [(number or "", receipt_from_row(row)) for number, row in rows]

    async def card_keys(self, claim_id: int) -> list[str]:
        """Keys of every approval card sent for the claim, oldest first."""
        rows = await self.session.scalars(
            select(NotificationRow.key)
            .where(NotificationRow.subject_type == "expense_claim",
                   NotificationRow.subject_id == claim_id,
                   NotificationRow.kind == str(NotificationKind.APPROVAL_REQUEST))
            .order_by(NotificationRow.id))
        return list(rows)

    # Budget usage ---------------------------------------------------------------------

    async def usage(self, unit_kind: UnitKind, unit_id: int, category: str | None,
                    start: date, end: date, *, exclude: int | None = None) -> Decimal:
        """Approved + pending in [start, end) of the unit (one category, or all)."""
        condition = [ClaimRow.unit_kind == str(unit_kind), ClaimRow.unit_id == unit_id,
                     ClaimRow.spent_on >= start, ClaimRow.spent_on < end,
                     ClaimRow.status.in_([str(s) for s in COMMITTED])]
        if category is not None:
            condition.append(ClaimRow.category == category)
        if exclude is not None:
            condition.append(ClaimRow.id != exclude)
        total = await self.session.scalar(
            select(func.coalesce(func.sum(ClaimRow.amount), 0)).where(*condition))
        # sum() keeps the Money type, so the cents come back as a Decimal amount.
        return total
