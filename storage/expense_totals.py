"""Sums of submitted claims kept per month, status and department for every breakdown.

/stats over a year of a million claims cannot visit each claim and answer in time, so the
sums it needs are kept in `expense_totals` as the claims change, in the same transaction:
one row per (breakdown, month, status, claimant's department, group), the group written as
text (see `decode`). Submission adds a claim under "pending"; a decision moves it to its
new status; an opportunity's move re-files the claims spent on its day or later under the
new stage. `rebuild` sums everything again from the claims (the migration that introduced
the table, bulk loads).

Every statement here adds a signed INSERT ... SELECT ... GROUP BY of the claims concerned
to the rows, creating missing ones (ON CONFLICT DO UPDATE), so a change is a few index
probes whatever the size of the table, and concurrent changes of the same rows simply queue
on PostgreSQL's row locks (SQLite has one writer).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import date, tzinfo
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    String,
    bindparam,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from core.domain.expenses.budgets import Budget
from core.domain.expenses.claims import COMMITTED, ClaimStatus
from core.domain.expenses.stats import RANKED, Breakdowns, ClaimScope, Dimension, GroupSum
from core.domain.opportunities.pipeline import StageChange, stage_spans
from storage.tables import ClaimRow, ExpenseTotalRow, OpportunityStageRow
from storage.value_lists import one_of

_TOTALS = ExpenseTotalRow
_DRAFT = ClaimStatus.DRAFT.value
# What a budget without a category, and one with, adds up (not a breakdown /stats shows).
UNIT_CATEGORY = "unit_category"
# SQLite allows 999 variables in one statement by default in older builds.
_KEYS_PER_QUERY = 400


class _MonthOf(FunctionElement[date]):
    """The first day of a Date column's month."""

    type = Date()
    inherit_cache = True


class _QuarterOf(_MonthOf):
    """The first day of a Date column's quarter."""

    inherit_cache = True


class _YearOf(_MonthOf):
    """The first day of a Date column's year."""

    inherit_cache = True


@compiles(_MonthOf)
def _month_of_sqlite(element: _MonthOf, compiler, **kw) -> str:
    day = compiler.process(element.clauses, **kw)
    if isinstance(element, _YearOf):
        return f"date({day}, 'start of year')"
    if isinstance(element, _QuarterOf):
        return (f"date({day}, 'start of month', "
                f"'-' || ((CAST(strftime('%m', {day}) AS INTEGER) - 1) % 3) || ' months')")
    return f"date({day}, 'start of month')"


@compiles(_MonthOf, "postgresql")
def _month_of_postgresql(element: _MonthOf, compiler, **kw) -> str:
    unit = ("year" if isinstance(element, _YearOf) else
            "quarter" if isinstance(element, _QuarterOf) else "month")
    return f"CAST(date_trunc('{unit}', {compiler.process(element.clauses, **kw)}) AS DATE)"


# The breakdowns /stats shows are also kept per quarter and per year (their rows' dimension
# ends in ".q" or ".y", their month is the span's first day), so that a year is read as one
# row per group rather than twelve.
_SPANS = {"": _MonthOf, ".q": _QuarterOf, ".y": _YearOf}
_ROLLED_UP = frozenset(d.value for d in Dimension)


def _text(column) -> object:
    return cast(column, String)


_UNIT = ClaimRow.unit_kind + literal(":") + _text(ClaimRow.unit_id)
# Each kept dimension and its group as text ('' where the claim has none).
_KEYS = {
    Dimension.CATEGORY.value: func.coalesce(ClaimRow.category, ""),
    Dimension.UNIT.value: func.coalesce(_UNIT, ""),
    Dimension.MEMBER.value: _text(ClaimRow.member_id),
    Dimension.OPPORTUNITY.value: func.coalesce(_text(ClaimRow.opportunity_id), ""),
    Dimension.STAGE.value: func.coalesce(ClaimRow.stage, ""),
    UNIT_CATEGORY: func.coalesce(_UNIT + literal(":") + func.coalesce(ClaimRow.category, ""),
                                 ""),
}
_ALL = tuple(_KEYS)


