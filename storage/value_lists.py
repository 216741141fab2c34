"""`column IN (values)` for lists of any length, bound as one parameter.

A plain `IN (...)` binds a parameter per value, and asyncpg refuses a statement with more
than 32,767 of them (an organisation with 50,000 members). So the whole list travels as
one value: an array compared with `= ANY(...)` on PostgreSQL, a JSON array read with
`json_each` on SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import ClassVar

from sqlalchemy import String, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType, TypeDecorator


class _ValueList(TypeDecorator):
    """A Python list as a PostgreSQL array of the column's type, or as JSON text on SQLite."""

    impl = String
    cache_ok = True

    def __init__(self, item_type) -> None:
        super().__init__()
        self.item_type = item_type

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(self.item_type))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value, dialect):
        if dialect.name == "postgresql":
            return list(value)
        return json.dumps(list(value))


class _OneOf(ColumnElement):
    __visit_name__ = "crmbot_one_of"
    inherit_cache = True
    type = NullType()
    _traverse_internals: ClassVar = [("column", InternalTraversal.dp_clauseelement),
                           ("values", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, values) -> None:
        self.column = column
        self.values = values


@compiles(_OneOf)
def _one_of_sqlite(element: _OneOf, compiler, **kw) -> str:
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.values, **kw)}))")


@compiles(_OneOf, "postgresql")
def _one_of_postgresql(element: _OneOf, compiler, **kw) -> str:
    return (f"{compiler.process(element.column, **kw)} = "
            f"ANY({compiler.process(element.values, **kw)})")


def one_of(column, values: Iterable) -> ColumnElement:
    """`column IN values`, however many values, as one bound parameter; empty is false."""
    listed = sorted(set(values))
    return _OneOf(column, bindparam(None, listed, type_=_ValueList(column.type), unique=True))
