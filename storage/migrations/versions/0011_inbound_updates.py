"""inbound updates: what the messenger delivered, kept until handled, so a crash loses none

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inbound_updates',
        sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('update_id', name=op.f('pk_inbound_updates')),
    )
    op.create_index('ix_inbound_updates_pending', 'inbound_updates',
                    ['handled_at', 'update_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbound_updates_pending', table_name='inbound_updates')
    op.drop_table('inbound_updates')
