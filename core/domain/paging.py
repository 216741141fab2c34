"""Pages of a long list: how many there are, and which rows one of them shows.

A page number comes from a button, which a client can forge: any number stands for a page
that exists, the first for one below it and the last for one past the end, so a button on an
old message of a list that has shrunk since still shows something sensible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Pages:
    """Page `number` (from 0) of `count`, `size` rows each, of a list of `total` rows."""

    number: int
    count: int
    size: int
    total: int

    @classmethod
    def of(cls, total: int, size: int, asked: int = 0) -> Pages:
        """The page `asked` for, moved into the list's pages (an empty list has one)."""
        if size < 1:
            raise ValueError("a page holds at least one row")
        count = max(1, -(-max(total, 0) // size))
        return cls(min(max(asked, 0), count - 1), count, size, max(total, 0))

    @property
    def offset(self) -> int:
        """How many rows come before this page."""
        return self.number * self.size

    @property
    def first(self) -> bool:
        return self.number == 0

    @property
    def last(self) -> bool:
        return self.number == self.count - 1

    def cut(self, rows: Sequence[T]) -> list[T]:
        """This page's rows of the whole list (for lists that are read whole anyway)."""
        return list(rows[self.offset:self.offset + self.size])
