"""expense totals: sums of submitted claims per month for /stats, and each claim's stage

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 00:20:00.000000
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# The tables as this revision leaves them (only the columns the upgrade reads or writes);
# amounts are integer cents.
claims = sa.table(
    'expense_claims',
    sa.column('id', sa.Integer()),
    sa.column('member_id', sa.Integer()),
    sa.column('department_id', sa.Integer()),
    sa.column('amount', sa.BigInteger()),
    sa.column('category', sa.String()),
    sa.column('spent_on', sa.Date()),
    sa.column('unit_kind', sa.String()),
    sa.column('unit_id', sa.Integer()),
    sa.column('opportunity_id', sa.Integer()),
    sa.column('status', sa.String()),
    sa.column('stage', sa.String()),
)
stage_moves = sa.table(
    'opportunity_stages',
    sa.column('id', sa.Integer()),
    sa.column('opportunity_id', sa.Integer()),
    sa.column('to_stage', sa.String()),
    sa.column('at', sa.DateTime(timezone=True)),
)
totals = sa.table(
    'expense_totals',
    sa.column('dimension', sa.String()),
    sa.column('month', sa.Date()),
    sa.column('status', sa.String()),
    sa.column('department_id', sa.Integer()),
    sa.column('key', sa.String()),
    sa.column('amount', sa.BigInteger()),
    sa.column('claims', sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table('expense_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage', sa.String(length=32), nullable=True))
        # Statistics no longer read the claims: the index keeps what exports filter on.
        batch_op.drop_index('ix_expense_claims_spent')
        batch_op.create_index('ix_expense_claims_spent', ['spent_on', 'status', 'department_id'],
                              unique=False)
    op.create_table(
        'expense_totals',
        sa.Column('dimension', sa.String(length=16), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('claims', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('dimension', 'month', 'status', 'department_id', 'key',
                                name=op.f('pk_expense_totals')),
        sqlite_with_rowid=False,
    )
    # The team's calendar decides on which day a stage changed; without settings yet, UTC
    # (as a new organization starts).
    bind = op.get_bind()
    zone = bind.execute(sa.text("SELECT timezone FROM organization LIMIT 1")).scalar()
    set_stages(bind, ZoneInfo(zone or "UTC"))
    sum_claims(bind)


def stage_spans(moves: list[tuple[datetime, int, str]], zone: tzinfo) -> list[tuple[date, str]]:
    """(first day, stage) for each local day that ended in another stage than the day
    before, oldest first: the last move of a day counts."""
    spans: list[tuple[date, str]] = []
    for at, _move_id, stage in sorted(moves):
        day = at.astimezone(zone).date()
        if spans and spans[-1][0] == day:
            spans.pop()
        if not spans or spans[-1][1] != stage:
            spans.append((day, stage))
    return spans


def set_stages(bind, zone: tzinfo) -> None:
    """Each submitted claim's stage: its opportunity's stage at the end of the claim's date."""
    histories: dict[int, list[tuple[datetime, int, str]]] = defaultdict(list)
    for opportunity_id, stage, at, move_id in bind.execute(
            sa.select(stage_moves.c.opportunity_id, stage_moves.c.to_stage, stage_moves.c.at,
                      stage_moves.c.id)):
        # SQLite keeps UTC without a zone.
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        histories[opportunity_id].append((at, move_id, stage))
    spans = []
    for deal, moves in histories.items():
        starts = stage_spans(moves, zone)
        for (first, stage), (until, _) in zip(starts, [*starts[1:], (date.max, '')],
                                              strict=True):
            spans.append({'deal': deal, 'first': first, 'until': until, 'in_stage': stage})
    if spans:
        bind.execute(
            claims.update()
            .where(claims.c.opportunity_id == sa.bindparam('deal'),
                   claims.c.spent_on >= sa.bindparam('first'),
                   claims.c.spent_on < sa.bindparam('until'), claims.c.status != 'draft')
            .values(stage=sa.bindparam('in_stage')), spans)


def sum_claims(bind) -> None:
    """One row of expense_totals per breakdown, month, status, department and group (the
    group as text, '' where the claim has none), from the submitted claims."""
    if bind.dialect.name == 'postgresql':
        month = sa.cast(sa.func.date_trunc('month', claims.c.spent_on), sa.Date)
    else:
        month = sa.func.date(claims.c.spent_on, 'start of month')
    unit = claims.c.unit_kind + sa.literal(':') + sa.cast(claims.c.unit_id, sa.String)
    keys = {
        'category': sa.func.coalesce(claims.c.category, ''),
        'unit': sa.func.coalesce(unit, ''),
        'member': sa.cast(claims.c.member_id, sa.String),
        'opportunity': sa.func.coalesce(sa.cast(claims.c.opportunity_id, sa.String), ''),
        'stage': sa.func.coalesce(claims.c.stage, ''),
        'unit_category': sa.func.coalesce(
            unit + sa.literal(':') + sa.func.coalesce(claims.c.category, ''), ''),
    }
    parts = [
        sa.select(sa.literal(dimension, sa.String).label('dimension'), month.label('month'),
                  claims.c.status.label('status'), claims.c.department_id.label('department_id'),
                  key.label('key'),
                  sa.type_coerce(sa.func.sum(claims.c.amount), sa.BigInteger).label('amount'),
                  sa.func.count().label('claims'))
        .where(claims.c.spent_on.is_not(None), claims.c.status != 'draft')
        .group_by(month, claims.c.department_id, key, claims.c.status)
        for dimension, key in keys.items()
    ]
    bind.execute(totals.insert().from_select(
        ['dimension', 'month', 'status', 'department_id', 'key', 'amount', 'claims'],
        sa.union_all(*parts)))


def downgrade() -> None:
    op.drop_table('expense_totals')
    with op.batch_alter_table('expense_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_expense_claims_spent')
        batch_op.create_index('ix_expense_claims_spent',
                              ['spent_on', 'status', 'department_id', 'category', 'member_id',
                               'unit_kind', 'unit_id', 'opportunity_id', 'amount'],
                              unique=False)
        batch_op.drop_column('stage')
