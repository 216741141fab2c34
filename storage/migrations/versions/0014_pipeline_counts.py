"""pipeline counts: the open opportunities per department, owner and stage, the closed ones
and the ended stays per UTC day, department and stage, summed for /pipeline

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 07:30:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# The tables as this revision leaves them (only the columns the upgrade reads or writes);
# amounts are integer cents.
opportunities = sa.table(
    'opportunities',
    sa.column('department_id', sa.Integer()),
    sa.column('owner_id', sa.Integer()),
    sa.column('stage', sa.String()),
    sa.column('amount', sa.BigInteger()),
    sa.column('probability', sa.Integer()),
    sa.column('closed_at', sa.DateTime(timezone=True)),
)
counts = sa.table(
    'pipeline_counts',
    sa.column('department_id', sa.Integer()),
    sa.column('owner_id', sa.Integer()),
    sa.column('stage', sa.String()),
    sa.column('deals', sa.Integer()),
    sa.column('amount', sa.BigInteger()),
    sa.column('weighted', sa.BigInteger()),
)
stage_moves = sa.table(
    'opportunity_stages',
    sa.column('opportunity_id', sa.Integer()),
    sa.column('from_stage', sa.String()),
    sa.column('at', sa.DateTime(timezone=True)),
    sa.column('entered_at', sa.DateTime(timezone=True)),
)
deals = sa.table(
    'opportunities',
    sa.column('id', sa.Integer()),
    sa.column('department_id', sa.Integer()),
    sa.column('stage', sa.String()),
    sa.column('amount', sa.BigInteger()),
    sa.column('probability', sa.Integer()),
    sa.column('closed_at', sa.DateTime(timezone=True)),
)
closed = sa.table(
    'pipeline_closed',
    sa.column('day', sa.Date()),
    sa.column('department_id', sa.Integer()),
    sa.column('stage', sa.String()),
    sa.column('deals', sa.Integer()),
    sa.column('amount', sa.BigInteger()),
    sa.column('weighted', sa.BigInteger()),
)
stays = sa.table(
    'pipeline_stays',
    sa.column('day', sa.Date()),
    sa.column('department_id', sa.Integer()),
    sa.column('stage', sa.String()),
    sa.column('stays', sa.Integer()),
    sa.column('milliseconds', sa.BigInteger()),
)


def _utc(moment: datetime) -> datetime:
    # SQLite keeps UTC without a zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _insert(bind, table, rows: list[dict]) -> None:
    for first in range(0, len(rows), 10_000):
        bind.execute(table.insert(), rows[first:first + 10_000])


def sum_closed(bind) -> None:
    """Each won or lost deal added to the row of the UTC day it closed, its department and
    its stage."""
    sums: dict[tuple, list[int]] = {}
    for closed_at, department_id, stage, cents, probability in bind.execute(
            sa.select(deals.c.closed_at, deals.c.department_id, deals.c.stage,
                      deals.c.amount, deals.c.probability)
            .where(deals.c.closed_at.is_not(None))):
        line = sums.setdefault((_utc(closed_at).date(), department_id, stage), [0, 0, 0])
        line[0] += 1
        line[1] += cents
        line[2] += cents * probability
    _insert(bind, closed, [
        {'day': day, 'department_id': department_id, 'stage': stage, 'deals': count,
         'amount': amount, 'weighted': weighted}
        for (day, department_id, stage), (count, amount, weighted) in sorted(sums.items())])


def sum_stays(bind) -> None:
    """Each ended stay (a move from a stage entered at a known moment) added to the row of
    the UTC day it ended, the deal's department and the stage left."""
    sums: dict[tuple, list[int]] = {}
    for left_at, entered_at, department_id, stage in bind.execute(
            sa.select(stage_moves.c.at, stage_moves.c.entered_at, deals.c.department_id,
                      stage_moves.c.from_stage)
            .select_from(stage_moves.join(deals, deals.c.id == stage_moves.c.opportunity_id))
            .where(stage_moves.c.from_stage.is_not(None),
                   stage_moves.c.entered_at.is_not(None))):
        left_at, entered_at = _utc(left_at), _utc(entered_at)
        line = sums.setdefault((left_at.date(), department_id, stage), [0, 0])
        line[0] += 1
        line[1] += (left_at - entered_at) // timedelta(milliseconds=1)
    _insert(bind, stays, [
        {'day': day, 'department_id': department_id, 'stage': stage, 'stays': count,
         'milliseconds': total}
        for (day, department_id, stage), (count, total) in sorted(sums.items())])


def upgrade() -> None:
    op.create_table(
        'pipeline_counts',
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=False),
        sa.Column('deals', sa.Integer(), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('weighted', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('department_id', 'owner_id', 'stage',
                                name=op.f('pk_pipeline_counts')),
        sqlite_with_rowid=False,
    )
    # Every open deal summed as it is now; from here on each change of a deal keeps them.
    op.execute(counts.insert().from_select(
        ['department_id', 'owner_id', 'stage', 'deals', 'amount', 'weighted'],
        sa.select(opportunities.c.department_id, opportunities.c.owner_id,
                  opportunities.c.stage, sa.func.count(), sa.func.sum(opportunities.c.amount),
                  sa.func.sum(opportunities.c.amount * opportunities.c.probability))
        .where(opportunities.c.closed_at.is_(None))
        .group_by(opportunities.c.department_id, opportunities.c.owner_id,
                  opportunities.c.stage)))
    op.create_table(
        'pipeline_closed',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=False),
        sa.Column('deals', sa.Integer(), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('weighted', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'department_id', 'stage',
                                name=op.f('pk_pipeline_closed')),
        sqlite_with_rowid=False,
    )
    sum_closed(op.get_bind())
    op.create_table(
        'pipeline_stays',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=False),
        sa.Column('stays', sa.Integer(), nullable=False),
        sa.Column('milliseconds', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'department_id', 'stage',
                                name=op.f('pk_pipeline_stays')),
        sqlite_with_rowid=False,
    )
    sum_stays(op.get_bind())
    # /pipeline reads the deals closed in the hours at the ends of its period from this
    # index; the index of every deal by owner and stage is no longer read.
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_pipeline')
        batch_op.create_index('ix_opportunities_closed',
                              ['closed_at', 'department_id', 'owner_id', 'stage', 'amount',
                               'probability'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_closed')
        batch_op.create_index('ix_opportunities_pipeline',
                              ['owner_id', 'stage', 'closed_at', 'amount', 'probability'],
                              unique=False)
    op.drop_table('pipeline_stays')
    op.drop_table('pipeline_closed')
    op.drop_table('pipeline_counts')
