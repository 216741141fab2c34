"""Opportunities, stage moves and claims written straight to the tables, at chosen moments,
so goal progress and follow-ups can be checked against known facts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select, update

from core.domain.expenses.claims import ClaimStatus
from storage.database import Database
from storage.tables import (
    ClaimRow,
    CustomerRow,
    MemberRow,
    OpportunityRow,
    OpportunityStageRow,
)


async def _member(uow, key: str) -> MemberRow:
    return await uow.session.scalar(select(MemberRow).where(MemberRow.key == key))


async def opportunity(database: Database, owner: str, at: datetime, *, title: str = "Deal",
                      amount: str = "10000", expected_close: date = date(2026, 12, 20),
                      stage: str = "lead", last_activity_at: datetime | None = None,
                      customer: str = "harbor-logistics") -> int:
    """An open opportunity created at `at` (UTC); its id."""
    async with database.uow() as uow:
        member = await _member(uow, owner)
        customer_id = await uow.session.scalar(
            select(CustomerRow.id).where(CustomerRow.key == customer))
        row = OpportunityRow(owner_id=member.id, department_id=member.department_id,
                             customer_id=customer_id, title=title, amount=Decimal(amount),
                             currency="CNY", stage=stage, probability=10,
                             expected_close=expected_close, version=1, created_at=at,
                             updated_at=at, last_activity_at=last_activity_at or at)
        uow.session.add(row)
        await uow.session.flush()
        uow.session.add(OpportunityStageRow(opportunity_id=row.id, from_stage=None,
                                            to_stage=stage, changed_by=member.id, at=at))
        await uow.commit()
        return row.id


async def move(database: Database, opportunity_id: int, to_stage: str, at: datetime) -> None:
    """A stage move at `at`, kept in the history; won and lost close the deal."""
    async with database.uow() as uow:
        row = await uow.session.get(OpportunityRow, opportunity_id)
        uow.session.add(OpportunityStageRow(opportunity_id=row.id, from_stage=row.stage,
                                            to_stage=to_stage, changed_by=row.owner_id, at=at))
        await uow.session.execute(update(OpportunityRow).where(
            OpportunityRow.id == opportunity_id).values(
            stage=to_stage, closed_at=at if to_stage in ("won", "lost") else None,
            updated_at=at, last_activity_at=at))
        await uow.commit()


async def claim(database: Database, member: str, amount: str, spent_on: date, *,
                status: ClaimStatus = ClaimStatus.APPROVED, at: datetime) -> None:
    async with database.uow() as uow:
        person = await _member(uow, member)
        uow.session.add(ClaimRow(
            member_id=person.id, department_id=person.department_id, amount=Decimal(amount),
            currency="CNY", category="travel", spent_on=spent_on, unit_kind="department",
            unit_id=person.department_id, description="taxi", status=str(status), version=1,
            created_at=at, updated_at=at))
        await uow.commit()


async def won_in(database: Database, owners: list[str], start: datetime,
                 end: datetime) -> Decimal:
    """Straight from the tables: the amount of the owners' deals whose latest move before
    `end` went to won and happened in [start, end)."""
    async with database.uow(read_only=True) as uow:
        ids = [(await _member(uow, key)).id for key in owners]
        total = Decimal(0)
        for row in await uow.session.scalars(
                select(OpportunityRow).where(OpportunityRow.owner_id.in_(ids))):
            last = (await uow.session.execute(
                select(OpportunityStageRow.to_stage, OpportunityStageRow.at)
                .where(OpportunityStageRow.opportunity_id == row.id,
                       OpportunityStageRow.at < end)
                .order_by(OpportunityStageRow.at.desc(), OpportunityStageRow.id.desc())
                .limit(1))).first()
            if last is not None and last[0] == "won" and last[1] >= start:
                total += row.amount
        return total


async def approved_in(database: Database, owners: list[str], start: date, end: date) -> Decimal:
    async with database.uow(read_only=True) as uow:
        ids = [(await _member(uow, key)).id for key in owners]
        total = await uow.session.scalar(
            select(func.coalesce(func.sum(ClaimRow.amount), 0)).where(
                ClaimRow.member_id.in_(ids), ClaimRow.status == "approved",
                ClaimRow.spent_on >= start, ClaimRow.spent_on < end))
        return Decimal(total)
