"""expense totals also per quarter and per year, each span's groups in key order

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# The breakdowns kept per span too; a span's rows have the dimension with ".q" or ".y" and
# the span's first day as their month.
DIMENSIONS = ('category', 'unit', 'member', 'opportunity', 'stage')
totals = sa.table(
    'expense_totals',
    sa.column('dimension', sa.String()),
    sa.column('month', sa.Date()),
    sa.column('status', sa.String()),
    sa.column('department_id', sa.Integer()),
    sa.column('key', sa.String()),
    sa.column('amount', sa.BigInteger()),
    sa.column('claims', sa.Integer()),
)


def _start(month: sa.ColumnElement, span: str, dialect: str) -> sa.ColumnElement:
    if dialect == 'postgresql':
        return sa.cast(sa.func.date_trunc(span, month), sa.Date())
    if span == 'year':
        return sa.func.date(month, 'start of year')
    # SQLite's || binds tighter than %: the months back in brackets.
    months_back = ((sa.cast(sa.func.strftime('%m', month), sa.Integer()) - 1) % 3).self_group()
    back = sa.literal('-').concat(months_back).concat(' months')
    return sa.func.date(month, 'start of month', back)


def _create(name: str, key_order: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column('dimension', sa.String(length=16), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('claims', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*key_order, name=op.f(f'pk_{name}')),
        sqlite_with_rowid=False,
    )


def _rekey(key_order: tuple[str, ...]) -> None:
    """The table again with its primary key in `key_order`, the rows copied over."""
    op.rename_table('expense_totals', 'expense_totals_old')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE expense_totals_old RENAME CONSTRAINT pk_expense_totals '
                   'TO pk_expense_totals_old')
    _create('expense_totals', key_order)
    columns = ['dimension', 'month', 'status', 'department_id', 'key', 'amount', 'claims']
    old = sa.table('expense_totals_old', *(sa.column(c) for c in columns))
    op.execute(totals.insert().from_select(columns, sa.select(*old.c)))
    op.drop_table('expense_totals_old')


def upgrade() -> None:
    # A span's groups side by side (the key before status and department): summing a
    # breakdown over them needs no sort.
    _rekey(('dimension', 'month', 'key', 'status', 'department_id'))
    bind = op.get_bind()
    for suffix, span in (('.q', 'quarter'), ('.y', 'year')):
        start = _start(totals.c.month, span, bind.dialect.name)
        bind.execute(totals.insert().from_select(
            ['dimension', 'month', 'status', 'department_id', 'key', 'amount', 'claims'],
            sa.select(totals.c.dimension.concat(suffix), start, totals.c.status,
                      totals.c.department_id, totals.c.key, sa.func.sum(totals.c.amount),
                      sa.func.sum(totals.c.claims))
            .where(totals.c.dimension.in_(DIMENSIONS))
            .group_by(totals.c.dimension, start, totals.c.status, totals.c.department_id,
                      totals.c.key)))


def downgrade() -> None:
    op.execute(totals.delete().where(totals.c.dimension.in_(
        [d + suffix for d in DIMENSIONS for suffix in ('.q', '.y')])))
    _rekey(('dimension', 'month', 'status', 'department_id', 'key'))