def decode(dimension: Dimension, key: str) -> object:
    """A group's text back to the key a breakdown has: a unit is (kind, id); '' is None."""
    if not key:
        return (None, None) if dimension is Dimension.UNIT else None
    if dimension is Dimension.UNIT:
        kind, unit_id = key.split(":")
        return kind, int(unit_id)
    if dimension in (Dimension.MEMBER, Dimension.OPPORTUNITY):
        return int(key)
    return key


def _budget_key(budget: Budget) -> tuple[str, str]:
    unit = f"{budget.unit_kind.value}:{budget.unit_id}"
    if budget.category:
        return UNIT_CATEGORY, f"{unit}:{budget.category}"
    return Dimension.UNIT.value, unit


def _statement(dialect: str, where: Sequence, moves: Sequence[tuple[int, str | None]],
               dimensions: Iterable[str]):
    """For each (sign, status) of `moves`, add `sign` × the claims matching `where`
    (counted under `status` when given, else their own) to their rows."""
    parts = []
    for dimension in dimensions:
        key = _KEYS[dimension]
        for suffix, start_of in _SPANS.items():
            if suffix and dimension not in _ROLLED_UP:
                continue
            month = start_of(ClaimRow.spent_on)
            for sign, status in moves:
                filed_as = ClaimRow.status if status is None else literal(status, String)
                parts.append(
                    select(literal(dimension + suffix, String).label("dimension"),
                           month.label("month"), filed_as.label("status"),
                           ClaimRow.department_id.label("department_id"), key.label("key"),
                           (type_coerce(func.sum(ClaimRow.amount), BigInteger) * sign)
                           .label("amount"),
                           (func.count() * sign).label("claims"))
                    .where(*where, ClaimRow.status != _DRAFT)
                    .group_by(month, ClaimRow.department_id, key,
                              *([ClaimRow.status] if status is None else [])))
    rows = union_all(*parts).subquery("changes")
    # Rows in one order in every transaction: concurrent changes queue, never deadlock.
    source = select(rows).order_by(
        rows.c.dimension, rows.c.month, rows.c.key, rows.c.status, rows.c.department_id)
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TOTALS)
    statement = insert.from_select(
        ["dimension", "month", "status", "department_id", "key", "amount", "claims"], source)
    return statement.on_conflict_do_update(
        index_elements=[_TOTALS.dimension, _TOTALS.month, _TOTALS.key, _TOTALS.status,
                        _TOTALS.department_id],
        set_={"amount": _TOTALS.amount + statement.excluded.amount,
              "claims": _TOTALS.claims + statement.excluded.claims})


# What a change touches: one claim, or an opportunity's claims from a day on.
_SUBJECTS = {
    "claim": lambda: [ClaimRow.id == bindparam("claim_id")],
    "deal": lambda: [ClaimRow.opportunity_id == bindparam("deal_id"),
                     ClaimRow.spent_on >= bindparam("since"), ClaimRow.status != _DRAFT],
}


@functools.cache
def _change(dialect: str, subject: str, moves: tuple[tuple[int, str | None], ...],
            dimensions: tuple[str, ...]):
    """The statement for a change, built once: building a union of a few dozen selects
    costs far more than running it on one claim."""
    return _statement(dialect, _SUBJECTS[subject](), moves, dimensions)


async def _tally(session: AsyncSession, subject: str, values: dict,
                 moves: tuple[tuple[int, str | None], ...] = ((1, None),),
                 dimensions: Iterable[str] = _ALL) -> None:
    """Count the submitted claims of the subject in (sign 1) or out of (sign -1) the
    totals, for each (sign, status) of `moves`: under that status (the one they had before
    a change) or, for None, their own."""
    statement = _change(session.bind.dialect.name, subject, moves, tuple(dimensions))
    # On the connection: a Core statement with its values, not an ORM bulk insert.
    await (await session.connection()).execute(statement, values)


async def count_submitted(session: AsyncSession, claim_id: int) -> None:
    await _tally(session, "claim", {"claim_id": claim_id})


async def count_transition(session: AsyncSession, claim_id: int, before: ClaimStatus) -> None:
    """The claim left `before` for the status it has now: out of one row, into the other,
    in one statement."""
    await _tally(session, "claim", {"claim_id": claim_id}, ((-1, before.value), (1, None)))


