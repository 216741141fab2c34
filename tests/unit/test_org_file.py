"""The org file: every bad value is refused naming its entry and field."""

from __future__ import annotations

import copy
import math
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.org_file import parse_org_file
from core.domain.expenses.budgets import OverrunPolicy, UnitKind
from core.domain.money import MAX_AMOUNT
from core.domain.org.model import Role
from core.domain.org.org_file import OrgFileError

EXAMPLE_ORG = Path(__file__).resolve().parents[2] / "examples" / "org.toml"

with EXAMPLE_ORG.open("rb") as _handle:
    EXAMPLE = tomllib.load(_handle)


def example() -> dict:
    return copy.deepcopy(EXAMPLE)


def entry(data: dict, section: str, key: str) -> dict:
    return next(e for e in data[section] if e.get("key") == key)


def refusal(data: dict) -> str:
    with pytest.raises(OrgFileError) as caught:
        parse_org_file(data)
    return str(caught.value)


def minimal(**sections) -> dict:
    """A one-department, one-member file plus the given sections."""
    data = {
        "departments": [{"key": "east", "name": "East"}],
        "members": [{"key": "carol", "name": "Carol", "telegram_id": 2001,
                     "department": "east"}],
    }
    data.update(sections)
    return data


def budget(**fields) -> dict:
    return {"unit": "department:east", "period": "2026-11", "amount": "100", **fields}


def customer(**fields) -> dict:
    return {"key": "site", "name": "Site", "lat": 31.2, "lon": 121.5, **fields}


# The example file.


def test_the_example_org_file_parses():
    document = parse_org_file(example())
    assert document.org.name == "Harbor Trading Co."
    assert document.org.timezone == "Asia/Shanghai"
    assert document.org.currency == "CNY"
    assert document.org.default_language == "en"
    assert [d.key for d in document.departments] == ["sales", "east", "west", "finance"]
    assert len(document.members) == 8
    assert len(document.projects) == 2
    assert len(document.customers) == 4
    assert len(document.budgets) == 5


def test_the_example_departments_form_the_sales_tree():
    departments = {d.key: d for d in parse_org_file(example()).departments}
    assert departments["sales"].parent is None and departments["sales"].manager == "dana"
    assert departments["east"].parent == "sales" and departments["east"].manager == "erin"
    assert departments["finance"].manager is None


def test_the_example_members_keep_roles_language_and_identity():
    members = {m.key: m for m in parse_org_file(example()).members}
    assert members["dana"].roles == {Role.MANAGER, Role.ADMIN}
    assert members["fiona"].roles == {Role.FINANCE}
    assert members["li"].language == "zh_Hans"
    assert members["sam"].language is None
    assert members["mei"].account_id is None and members["mei"].username == "wang_mei"
    assert all(m.active for m in members.values())


def test_the_example_customers_and_budgets_are_typed():
    document = parse_org_file(example())
    customers = {c.key: c for c in document.customers}
    assert customers["harbor-logistics"].radius_m == 150
    assert customers["chengdu-foods"].radius_m == 200  # the default
    first = document.budgets[0]
    assert (first.unit_kind, first.unit_key, first.category) == (
        UnitKind.DEPARTMENT, "east", "travel")
    assert first.period.start == date(2026, 11, 1)
    assert first.amount == Decimal("10000.00")
    assert first.policy is OverrunPolicy.WARN
    assert document.budgets[1].category is None
    assert document.budgets[3].amount == Decimal("1500.00")


def test_an_empty_file_is_an_empty_org():
    document = parse_org_file({})
    assert document.org.name is None
    assert document.departments == document.members == document.budgets == ()


def test_a_username_with_at_sign_is_stored_without_it():
    data = minimal()
    data["members"][0] = {"key": "carol", "name": "Carol", "username": "@carol_lin",
                          "department": "east"}
    assert parse_org_file(data).members[0].username == "carol_lin"


def test_a_member_without_roles_is_a_rep():
    assert parse_org_file(minimal()).members[0].roles == {Role.REP}


# Bad members.


def test_a_text_telegram_id_is_refused_naming_the_member():
    data = example()
    entry(data, "members", "carol")["telegram_id"] = "2001"
    assert refusal(data) == "members[carol].telegram_id: must be a whole number"


@pytest.mark.parametrize("value", [20.01, True, [2001]])
def test_a_telegram_id_that_is_not_a_whole_number_is_refused(value):
    data = example()
    entry(data, "members", "carol")["telegram_id"] = value
    assert refusal(data) == "members[carol].telegram_id: must be a whole number"


