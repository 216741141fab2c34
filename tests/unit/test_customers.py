"""Which customers a rep is offered to pick: by name, or those matching what was typed."""

from __future__ import annotations

import pytest

from core.domain.org.model import Customer, customers_matching

HARBOR = Customer(1, "harbor", "Harbor Logistics", "", 31.24, 121.49)
PUDONG = Customer(2, "pudong-med", "Pudong Medical", "", 31.23, 121.53)
ANHUI = Customer(3, "anhui", "安徽食品", "", 31.86, 117.28)


def test_customers_are_offered_by_name():
    assert customers_matching([PUDONG, HARBOR, ANHUI]) == [HARBOR, PUDONG, ANHUI]


@pytest.mark.parametrize(("search", "found"), [
    ("harbor", [HARBOR]), ("HARBOR", [HARBOR]), (" logistics ", [HARBOR]),
    ("med", [PUDONG]),  # the key counts too
    ("安徽", [ANHUI]), ("o", [HARBOR, PUDONG]),
    ("", []), ("   ", []), ("nobody", []),
])
def test_a_search_matches_name_or_key_in_any_case(search, found):
    assert customers_matching([PUDONG, HARBOR, ANHUI], search) == found
