"""Pages of a long list: any page number, forged or stale, stands for a page that exists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.callbacks import TeamPage
from bot.keyboards import pager
from core.domain.paging import Pages


def test_pages_together_hold_every_row_once_in_order():
    rows = list(range(83))
    pages = Pages.of(len(rows), 10)
    assert pages.count == 9
    shown = [row for n in range(pages.count) for row in Pages.of(len(rows), 10, n).cut(rows)]
    assert shown == rows


@given(st.integers(0, 10_000), st.integers(1, 50), st.integers(-10**9, 10**9))
def test_any_asked_number_is_a_page_of_the_list(total, size, asked):
    pages = Pages.of(total, size, asked)
    assert 0 <= pages.number < pages.count
    assert pages.offset <= max(total - 1, 0)
    if asked >= pages.count:
        assert pages.last
    if asked <= 0:
        assert pages.first


def test_an_empty_list_has_one_empty_page():
    pages = Pages.of(0, 10, 5)
    assert (pages.number, pages.count, pages.cut([])) == (0, 1, [])


def test_a_page_holds_at_least_one_row():
    with pytest.raises(ValueError):
        Pages.of(10, 0)


def labels(row) -> list[tuple[str, str]]:
    return [(button.text, button.callback_data) for button in row]


def test_the_pager_offers_the_pages_either_side_and_says_where_it_is():
    assert labels(pager(0, 12, TeamPage)) == [("1/12", "team:l:0"), ("▶", "team:l:1")]
    assert labels(pager(2, 12, TeamPage)) == [("◀", "team:l:1"), ("3/12", "team:l:2"),
                                              ("▶", "team:l:3")]
    assert labels(pager(11, 12, TeamPage)) == [("◀", "team:l:10"), ("12/12", "team:l:11")]


def test_one_page_needs_no_pager():
    assert pager(0, 1, TeamPage) == []
