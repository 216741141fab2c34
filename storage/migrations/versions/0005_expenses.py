"""expenses: claims, receipts, approval steps, audit log, reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 21:03:42.445071
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('expense_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_expense_reports_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expense_reports'))
    )
    with op.batch_alter_table('expense_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expense_reports_member_id'), ['member_id'], unique=False)

    op.create_table('expense_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('spent_on', sa.Date(), nullable=True),
    sa.Column('unit_kind', sa.String(length=16), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ledger_ref', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_expense_claims_department_id_departments')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_expense_claims_member_id_members')),
    sa.ForeignKeyConstraint(['report_id'], ['expense_reports.id'], name=op.f('fk_expense_claims_report_id_expense_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expense_claims')),
    sa.UniqueConstraint('number', name=op.f('uq_expense_claims_number'))
    )
    with op.batch_alter_table('expense_claims', schema=None) as batch_op:
        batch_op.create_index('ix_expense_claims_decided', ['status', 'decided_at', 'id'], unique=False)
        batch_op.create_index('ix_expense_claims_department', ['department_id', 'spent_on'], unique=False)
        batch_op.create_index('ix_expense_claims_member', ['member_id', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_expense_claims_opportunity_id'), ['opportunity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_expense_claims_report_id'), ['report_id'], unique=False)
        batch_op.create_index('ix_expense_claims_spent', ['spent_on', 'status', 'department_id', 'category', 'member_id', 'unit_kind', 'unit_id', 'opportunity_id', 'amount'], unique=False)
        batch_op.create_index('ix_expense_claims_unit', ['unit_kind', 'unit_id', 'spent_on', 'status', 'category', 'amount'], unique=False)

    op.create_table('approval_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('reached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated', sa.Boolean(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['approver_id'], ['members.id'], name=op.f('fk_approval_steps_approver_id_members')),
    sa.ForeignKeyConstraint(['claim_id'], ['expense_claims.id'], name=op.f('fk_approval_steps_claim_id_expense_claims'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by'], ['members.id'], name=op.f('fk_approval_steps_decided_by_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_steps')),
    sa.UniqueConstraint('claim_id', 'position', name='uq_approval_steps_claim_position')
    )
    with op.batch_alter_table('approval_steps', schema=None) as batch_op:
        batch_op.create_index('ix_approval_steps_approver', ['approver_id', 'state'], unique=False)
        batch_op.create_index('ix_approval_steps_waiting', ['state', 'reached_at'], unique=False)

    op.create_table('claim_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['members.id'], name=op.f('fk_claim_events_actor_id_members')),
    sa.ForeignKeyConstraint(['claim_id'], ['expense_claims.id'], name=op.f('fk_claim_events_claim_id_expense_claims'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_events'))
    )
    with op.batch_alter_table('claim_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_events_claim_id'), ['claim_id'], unique=False)

    op.create_table('claim_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('file_id', sa.String(length=255), nullable=True),
    sa.Column('as_document', sa.Boolean(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['expense_claims.id'], name=op.f('fk_claim_receipts_claim_id_expense_claims'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_receipts'))
    )
    with op.batch_alter_table('claim_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_receipts_claim_id'), ['claim_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('claim_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_receipts_claim_id'))

    op.drop_table('claim_receipts')
    with op.batch_alter_table('claim_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_events_claim_id'))

    op.drop_table('claim_events')
    with op.batch_alter_table('approval_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_steps_waiting')
        batch_op.drop_index('ix_approval_steps_approver')

    op.drop_table('approval_steps')
    with op.batch_alter_table('expense_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_expense_claims_unit')
        batch_op.drop_index('ix_expense_claims_spent')
        batch_op.drop_index(batch_op.f('ix_expense_claims_report_id'))
        batch_op.drop_index(batch_op.f('ix_expense_claims_opportunity_id'))
        batch_op.drop_index('ix_expense_claims_member')
        batch_op.drop_index('ix_expense_claims_department')
        batch_op.drop_index('ix_expense_claims_decided')

    op.drop_table('expense_claims')
    with op.batch_alter_table('expense_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expense_reports_member_id'))

    op.drop_table('expense_reports')