async def restage(session: AsyncSession, opportunity_id: int, since: date, stage: str) -> None:
    """The opportunity is in `stage` from `since` on: its claims spent that day or later
    were spent while it was (the stage at the end of each claim's day counts)."""
    deal = {"deal_id": opportunity_id, "since": since}
    stages = [Dimension.STAGE.value]
    await _tally(session, "deal", deal, ((-1, None),), stages)
    await session.execute(update(ClaimRow).where(
        ClaimRow.opportunity_id == opportunity_id, ClaimRow.spent_on >= since,
        ClaimRow.status != _DRAFT).values(stage=stage)
        .execution_options(synchronize_session=False))
    await _tally(session, "deal", deal, ((1, None),), stages)


def rebuild(connection: Connection, zone: tzinfo) -> None:
    """Work out each submitted claim's stage on its date (the team's calendar in `zone`)
    from the opportunities' histories, then every total, from the claims as they are."""
    histories: dict[int, list[StageChange]] = defaultdict(list)
    moves = OpportunityStageRow
    for opportunity_id, stage, at, move_id in connection.execute(
            select(moves.opportunity_id, moves.to_stage, moves.at, moves.id)):
        histories[opportunity_id].append(StageChange(opportunity_id, None, stage, 0, at,
                                                     id=move_id))
    connection.execute(update(ClaimRow.__table__).where(ClaimRow.stage.is_not(None))
                       .values(stage=None))
    spans = []
    for deal, changes in histories.items():
        starts = stage_spans(changes, zone)
        for (first, stage), (until, _) in zip(starts, [*starts[1:], (date.max, "")],
                                              strict=True):
            spans.append({"deal": deal, "first": first, "until": until, "in_stage": stage})
    if spans:
        connection.execute(
            update(ClaimRow.__table__)
            .where(ClaimRow.opportunity_id == bindparam("deal"),
                   ClaimRow.spent_on >= bindparam("first"), ClaimRow.spent_on < bindparam("until"),
                   ClaimRow.status != _DRAFT)
            .values(stage=bindparam("in_stage")), spans)
    connection.execute(delete(_TOTALS))
    connection.execute(_statement(connection.dialect.name, [ClaimRow.spent_on.is_not(None)],
                                  ((1, None),), _ALL))


async def recount(session: AsyncSession, zone: tzinfo) -> None:
    """`rebuild` within an async session's transaction."""
    await session.run_sync(lambda sync: rebuild(sync.connection(), zone))


def _span_of(period_start: date, period_end: date) -> tuple[str, list[date]]:
    """The coarsest kept span that tiles the period (years, quarters or months), and the
    first days of the spans in it."""
    if period_start.day != 1 or period_end.day != 1:
        raise ValueError(f"totals are kept by month: {period_start} - {period_end}")
    months = ((period_end.year - period_start.year) * 12 + period_end.month
              - period_start.month)
    for suffix, step in ((".y", 12), (".q", 3), ("", 1)):
        if (period_start.month - 1) % step == 0 and months % step == 0:
            return suffix, [date(period_start.year + (period_start.month - 1 + n) // 12,
                                 (period_start.month - 1 + n) % 12 + 1, 1)
                            for n in range(0, months, step)]
    raise AssertionError("a month always tiles")


