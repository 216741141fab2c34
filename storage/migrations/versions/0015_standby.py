"""standby: the active process of several `crmbot run`, and the chats' state they share

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'active_process',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('worker', sa.String(length=128), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_active_process')),
    )
    op.create_table(
        'chat_states',
        sa.Column('scope', sa.String(length=64), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_chat_states')),
    )


def downgrade() -> None:
    op.drop_table('chat_states')
    op.drop_table('active_process')
