"""What /pipeline shows of many deals, kept as the deals change.

/pipeline over hundreds of thousands of open deals cannot visit each one and answer in
time, so it reads sums kept in the same transaction as every change of a deal:

- `pipeline_counts`, the open deals per department, owner and stage: how many, their
  amount in cents and their weighted amount (cents × percent, exact until /pipeline rounds
  it once). Creating an open deal adds it; an edit or a stage move takes it out as it was
  and adds it as it is now (a won or lost deal is no longer open, a reopened one is again).
- `pipeline_closed`, the won and lost deals per UTC day they closed, department and stage,
  with the same three sums: closing adds a deal, reopening takes it out, an edit of a closed
  deal's amount changes it.
- `pipeline_stays`, the stays in a stage that ended, per UTC day they ended, department and
  stage left: how many and how long in all (milliseconds). Each move adds the stay it ends.

Days are UTC's so that a period of the team's calendar is whole days of them but for a few
hours at each end, which /pipeline reads from the deals and moves themselves; a new time
zone changes nothing here. `rebuild` sums all three again from the deals and their history
(the migration that introduced them, bulk loads). A change is one INSERT ... ON CONFLICT DO
UPDATE per table of at most two rows, written in the order of the primary key, so
concurrent changes queue on PostgreSQL's row locks and never deadlock (SQLite has one
writer); a change takes its counts, then its closed deals, then its stay. The department is
the deal's own (its owner's when created), which nothing changes afterwards: moving a member
to another department leaves the sums as they are.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    Select,
    String,
    delete,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.money import CENT
from core.domain.opportunities.pipeline import Opportunity
from storage.tables import (
    OpportunityRow,
    OpportunityStageRow,
    PipelineClosedRow,
    PipelineCountRow,
    PipelineStayRow,
)

_COUNTS = PipelineCountRow
_CLOSED = PipelineClosedRow
_STAYS = PipelineStayRow


def _cents(opportunity: Opportunity) -> int:
    return int(opportunity.amount / CENT)


def _open_key(deal: Opportunity) -> tuple | None:
    return None if deal.closed_at is not None else (
        deal.department_id, deal.owner_id, deal.stage)


def _closed_key(deal: Opportunity) -> tuple | None:
    return None if deal.closed_at is None else (
        deal.closed_at.astimezone(UTC).date(), deal.department_id, deal.stage)


def changes(before: Opportunity | None, after: Opportunity | None,
            key=_open_key) -> dict[tuple, tuple[int, ...]]:
    """What a deal changing from `before` to `after` (None: not there) adds to each row
    (by default the open deals'): (deals, cents, cents × percent), rows that do not change
    left out, in the order of their keys."""
    delta: dict[tuple, Counter] = {}
    for sign, deal in ((-1, before), (1, after)):
        found = None if deal is None else key(deal)
        if found is None:
            continue
        cents = _cents(deal)
        row = delta.setdefault(found, Counter())
        row.update({"deals": sign, "amount": sign * cents,
                    "weighted": sign * cents * deal.probability})
    return {found: (row["deals"], row["amount"], row["weighted"])
            for found, row in sorted(delta.items()) if any(row.values())}


async def count(session: AsyncSession, before: Opportunity | None,
                after: Opportunity | None) -> None:
    """Keep the sums of a deal that was `before` and is now `after` (either may be None)."""
    for table, key, columns in ((_COUNTS, _open_key, ("department_id", "owner_id", "stage")),
                                (_CLOSED, _closed_key, ("day", "department_id", "stage"))):
        rows = changes(before, after, key)
        if not rows:
            continue
        insert = _insert(session.bind.dialect.name, table)
        statement = insert.values([
            dict(zip(columns, found, strict=True))
            | {"deals": deals, "amount": amount, "weighted": weighted}
            for found, (deals, amount, weighted) in rows.items()])
        await session.execute(statement.on_conflict_do_update(
            index_elements=[getattr(table, column) for column in columns],
            set_={"deals": table.deals + statement.excluded.deals,
                  "amount": table.amount + statement.excluded.amount,
                  "weighted": table.weighted + statement.excluded.weighted}))


def milliseconds(entered_at: datetime, left_at: datetime) -> int:
    return (left_at - entered_at) // timedelta(milliseconds=1)


async def count_stay(session: AsyncSession, opportunity_id: int, stage: str,
                     entered_at: datetime, left_at: datetime) -> None:
    """The deal left `stage`, entered at `entered_at`, at `left_at`: one stay more."""
    deal = OpportunityRow
    insert = _insert(session.bind.dialect.name, _STAYS)
    statement = insert.from_select(
        ["day", "department_id", "stage", "stays", "milliseconds"],
        select(literal(left_at.astimezone(UTC).date(), Date), deal.department_id,
               literal(stage, String), literal(1, Integer),
               literal(milliseconds(entered_at, left_at), BigInteger))
        .where(deal.id == opportunity_id))
    await session.execute(statement.on_conflict_do_update(
        index_elements=[_STAYS.day, _STAYS.department_id, _STAYS.stage],
        set_={"stays": _STAYS.stays + statement.excluded.stays,
              "milliseconds": _STAYS.milliseconds + statement.excluded.milliseconds}))


def _insert(dialect: str, table):
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def summed() -> Select:
    """The open opportunities summed as the kept rows are, straight from the deals."""
    deals = OpportunityRow
    cents = type_coerce(deals.amount, BigInteger)
    return (select(deals.department_id, deals.owner_id, deals.stage, func.count(),
                   func.sum(cents), func.sum(cents * deals.probability))
            .where(deals.closed_at.is_(None))
            .group_by(deals.department_id, deals.owner_id, deals.stage))


def stays_summed(connection: Connection) -> list[dict]:
    """Every ended stay of the history summed as the kept rows are, row by row."""
    moves = OpportunityStageRow
    sums: dict[tuple[date, int, str], list[int]] = {}
    for left_at, entered_at, department_id, stage in connection.execute(
            select(moves.at, moves.entered_at, OpportunityRow.department_id, moves.from_stage)
            .join(OpportunityRow, OpportunityRow.id == moves.opportunity_id)
            .where(moves.from_stage.is_not(None), moves.entered_at.is_not(None))):
        line = sums.setdefault((left_at.date(), department_id, stage), [0, 0])
        line[0] += 1
        line[1] += milliseconds(entered_at, left_at)
    return [{"day": day, "department_id": department_id, "stage": stage, "stays": stays,
             "milliseconds": total}
            for (day, department_id, stage), (stays, total) in sorted(sums.items())]


def closed_summed(connection: Connection) -> list[dict]:
    """Every won or lost deal summed as the kept rows are."""
    deals = OpportunityRow
    sums: dict[tuple[date, int, str], list[int]] = {}
    for closed_at, department_id, stage, cents, probability in connection.execute(
            select(deals.closed_at, deals.department_id, deals.stage,
                   type_coerce(deals.amount, BigInteger), deals.probability)
            .where(deals.closed_at.is_not(None))):
        line = sums.setdefault((closed_at.date(), department_id, stage), [0, 0, 0])
        line[0] += 1
        line[1] += cents
        line[2] += cents * probability
    return [{"day": day, "department_id": department_id, "stage": stage, "deals": count,
             "amount": amount, "weighted": weighted}
            for (day, department_id, stage), (count, amount, weighted) in sorted(sums.items())]


def rebuild(connection: Connection) -> None:
    """Every kept sum again, from the opportunities and their history as they are."""
    connection.execute(delete(_COUNTS))
    connection.execute(_COUNTS.__table__.insert().from_select(
        ["department_id", "owner_id", "stage", "deals", "amount", "weighted"], summed()))
    for table, rows in ((_CLOSED, closed_summed(connection)),
                        (_STAYS, stays_summed(connection))):
        connection.execute(delete(table))
        for first in range(0, len(rows), 10_000):
            connection.execute(table.__table__.insert(), rows[first:first + 10_000])


async def recount(session: AsyncSession) -> None:
    """`rebuild` within an async session's transaction."""
    await session.run_sync(lambda sync: rebuild(sync.connection()))