async def breakdowns(session: AsyncSession, scope: ClaimScope,
                     top: int | None = None) -> Breakdowns:
    """Every breakdown's sums over the scope's whole months, in one read of the totals.
    With `top`, the ranked breakdowns (RANKED) keep their `top` largest groups (and any
    equal to the last of them) and sum the rest."""
    suffix, starts = _span_of(scope.period.start, scope.period.end)
    conditions = [_TOTALS.dimension.in_([d.value + suffix for d in Dimension]),
                  _TOTALS.month.in_(starts) if len(starts) > 1 else _TOTALS.month == starts[0],
                  _TOTALS.status.in_(sorted(scope.statuses))]
    if scope.department_ids is not None:
        conditions.append(one_of(_TOTALS.department_id, scope.department_ids))
    groups = (select(_TOTALS.dimension, _TOTALS.key,
                     func.sum(_TOTALS.amount).label("amount"),
                     func.sum(_TOTALS.claims).label("claims"))
              .where(*conditions).group_by(_TOTALS.dimension, _TOTALS.key)
              .having(func.sum(_TOTALS.claims) != 0))
    found = Breakdowns({by: [] for by in Dimension}, {})
    if top is None:
        for dimension, key, amount, claims in await session.execute(groups):
            by = Dimension(dimension.removesuffix(suffix))
            found.groups[by].append(GroupSum(decode(by, key), amount, int(claims)))
        return found
    # The groups are summed once (MATERIALIZED); each ranked breakdown keeps the groups
    # at least as large as its `top`-th largest, found by a sort that keeps `top` rows
    # rather than a rank over every group.
    summed = groups.cte("groups").prefix_with("MATERIALIZED")
    larger = summed.alias("larger")
    least = (select(larger.c.amount).where(larger.c.dimension == summed.c.dimension)
             .order_by(larger.c.amount.desc()).limit(1).offset(top - 1).scalar_subquery())
    per_dimension = select(
        summed.c.dimension, func.count().label("all_groups"),
        func.sum(summed.c.amount).label("all_amount"),
        func.sum(summed.c.claims).label("all_claims"),
        least.label("least")).group_by(summed.c.dimension).subquery("per_dimension")
    ranked_dimensions = [d.value + suffix for d in RANKED]
    rows = await session.execute(
        select(summed.c.dimension, summed.c.key, summed.c.amount, summed.c.claims,
               per_dimension.c.all_groups, per_dimension.c.all_amount,
               per_dimension.c.all_claims)
        .join_from(summed, per_dimension, summed.c.dimension == per_dimension.c.dimension)
        .where(or_(summed.c.dimension.not_in(ranked_dimensions),
                   per_dimension.c.least.is_(None),
                   summed.c.amount >= per_dimension.c.least)))
    everything: dict[Dimension, tuple] = {}
    for dimension, key, amount, claims, all_groups, all_amount, all_claims in rows:
        by = Dimension(dimension.removesuffix(suffix))
        found.groups[by].append(GroupSum(decode(by, key), amount, int(claims)))
        everything[by] = (int(all_groups), all_amount, int(all_claims))
    for by in RANKED:
        if by not in everything:
            continue
        all_groups, all_amount, all_claims = everything[by]
        kept = found.groups[by]
        if len(kept) < all_groups:
            found.left_out[by] = GroupSum(
                all_groups - len(kept), all_amount - sum((s.amount for s in kept), Decimal(0)),
                all_claims - sum(s.count for s in kept))
    return found


async def committed(session: AsyncSession, budgets: Collection[Budget]) -> dict[int, Decimal]:
    """Approved + pending claims charged to each budget's unit (and category) in the
    budget's own period, by budget id."""
    if not budgets:
        return {}
    keys = {budget.id: _budget_key(budget) for budget in budgets}
    wanted = sorted(set(keys.values()))
    start = min(b.period.start for b in budgets)
    end = max(b.period.end for b in budgets)
    by_month: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)
    for first in range(0, len(wanted), _KEYS_PER_QUERY):
        chunk = wanted[first:first + _KEYS_PER_QUERY]
        rows = await session.execute(
            select(_TOTALS.dimension, _TOTALS.key, _TOTALS.month, func.sum(_TOTALS.amount))
            .where(_TOTALS.dimension.in_({d for d, _ in chunk}),
                   _TOTALS.key.in_({k for _, k in chunk}),
                   _TOTALS.month >= start, _TOTALS.month < end,
                   _TOTALS.status.in_(sorted(s.value for s in COMMITTED)))
            .group_by(_TOTALS.dimension, _TOTALS.key, _TOTALS.month))
        for dimension, key, month, amount in rows:
            by_month[(dimension, key)].append((month, amount))
    return {budget.id: sum((amount for month, amount in by_month.get(keys[budget.id], ())
                            if budget.period.contains(month)), Decimal("0.00"))
            for budget in budgets}
