"""expense totals: sums of submitted claims per month for /stats, and each claim's stage

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 00:20:00.000000
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import storage.types
from storage.expense_totals import rebuild

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


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
        sa.Column('amount', storage.types.Money(), nullable=False),
        sa.Column('claims', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('dimension', 'month', 'status', 'department_id', 'key',
                                name=op.f('pk_expense_totals')),
        sqlite_with_rowid=False,
    )
    # The team's calendar decides on which day a stage changed; without settings yet, UTC
    # (as a new organization starts).
    bind = op.get_bind()
    zone = bind.execute(sa.text("SELECT timezone FROM organization LIMIT 1")).scalar()
    rebuild(bind, ZoneInfo(zone or "UTC"))


def downgrade() -> None:
    op.drop_table('expense_totals')
    with op.batch_alter_table('expense_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_expense_claims_spent')
        batch_op.create_index('ix_expense_claims_spent',
                              ['spent_on', 'status', 'department_id', 'category', 'member_id',
                               'unit_kind', 'unit_id', 'opportunity_id', 'amount'],
                              unique=False)
        batch_op.drop_column('stage')