@pytest.mark.parametrize("value", [0, -1001234567890])
def test_a_group_id_is_not_a_member(value):
    data = example()
    entry(data, "members", "carol")["telegram_id"] = value
    assert refusal(data).startswith("members[carol].telegram_id: must be a positive number")


@pytest.mark.parametrize("value", [2**52, 2**63 - 1, 2**63, 2**64])
def test_a_telegram_id_beyond_what_telegram_issues_is_refused(value):
    data = example()
    entry(data, "members", "carol")["telegram_id"] = value
    assert refusal(data) == "members[carol].telegram_id: too large for a Telegram user id"


def test_the_largest_telegram_user_id_is_accepted():
    data = example()
    entry(data, "members", "carol")["telegram_id"] = 2**52 - 1
    members = {m.key: m for m in parse_org_file(data).members}
    assert members["carol"].account_id == 2**52 - 1


def test_a_retired_entry_may_name_the_account_it_hands_over():
    data = example()
    entry(data, "members", "carol")["active"] = False
    data["members"].append({"key": "carol-new", "name": "Carol Lin", "telegram_id": 2001,
                            "username": "carol_lin", "department": "east"})
    members = {m.key: m for m in parse_org_file(data).members}
    assert members["carol-new"].account_id == members["carol"].account_id == 2001


@pytest.mark.parametrize("written", ["carol_lin", "@Carol_Lin", "CAROL_LIN"])
def test_two_members_with_one_username_are_refused(written):
    data = example()
    entry(data, "members", "sam")["username"] = written
    assert refusal(data) == "members[sam].username: same as members[carol]"


def test_a_member_with_neither_telegram_id_nor_username_is_refused():
    data = example()
    del entry(data, "members", "walt")["telegram_id"]
    assert refusal(data).startswith("members[walt].telegram_id: missing")


def test_two_members_with_one_telegram_account_are_refused():
    data = example()
    entry(data, "members", "sam")["telegram_id"] = 2001
    assert refusal(data) == "members[sam].telegram_id: same as members[carol]"


@pytest.mark.parametrize("roles", [["boss"], ["rep", "owner"], [1]])
def test_a_role_outside_the_set_is_refused(roles):
    data = example()
    entry(data, "members", "carol")["roles"] = roles
    assert refusal(data) == "members[carol].roles: use rep, manager, finance or admin"


@pytest.mark.parametrize("roles", [[], "rep"])
def test_roles_must_be_a_non_empty_list(roles):
    data = example()
    entry(data, "members", "carol")["roles"] = roles
    assert refusal(data) == "members[carol].roles: must be a non-empty list"


@pytest.mark.parametrize("language", ["de", "fr", "ru-RU", 5])
def test_a_language_the_bot_does_not_speak_is_refused(language):
    data = example()
    entry(data, "members", "carol")["language"] = language
    assert refusal(data).startswith("members[carol].language: ")


@pytest.mark.parametrize(("written", "stored"),
                         [("en", "en"), ("zh_Hans", "zh_Hans"), ("zh-CN", "zh_Hans")])
def test_a_language_is_stored_as_the_bot_names_it(written, stored):
    data = example()
    entry(data, "members", "carol")["language"] = written
    members = {m.key: m for m in parse_org_file(data).members}
    assert members["carol"].language == stored


@pytest.mark.parametrize("username", ["abcd", "@abcd", "1carol", "carol-lin", "carol lin",
                                      "@@carol", "_carol", "c" * 33])
def test_a_username_that_telegram_would_not_allow_is_refused(username):
    data = example()
    entry(data, "members", "carol")["username"] = username
    assert refusal(data).startswith("members[carol].username: ")


@pytest.mark.parametrize("username", ["carol", "@carol", "Carol_Lin_2", "c" * 32])
def test_a_telegram_shaped_username_is_accepted(username):
    data = example()
    entry(data, "members", "carol")["username"] = username
    members = {m.key: m for m in parse_org_file(data).members}
    assert members["carol"].username == username.lstrip("@")


def test_a_member_without_a_name_is_refused():
    data = example()
    del entry(data, "members", "carol")["name"]
    assert refusal(data) == "members[carol].name: missing"


@pytest.mark.parametrize("name", ["Carol\x00Lin", "Carol\x1bLin", "Carol Lin\x7f",
                                  "Carol\u0085Lin"])
def test_a_name_with_control_characters_is_refused(name):
    data = example()
    entry(data, "members", "carol")["name"] = name
    assert refusal(data) == "members[carol].name: contains control characters (such as NUL)"


def test_a_customer_name_with_nul_is_refused():
    data = example()
    entry(data, "customers", "harbor-logistics")["name"] = "Harbor\x00 Logistics"
    assert refusal(data) == ("customers[harbor-logistics].name: contains control characters "
                             "(such as NUL)")


