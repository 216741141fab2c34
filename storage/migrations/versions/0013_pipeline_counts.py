"""pipeline counts: the open opportunities summed per department, owner and stage for /pipeline

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
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
    # /pipeline reads the open deals from the counts and the closed ones of its period from
    # this index; the index of every deal by owner and stage is no longer read.
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
    op.drop_table('pipeline_counts')
