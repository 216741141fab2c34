"""audit trail of budgets and opportunities; receipts found again across the organisation

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claim_receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dhash', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_claim_receipts_sha256'), ['sha256'], unique=False)
    op.create_table(
        'record_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subject_type', sa.String(length=16), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=32), nullable=False),
        sa.Column('old_value', sa.Text(), nullable=True),
        sa.Column('new_value', sa.Text(), nullable=True),
        sa.Column('changed_by', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['changed_by'], ['members.id'],
                                name=op.f('fk_record_changes_changed_by_members')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_record_changes')),
    )
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.create_index('ix_record_changes_subject', ['subject_type', 'subject_id', 'at'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('record_changes')
    with op.batch_alter_table('claim_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_receipts_sha256'))
        batch_op.drop_column('dhash')