def test_a_blank_name_is_refused():
    data = example()
    entry(data, "members", "carol")["name"] = "   "
    assert refusal(data) == "members[carol].name: must be non-empty text"


def test_an_active_flag_must_be_true_or_false():
    data = example()
    entry(data, "members", "carol")["active"] = "yes"
    assert refusal(data) == "members[carol].active: must be true or false"


def test_a_bad_key_is_refused():
    data = example()
    entry(data, "members", "carol")["key"] = "carol lin"
    assert refusal(data).startswith("members[carol lin].key: ")


def test_an_entry_without_key_is_named_by_its_position():
    data = example()
    del data["projects"][1]["key"]
    assert refusal(data) == "projects[2].key: missing"


# Structure.


def test_an_unknown_field_is_refused_naming_it():
    data = example()
    entry(data, "members", "carol")["phone"] = "+86 138"
    assert refusal(data) == "members[carol].phone: unknown field"


def test_an_unknown_field_in_the_org_table_is_named_by_the_org_table():
    data = example()
    data["org"]["owner"] = "dana"
    assert refusal(data) == "org.owner: unknown field"


def test_an_org_value_that_is_not_a_table_is_refused():
    data = example()
    data["org"] = "Harbor"
    assert refusal(data) == "org: must be a table"


def test_an_unknown_section_is_refused_naming_it():
    data = example()
    data["teams"] = []
    assert refusal(data).startswith("teams: unknown section")


def test_a_section_written_as_one_table_is_refused():
    data = example()
    data["members"] = {"key": "carol"}
    assert refusal(data) == "members: write it as [[members]] tables"


def test_an_entry_that_is_not_a_table_is_refused_naming_its_position():
    data = example()
    data["customers"].insert(1, "Harbor Logistics")
    assert refusal(data) == "customers[2]: must be a table"


@pytest.mark.parametrize("section", ["departments", "members", "projects", "customers"])
def test_a_key_used_twice_in_a_section_is_refused(section):
    data = example()
    data[section].append(copy.deepcopy(data[section][0]))
    if section == "members":
        data[section][-1]["telegram_id"] = 999999
    assert refusal(data) == f"{section}[{data[section][0]['key']}]: appears twice in the file"


def test_a_budget_given_twice_is_refused():
    data = example()
    data["budgets"].append({**data["budgets"][0], "amount": "5"})
    assert refusal(data) == "budgets[department:east travel 2026-11]: appears twice in the file"


def test_project_members_must_be_a_list_of_keys():
    data = example()
    data["projects"][0]["members"] = "carol"
    assert refusal(data) == "projects[harbor-rollout].members: must be a list of keys"


# Customers.


@pytest.mark.parametrize("lat", [90.5, -91.0, math.nan, math.inf])
def test_a_latitude_off_the_earth_is_refused(lat):
    data = example()
    entry(data, "customers", "pudong-medical")["lat"] = lat
    assert refusal(data) == (
        "customers[pudong-medical].lat: latitude must be between -90 and 90")


@pytest.mark.parametrize("lon", [180.5, -181, math.nan])
def test_a_longitude_off_the_earth_is_refused(lon):
    data = example()
    entry(data, "customers", "pudong-medical")["lon"] = lon
    assert refusal(data) == (
        "customers[pudong-medical].lon: longitude must be between -180 and 180")


@pytest.mark.parametrize("lat", ["31.23", True, None])
def test_a_latitude_must_be_a_number(lat):
    data = minimal(customers=[customer(lat=lat)])
    problem = "missing" if lat is None else "must be a number"
    assert refusal(data) == f"customers[site].lat: {problem}"


def test_a_huge_whole_number_latitude_is_refused_not_crashed():
    assert refusal(minimal(customers=[customer(lat=10**400)])).startswith("customers[site].lat")


@given(st.floats(allow_nan=False).filter(lambda v: not -90 <= v <= 90))
def test_any_latitude_beyond_the_poles_is_refused(lat):
    assert refusal(minimal(customers=[customer(lat=lat)])) == (
        "customers[site].lat: latitude must be between -90 and 90")


@given(st.floats(-90, 90), st.floats(-180, 180))
def test_any_point_on_the_earth_is_accepted(lat, lon):
    site = parse_org_file(minimal(customers=[customer(lat=lat, lon=lon)])).customers[0]
    assert (site.lat, site.lon) == (lat, lon)


