"""Open opportunities summed per department, owner and stage, kept as the deals change.

/pipeline over hundreds of thousands of open deals cannot visit each one and answer in
time, so what it shows of them is kept in `pipeline_counts`, in the same transaction as
every change of a deal: how many, their amount in cents and their weighted amount (cents ×
percent, so it stays exact until /pipeline rounds it once). Creating an open deal adds it;
an edit or a stage move takes it out as it was and adds it as it is now (a won or lost deal
is no longer open, a reopened one is again); `rebuild` sums everything again from the
opportunities (the migration that introduced the table, bulk loads).

A change is one INSERT ... ON CONFLICT DO UPDATE of at most two rows, written in the order
of the primary key, so concurrent moves queue on PostgreSQL's row locks and never deadlock
(SQLite has one writer). The department is the deal's own (its owner's when created), which
nothing changes afterwards: moving a member to another department leaves the sums as they
are.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import BigInteger, Select, delete, func, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.money import CENT
from core.domain.opportunities.pipeline import Opportunity
from storage.tables import OpportunityRow, PipelineCountRow

_COUNTS = PipelineCountRow
Key = tuple[int, int, str]  # department, owner, stage


def _cents(opportunity: Opportunity) -> int:
    return int(opportunity.amount / CENT)


def changes(before: Opportunity | None, after: Opportunity | None) -> dict[Key, tuple[int, ...]]:
    """What a deal changing from `before` to `after` (None: not there) adds to each row:
    (deals, cents, cents × percent), rows that do not change left out."""
    delta: dict[Key, Counter] = {}
    for sign, deal in ((-1, before), (1, after)):
        if deal is None or deal.closed_at is not None:
            continue
        key = (deal.department_id, deal.owner_id, deal.stage)
        cents = _cents(deal)
        row = delta.setdefault(key, Counter())
        row.update({"deals": sign, "amount": sign * cents,
                    "weighted": sign * cents * deal.probability})
    return {key: (row["deals"], row["amount"], row["weighted"])
            for key, row in sorted(delta.items()) if any(row.values())}


async def count(session: AsyncSession, before: Opportunity | None,
                after: Opportunity | None) -> None:
    """Keep the sums of a deal that was `before` and is now `after` (either may be None)."""
    rows = changes(before, after)
    if not rows:
        return
    insert = (postgresql.insert if session.bind.dialect.name == "postgresql"
              else sqlite.insert)(_COUNTS)
    statement = insert.values([
        {"department_id": department_id, "owner_id": owner_id, "stage": stage,
         "deals": deals, "amount": amount, "weighted": weighted}
        for (department_id, owner_id, stage), (deals, amount, weighted) in rows.items()])
    await session.execute(statement.on_conflict_do_update(
        index_elements=[_COUNTS.department_id, _COUNTS.owner_id, _COUNTS.stage],
        set_={"deals": _COUNTS.deals + statement.excluded.deals,
              "amount": _COUNTS.amount + statement.excluded.amount,
              "weighted": _COUNTS.weighted + statement.excluded.weighted}))


def summed() -> Select:
    """The open opportunities summed as the kept rows are, straight from the deals."""
    deals = OpportunityRow
    cents = type_coerce(deals.amount, BigInteger)
    return (select(deals.department_id, deals.owner_id, deals.stage, func.count(),
                   func.sum(cents), func.sum(cents * deals.probability))
            .where(deals.closed_at.is_(None))
            .group_by(deals.department_id, deals.owner_id, deals.stage))


def rebuild(connection: Connection) -> None:
    """Every kept sum again, from the opportunities as they are."""
    connection.execute(delete(_COUNTS))
    connection.execute(_COUNTS.__table__.insert().from_select(
        ["department_id", "owner_id", "stage", "deals", "amount", "weighted"], summed()))


async def recount(session: AsyncSession) -> None:
    """`rebuild` within an async session's transaction."""
    await session.run_sync(lambda sync: rebuild(sync.connection()))
