"""opportunity timeline: indexes for a card's log entries, check-ins and claims, and /pipeline

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.create_index('ix_log_entries_opportunity_created',
                              ['opportunity_id', 'created_at'], unique=False)
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.create_index('ix_check_ins_opportunity_at', ['opportunity_id', 'at'],
                              unique=False)
        batch_op.create_index('ix_check_ins_customer_member_at',
                              ['customer_id', 'member_id', 'at'], unique=False)
    with op.batch_alter_table('expense_claims', schema=None) as batch_op:
        batch_op.create_index('ix_expense_claims_opportunity_submitted',
                              ['opportunity_id', 'submitted_at'], unique=False)
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.create_index('ix_opportunities_pipeline',
                              ['owner_id', 'stage', 'closed_at', 'amount', 'probability'],
                              unique=False)
    with op.batch_alter_table('opportunity_stages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entered_at', sa.DateTime(timezone=True),
                                      nullable=True))
    # Each move ends the stay in the stage it leaves, entered at the previous change.
    op.execute(
        "UPDATE opportunity_stages SET entered_at = ("
        "SELECT p.at FROM opportunity_stages p "
        "WHERE p.opportunity_id = opportunity_stages.opportunity_id "
        "AND (p.at < opportunity_stages.at "
        "OR (p.at = opportunity_stages.at AND p.id < opportunity_stages.id)) "
        "ORDER BY p.at DESC, p.id DESC LIMIT 1) "
        "WHERE from_stage IS NOT NULL")
    with op.batch_alter_table('opportunity_stages', schema=None) as batch_op:
        batch_op.create_index('ix_opportunity_stages_at',
                              ['at', 'opportunity_id', 'from_stage', 'entered_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('opportunity_stages', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunity_stages_at')
        batch_op.drop_column('entered_at')
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_pipeline')
    with op.batch_alter_table('expense_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_expense_claims_opportunity_submitted')
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.drop_index('ix_check_ins_customer_member_at')
        batch_op.drop_index('ix_check_ins_opportunity_at')
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_log_entries_opportunity_created')