def test_a_whole_number_coordinate_is_accepted_as_a_float():
    site = parse_org_file(minimal(customers=[customer(lat=31, lon=121)])).customers[0]
    assert (site.lat, site.lon) == (31.0, 121.0)
    assert isinstance(site.lat, float)


@pytest.mark.parametrize("radius", [9, 50_001, 0, -200])
def test_a_check_in_radius_out_of_range_is_refused(radius):
    assert refusal(minimal(customers=[customer(radius_m=radius)])).startswith(
        "customers[site].radius_m: must be between 10 and 50000")


# Budgets.


@pytest.mark.parametrize(("amount", "problem"), [
    ("-5", "must not be negative"),
    (-5, "must not be negative"),
    ("abc", "not a number"),
    ("1.234", "has more than two decimals"),
    (0.125, "has more than two decimals"),
    (0, "must be more than zero"),
    ("0.00", "must be more than zero"),
    ("NaN", "not a number"),
    ("Infinity", "not a number"),
    (True, "not a number"),
])
def test_a_bad_budget_amount_is_refused_naming_the_budget(amount, problem):
    data = minimal(budgets=[budget(amount=amount)])
    assert refusal(data) == f"budgets[1].amount: {problem}"


def test_a_budget_without_amount_is_refused():
    data = minimal(budgets=[{"unit": "department:east", "period": "2026-11"}])
    assert refusal(data) == "budgets[1].amount: missing"


def test_an_absurdly_large_budget_is_refused_not_crashed():
    assert refusal(minimal(budgets=[budget(amount="1e40")])).startswith("budgets[1].amount: ")


@given(st.decimals(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, places=2))
def test_any_positive_amount_with_two_decimals_round_trips(amount):
    for written in (str(amount), f"{amount:f}"):
        parsed = parse_org_file(minimal(budgets=[budget(amount=written)])).budgets[0]
        assert parsed.amount == amount
        assert parsed.amount.as_tuple().exponent == -2


@given(st.integers(1, 10**12))
def test_a_toml_float_amount_keeps_the_written_cents(cents):
    written = cents / 100  # what tomllib gives for `amount = 12.5`
    parsed = parse_org_file(minimal(budgets=[budget(amount=written)])).budgets[0]
    assert parsed.amount == Decimal(cents) / 100


@pytest.mark.parametrize(("period", "problem"), [
    ("2026-13", "month must be 01-12"),
    ("2026-00", "month must be 01-12"),
    ("2026-Q5", "use 2026-11, 2026-Q4 or 2026"),
    ("26-11", "use 2026-11, 2026-Q4 or 2026"),
    ("2026-11-01", "use 2026-11, 2026-Q4 or 2026"),
    ("November", "use 2026-11, 2026-Q4 or 2026"),
])
def test_a_bad_period_is_refused(period, problem):
    assert refusal(minimal(budgets=[budget(period=period)])) == f"budgets[1].period: {problem}"


@pytest.mark.parametrize("period", ["0000", "9999-12", 202611])
def test_a_period_that_cannot_be_a_date_range_is_refused_not_crashed(period):
    assert refusal(minimal(budgets=[budget(period=period)])).startswith("budgets[1].period: ")


@pytest.mark.parametrize("unit", ["team:x", "department:", "east", "department:east west",
                                  "customer:harbor"])
def test_a_bad_budget_unit_is_refused(unit):
    assert refusal(minimal(budgets=[budget(unit=unit)])) == (
        "budgets[1].unit: use department:KEY, project:KEY or member:KEY")


def test_a_bad_overrun_policy_is_refused():
    assert refusal(minimal(budgets=[budget(policy="stop")])) == (
        "budgets[1].policy: use warn, block or escalate")


def test_a_budget_period_is_normalised():
    parsed = parse_org_file(minimal(budgets=[budget(period="2026-q4")])).budgets[0]
    assert parsed.period.label == "2026-Q4"
    assert parsed.where == "budgets[department:east * 2026-Q4]"


# The org table.


def test_an_unknown_org_time_zone_is_refused():
    data = example()
    data["org"]["timezone"] = "Mars/Olympus_Mons"
    assert refusal(data) == "org.timezone: unknown time zone 'Mars/Olympus_Mons'"


def test_an_org_currency_is_three_letters_and_upper_cased():
    data = example()
    data["org"]["currency"] = "eur"
    assert parse_org_file(data).org.currency == "EUR"
    data["org"]["currency"] = "EU"
    assert refusal(data) == "org.currency: must be a three-letter code like CNY"


def test_an_org_default_language_must_be_spoken():
    data = example()
    data["org"]["default_language"] = "fr"
    assert refusal(data) == 'org.default_language: must be "en" or "zh_Hans"'
