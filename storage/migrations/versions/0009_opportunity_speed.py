"""opportunity speed: the stays of a period in stage order, for /pipeline on SQLite

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 22:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('opportunity_stages', schema=None) as batch_op:
        batch_op.create_index('ix_opportunity_stages_from_at',
                              ['from_stage', 'at', 'entered_at', 'opportunity_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('opportunity_stages', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunity_stages_from_at')
