"""opportunities: deals, stage history, notes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 21:21:06.040645
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('opportunities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('probability', sa.Integer(), nullable=False),
    sa.Column('expected_close', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lost_reason', sa.Text(), nullable=True),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_opportunities_customer_id_customers')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_opportunities_department_id_departments')),
    sa.ForeignKeyConstraint(['owner_id'], ['members.id'], name=op.f('fk_opportunities_owner_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunities'))
    )
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opportunities_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_opportunities_department_stage', ['department_id', 'stage'], unique=False)
        batch_op.create_index('ix_opportunities_owner_stage', ['owner_id', 'stage'], unique=False)
        batch_op.create_index('ix_opportunities_stage_close', ['stage', 'expected_close'], unique=False)

    op.create_table('opportunity_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['members.id'], name=op.f('fk_opportunity_notes_author_id_members')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_opportunity_notes_opportunity_id_opportunities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_notes'))
    )
    with op.batch_alter_table('opportunity_notes', schema=None) as batch_op:
        batch_op.create_index('ix_opportunity_notes_opportunity_at', ['opportunity_id', 'at'], unique=False)

    op.create_table('opportunity_stages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=32), nullable=True),
    sa.Column('to_stage', sa.String(length=32), nullable=False),
    sa.Column('changed_by', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by'], ['members.id'], name=op.f('fk_opportunity_stages_changed_by_members')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_opportunity_stages_opportunity_id_opportunities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_stages'))
    )
    with op.batch_alter_table('opportunity_stages', schema=None) as batch_op:
        batch_op.create_index('ix_opportunity_stages_opportunity_at', ['opportunity_id', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('opportunity_stages', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunity_stages_opportunity_at')

    op.drop_table('opportunity_stages')
    with op.batch_alter_table('opportunity_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunity_notes_opportunity_at')

    op.drop_table('opportunity_notes')
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_stage_close')
        batch_op.drop_index('ix_opportunities_owner_stage')
        batch_op.drop_index('ix_opportunities_department_stage')
        batch_op.drop_index(batch_op.f('ix_opportunities_customer_id'))

    op.drop_table('opportunities')
