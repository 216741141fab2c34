"""The finance system's ledger view: approved claims in decision order, and postings."""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from core.domain.expenses.claims import ClaimStatus
from core.domain.expenses.finance import (
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
    """A UTCDateTime column as the driver reads it, without the column type's processing:
    SQLite's UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]", asyncpg's aware UTC datetime (decoded
    in C, cheaper than formatting text on the server for 30,000 times a page)."""

    type = String()
    inherit_cache = True


@compiles(_UtcText)
def _utc_text(element: _UtcText, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


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


# One claim as a LedgerClaim, field for field.
_LEDGER = (
    select(ClaimRow.number, ClaimRow.id, MemberRow.key, MemberRow.name, DepartmentRow.key,
           ClaimRow.amount, ClaimRow.currency, ClaimRow.category, ClaimRow.spent_on,
           ClaimRow.unit_kind,
           func.coalesce(_unit_department.key, _unit_project.key, _unit_member.key),
           func.coalesce(_unit_department.name, _unit_project.name, _unit_member.name),
           ClaimRow.opportunity_id, ClaimRow.description, ClaimRow.submitted_at,
           ClaimRow.decided_at, ClaimRow.posted_at, ClaimRow.ledger_ref, _receipt_count)
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

# A page of up to 10,000 claims reads the claims alone, joined to nothing: both backends
# range-scan ix_expense_claims_decided and stop at the limit, where PostgreSQL would probe
# four joins for every claim. Members, departments and projects are looked up afterwards,
# once per page, by the ids on it (`_names`). No ORM objects, Decimals or datetimes: cents
# and time text straight from the driver (LedgerRow). The ids come first.
_PAGE = (
    select(ClaimRow.member_id, ClaimRow.department_id, ClaimRow.unit_kind, ClaimRow.unit_id,
           ClaimRow.number, ClaimRow.id, type_coerce(ClaimRow.amount, BigInteger),
           ClaimRow.currency, ClaimRow.category, _DateText(ClaimRow.spent_on),
           ClaimRow.opportunity_id, ClaimRow.description, _UtcText(ClaimRow.submitted_at),
           _UtcText(ClaimRow.decided_at), _UtcText(ClaimRow.posted_at), ClaimRow.ledger_ref,
           _receipt_count)
    .where(ClaimRow.status == _APPROVED)
)
_NAMED = {"member": MemberRow, "department": DepartmentRow, "project": ProjectRow}
# Key and name of the members, departments and projects with these ids, by a unit's kind.
# PostgreSQL takes the ids as one array: "IN" with a parameter for each id would be
# rendered, and prepared by asyncpg, anew for every count of ids.
_NAMES = {kind: select(table.id, table.key, table.name)
          .where(table.id.in_(bindparam("ids", expanding=True)))
          for kind, table in _NAMED.items()}
_NAMES_POSTGRESQL = {kind: select(table.id, table.key, table.name)
                     .where(table.id == any_(bindparam("ids", type_=ARRAY(Integer))))
                     for kind, table in _NAMED.items()}
_NO_UNIT = (None, None)


async def _names(connection: AsyncConnection,
                 claims: list[tuple]) -> dict[str, dict[int, tuple[str, str]]]:
    """Key and name of each member, department and project a page names, by kind and id.

    `claims` are rows of _PAGE: member_id, department_id, unit_kind, unit_id come first.
    """
    ids: dict[str, set[int]] = {"member": {claim[0] for claim in claims},
                                "department": {claim[1] for claim in claims},
                                "project": set()}
    for unit_kind, unit_id in map(itemgetter(2, 3), claims):
        if unit_kind in ids and unit_id is not None:
            ids[unit_kind].add(unit_id)
    statements = _NAMES_POSTGRESQL if connection.dialect.name == "postgresql" else _NAMES
    names: dict[str, dict[int, tuple[str, str]]] = {}
    for kind, statement in statements.items():
        rows = (await connection.execute(statement, {"ids": list(ids[kind])})
                if ids[kind] else ())
        names[kind] = {id_: (key, name) for id_, key, name in rows}
    return names


class SqlFinanceLedger:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def approved_after(self, position: Position | None, until: datetime,
                             limit: int) -> list[LedgerRow]:
        statement = _PAGE.where(ClaimRow.decided_at <= until)
        if position is not None:
            # Spelled out rather than a row-value comparison, so both backends range-scan
            # ix_expense_claims_decided from the position on.
            statement = statement.where(ClaimRow.decided_at >= position.decided_at, or_(
                ClaimRow.decided_at > position.decided_at, ClaimRow.id > position.claim_id))
        statement = statement.order_by(ClaimRow.decided_at, ClaimRow.id).limit(limit)
        connection = await self.session.connection()
        # Rows become plain tuples a thousand at a time: one by one costs more than the
        # query, all at once keeps 10,000 Rows alive (see LedgerRow on the garbage collector).
        claims: list[tuple] = []
        if connection.dialect.name == "postgresql":
            # asyncpg would hand over the whole result as Records, which the collector
            # tracks too: fetched a thousand at a time, as they are turned into tuples.
            streamed = await connection.stream(statement.execution_options(yield_per=1000))
            async for rows in streamed.partitions():
                claims.extend(map(tuple, rows))
        else:
            for rows in (await connection.execute(statement)).partitions(1000):
                claims.extend(map(tuple, rows))
        names = await _names(connection, claims)
        members, departments = names["member"], names["department"]
        page: list[LedgerRow] = []
        append = page.append
        for (member_id, department_id, unit_kind, unit_id, number, claim_id, cents, currency,
             category, spent_on, opportunity_id, description, submitted_at, decided_at,
             posted_at, ledger_ref, receipt_count) in claims:
            member_key, member_name = members[member_id]
            # A unit that is gone (unit_id has no foreign key) is written as no unit.
            unit_key, unit_name = (names[unit_kind].get(unit_id, _NO_UNIT)
                                   if unit_kind in names else _NO_UNIT)
            append((number, claim_id, member_key, member_name, departments[department_id][0],
                    cents, currency, category, spent_on, unit_kind, unit_key, unit_name,
                    opportunity_id, description, submitted_at, decided_at, posted_at,
                    ledger_ref, receipt_count))
        return page

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
