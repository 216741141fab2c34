"""Org and claim rows written straight into the database, as the other modules would."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert

from core.domain.expenses.claims import claim_number
from storage.tables import (
    ClaimEventRow,
    ClaimReceiptRow,
    ClaimRow,
    DepartmentRow,
    MemberRow,
    ProjectRow,
)

EAST, SALES_OPS = 1, 2
CAROL, WANG, LI = 11, 12, 13
HARBOR_PROJECT = 21
# Decisions start well before the test clock (2026-11-26 02:00 UTC).
FIRST_DECISION = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


async def seed_org(database) -> None:
    async with database.uow() as uow:
        session = uow.session
        await session.execute(insert(DepartmentRow), [
            {"id": EAST, "key": "east", "name": "East region", "parent_id": None},
            {"id": SALES_OPS, "key": "sales-ops", "name": "Sales operations",
             "parent_id": None}])
        await session.execute(insert(MemberRow), [
            {"id": CAROL, "key": "carol", "name": "Carol Chen", "department_id": EAST},
            {"id": WANG, "key": "wang", "name": "Wang Lei", "department_id": EAST},
            {"id": LI, "key": "li", "name": "李娜", "department_id": SALES_OPS}])
        await session.execute(insert(ProjectRow), [
            {"id": HARBOR_PROJECT, "key": "harbor", "name": "Harbor Logistics rollout",
             "department_id": EAST}])
        await uow.commit()


def claim_row(claim_id: int, decided_at: datetime | None, *, status: str = "approved",
              amount: Decimal = Decimal("120.50"), member_id: int = CAROL,
              unit: tuple[str, int] | None = ("department", EAST), **extra) -> dict:
    submitted = (decided_at or FIRST_DECISION) - timedelta(hours=2)
    return {"id": claim_id, "number": None if status == "draft" else claim_number(2026, claim_id),
            "member_id": member_id, "department_id": EAST, "amount": amount,
            "currency": "CNY", "category": "travel", "spent_on": date(2026, 11, 19),
            "unit_kind": unit[0] if unit else None, "unit_id": unit[1] if unit else None,
            "description": f"taxi {claim_id}", "status": status, "version": 3,
            "created_at": submitted, "updated_at": decided_at or submitted,
            "submitted_at": None if status == "draft" else submitted,
            "decided_at": decided_at, **extra}


async def add_claims(database, rows: list[dict]) -> None:
    async with database.uow() as uow:
        await uow.session.execute(insert(ClaimRow), rows)
        await uow.commit()


async def approve_many(database, first_id: int, count: int, *,
                       start: datetime = FIRST_DECISION,
                       step: timedelta = timedelta(seconds=1)) -> list[str]:
    """`count` approved claims decided `step` apart; their numbers in decision order."""
    rows = [claim_row(first_id + i, start + i * step) for i in range(count)]
    await add_claims(database, rows)
    return [row["number"] for row in rows]


async def add_receipt(database, claim_id: int, sha256: str) -> None:
    async with database.uow() as uow:
        await uow.session.execute(insert(ClaimReceiptRow).values(
            claim_id=claim_id, sha256=sha256, file_id=None, as_document=False, width=800,
            height=600, size=1234, created_at=FIRST_DECISION))
        await uow.commit()


async def add_event(database, claim_id: int, action: str, actor_id: int | None,
                    at: datetime) -> None:
    async with database.uow() as uow:
        await uow.session.execute(insert(ClaimEventRow).values(
            claim_id=claim_id, action=action, actor_id=actor_id, at=at, chat_id=None,
            detail={}))
        await uow.commit()
