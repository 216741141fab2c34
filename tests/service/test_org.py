"""Org import, invites and membership against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.org_file import parse_org_file
from core.domain.errors import NotAllowed
from core.domain.expenses.budgets import OverrunPolicy, UnitKind
from core.domain.org.invite import InviteRefused
from core.domain.org.model import OrgSettings, OrgTree, Role
from core.domain.org.org_file import OrgFileError
from core.org.membership import AlreadyMember, MessengerUser, OrgService
from storage import tables
from tests.example_org import DEFAULTS, example


@pytest.fixture
def org(database, clock) -> OrgService:
    return OrgService(database.uow, clock, DEFAULTS, invite_ttl=timedelta(days=7))


async def snapshot(database) -> dict[str, list[tuple]]:
    """Every row of every org table, for comparing whole databases."""
    result = {}
    async with database.uow(read_only=True) as uow:
        for table in tables.Base.metadata.sorted_tables:
            rows = await uow.session.execute(select(table).order_by(*table.primary_key.columns))
            result[table.name] = [tuple(r) for r in rows]
    return result


async def test_example_org_imports_everything(org, database):
    report = await org.import_org(parse_org_file(example()))
    assert report.created["departments"] == 4
    assert report.created["members"] == 8
    assert report.created["projects"] == 2
    assert report.created["customers"] == 4
    assert report.created["budgets"] == 5
    async with database.uow(read_only=True) as uow:
        settings = await uow.organization.get()
        carol = await uow.members.by_key("carol")
        east = await uow.departments.by_key("east")
        erin = await uow.members.by_key("erin")
        budget = await uow.budgets.find(UnitKind.MEMBER, carol.id, "meals", "2026-11")
        project = await uow.projects.by_key("harbor-rollout")
    assert settings == OrgSettings("Harbor Trading Co.", "Asia/Shanghai", "CNY", "en")
    assert carol.account_id == 2001 and carol.department_id == east.id
    assert carol.roles == frozenset({Role.REP})
    assert east.manager_id == erin.id
    assert budget.amount == Decimal("1500.00") and budget.policy is OverrunPolicy.BLOCK
    assert project.member_ids == {carol.id, (await _member_id(database, "li"))}


async def _member_id(database, key: str) -> int:
    async with database.uow(read_only=True) as uow:
        return (await uow.members.by_key(key)).id


async def test_importing_twice_changes_nothing(org, database):
    await org.import_org(parse_org_file(example()))
    before = await snapshot(database)
    report = await org.import_org(parse_org_file(example()))
    assert not report.changed
    assert report.unchanged["members"] == 8
    assert await snapshot(database) == before


async def test_import_updates_by_key(org, database):
    await org.import_org(parse_org_file(example()))
    data = example()
    carol = next(m for m in data["members"] if m["key"] == "carol")
    carol["department"] = "west"
    carol["roles"] = ["rep", "finance"]
    report = await org.import_org(parse_org_file(data))
    assert report.updated["members"] == 1 and not report.created.total()
    async with database.uow(read_only=True) as uow:
        member = await uow.members.by_key("carol")
        west = await uow.departments.by_key("west")
    assert member.department_id == west.id
    assert member.roles == {Role.REP, Role.FINANCE}


async def test_bad_reference_imports_nothing(org, database):
    data = example()
    data["members"][3]["department"] = "atlantis"
    before = await snapshot(database)
    with pytest.raises(OrgFileError, match=r'members\[carol\]\.department: unknown department'):
        await org.import_org(parse_org_file(data))
    assert await snapshot(database) == before


async def test_bad_budget_unit_after_good_entries_rolls_back(org, database):
    await org.import_org(parse_org_file(example()))
    before = await snapshot(database)
    data = example()
    data["customers"][0]["name"] = "Harbor Logistics (renamed)"
    data["budgets"].append({"unit": "project:nope", "period": "2026", "amount": 5})
    with pytest.raises(OrgFileError, match=r"budgets\[project:nope \* 2026\]\.unit"):
        await org.import_org(parse_org_file(data))
    assert await snapshot(database) == before


async def test_department_loop_is_refused(org, database):
    await org.import_org(parse_org_file(example()))
    data = example()
    sales = next(d for d in data["departments"] if d["key"] == "sales")
    sales["parent"] = "east"
    with pytest.raises(OrgFileError, match="makes a loop"):
        await org.import_org(parse_org_file(data))


async def test_telegram_id_taken_by_another_member_is_refused(org, database):
    await org.import_org(parse_org_file(example()))
    data = example()
    sam = next(m for m in data["members"] if m["key"] == "sam")
    sam["telegram_id"] = 2001  # carol's
    data["members"] = [sam]
    data.pop("budgets"), data.pop("projects")
    with pytest.raises(OrgFileError, match=r'members\[sam\]\.telegram_id: already belongs to'):
        await org.import_org(parse_org_file(data))


def only_member(**fields) -> dict:
    """The example's departments and one member entry, nothing else."""
    data = example()
    data["members"] = [{"name": "Newcomer", "department": "east", **fields}]
    data.pop("budgets"), data.pop("projects"), data.pop("goals", None)
    for department in data["departments"]:
        department.pop("manager", None)
    return data


@pytest.mark.parametrize(("account", "field", "holder"), [
    ({"telegram_id": 2001}, "telegram_id", "carol"),
    ({"username": "Carol_Lin"}, "username", "carol"),
    ({"username": "wang_mei"}, "username", "mei"),
])
async def test_a_members_account_under_a_new_key_is_refused_naming_both(org, database,
                                                                       account, field, holder):
    await org.import_org(parse_org_file(example()))
    before = await snapshot(database)
    with pytest.raises(OrgFileError) as refused:
        await org.import_org(parse_org_file(only_member(key="carol2", **account)))
    assert str(refused.value) == f"members[carol2].{field}: already belongs to members[{holder}]"
    assert await snapshot(database) == before


@pytest.mark.parametrize("account", [{"telegram_id": 5005}, {"username": "Nora_Q"}])
async def test_an_invited_member_is_adopted_by_a_proper_key(org, database, account):
    await org.import_org(parse_org_file(example()))
    await org.join(await invited(org), NEWCOMER)
    report = await org.import_org(parse_org_file(only_member(key="nora", **account)))
    assert report.updated["members"] == 1 and report.created["members"] == 0
    assert (await org.identify(5005)).member.key == "nora"
    async with database.uow(read_only=True) as uow:
        assert await uow.members.by_key("tg5005") is None


async def test_a_retired_entry_lets_go_of_its_account(org, database):
    await org.import_org(parse_org_file(example()))
    data = example()
    carol = next(m for m in data["members"] if m["key"] == "carol")
    carol["active"] = False
    data["members"].append({"key": "carol-new", "name": "Carol Lin", "telegram_id": 2001,
                            "username": "carol_lin", "department": "west"})
    await org.import_org(parse_org_file(data))
    assert (await org.identify(2001)).member.key == "carol-new"
    async with database.uow(read_only=True) as uow:
        retired = await uow.members.by_key("carol")
    assert retired.account_id is None and not retired.active


async def test_a_deep_chain_of_departments_listed_children_first_imports(org, database):
    depth = 1500
    data = {"departments": [{"key": f"d{i}", "name": f"Level {i}",
                             **({"parent": f"d{i - 1}"} if i else {})}
                            for i in reversed(range(depth))],
            "members": [{"key": "deep", "name": "Deep", "telegram_id": 4001,
                         "department": f"d{depth - 1}"}]}
    report = await org.import_org(parse_org_file(data))
    assert report.created["departments"] == depth
    async with database.uow(read_only=True) as uow:
        bottom = await uow.departments.by_key(f"d{depth - 1}")
        tree = OrgTree.of(await uow.departments.all())
    assert [d.key for d in tree.ancestors(bottom.id)][-1] == "d0"
    assert len(tree.ancestors(bottom.id)) == depth - 1


async def test_a_loop_deep_in_a_long_chain_is_refused(org, database):
    data = {"departments": [{"key": f"d{i}", "name": f"Level {i}", "parent": f"d{i - 1}"}
                            for i in reversed(range(1, 1500))]
            + [{"key": "d0", "name": "Top", "parent": "d1499"}]}
    with pytest.raises(OrgFileError, match=r"departments\[d\d+\]\.parent: makes a loop"):
        await org.import_org(parse_org_file(data))
    assert (await snapshot(database))["departments"] == []


async def test_a_retired_member_cannot_head_a_department(org, database):
    await org.import_org(parse_org_file(example()))
    before = await snapshot(database)
    data = example()
    next(m for m in data["members"] if m["key"] == "erin")["active"] = False
    with pytest.raises(OrgFileError) as refused:
        await org.import_org(parse_org_file(data))
    assert str(refused.value) == 'departments[east].manager: member "erin" is retired ' \
                                 '(active = false)'
    assert await snapshot(database) == before
    next(d for d in data["departments"] if d["key"] == "east")["manager"] = "li"
    await org.import_org(parse_org_file(data))
    assert await org.roles(1002) == frozenset()


async def invited(org: OrgService, inviter: int = 1002) -> str:
    return (await org.create_invite(inviter)).token


NEWCOMER = MessengerUser(5005, "Nora", "Quinn", "nora_q", "en")


async def test_invite_registers_into_inviters_department(org, database, clock):
    await org.import_org(parse_org_file(example()))
    issued = await org.create_invite(1002)  # erin, manager of east
    assert issued.department_name == "East region"
    assert issued.expires_at == clock.now() + timedelta(days=7)
    joined = await org.join(issued.token, NEWCOMER)
    assert joined.member.name == "Nora Quinn"
    visitor = await org.identify(5005)
    assert visitor.is_member and visitor.member.roles == {Role.REP}
    async with database.uow(read_only=True) as uow:
        east = await uow.departments.by_key("east")
        stored = await uow.session.scalar(select(func.count()).select_from(tables.InviteRow)
                                          .where(tables.InviteRow.used_by.is_not(None)))
    assert visitor.member.department_id == east.id and stored == 1


async def test_rep_cannot_invite(org):
    await org.import_org(parse_org_file(example()))
    with pytest.raises(NotAllowed):
        await org.create_invite(2001)


async def test_used_expired_and_forged_tokens_are_refused(org, database, clock):
    await org.import_org(parse_org_file(example()))
    token = await invited(org)
    await org.join(token, NEWCOMER)
    members_before = await snapshot(database)
    with pytest.raises(InviteRefused) as used:
        await org.join(token, MessengerUser(6006, "Otto"))
    assert used.value.code == "invite_used"
    old = await invited(org)
    clock.advance(days=7, seconds=1)
    with pytest.raises(InviteRefused) as expired:
        await org.join(old, MessengerUser(6006, "Otto"))
    assert expired.value.code == "invite_expired"
    for forged in ("x" * 32, "short", "../../etc", token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(InviteRefused) as unknown:
            await org.join(forged, MessengerUser(6006, "Otto"))
        assert unknown.value.code == "invite_unknown"
    after = await snapshot(database)
    assert after["members"] == members_before["members"]
    assert (await org.identify(6006)).member is None


async def test_member_cannot_join_again(org):
    await org.import_org(parse_org_file(example()))
    with pytest.raises(AlreadyMember):
        await org.join(await invited(org), MessengerUser(2001, "Carol"))


async def test_two_people_racing_for_one_invite_get_one_membership(org, database):
    await org.import_org(parse_org_file(example()))
    token = await invited(org)
    results = await asyncio.gather(
        org.join(token, MessengerUser(7001, "A")), org.join(token, MessengerUser(7002, "B")),
        return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, InviteRefused) for r in results if isinstance(r, Exception))
    joined = [(await org.identify(i)).member for i in (7001, 7002)]
    assert sum(m is not None for m in joined) == 1


async def test_listed_username_is_claimed_on_start(org):
    await org.import_org(parse_org_file(example()))
    visitor = await org.start(MessengerUser(4242, "Mei", username="Wang_Mei"))
    assert visitor.is_member and visitor.member.key == "mei"
    assert (await org.identify(4242)).member.key == "mei"
    # A second account with the same username later finds the entry taken.
    assert not (await org.start(MessengerUser(4343, "Imposter", username="wang_mei"))).is_member


async def test_roles_include_heading_a_department(org):
    await org.import_org(parse_org_file(example()))
    assert await org.roles(1002) == {Role.MANAGER}
    assert await org.roles(1001) == {Role.MANAGER, Role.ADMIN}
    assert await org.roles(9999) == frozenset()


async def test_language_setting_is_stored(org):
    await org.import_org(parse_org_file(example()))
    await org.set_language(2001, "zh_Hans")
    assert (await org.identify(2001)).member.language == "zh_Hans"


async def test_unit_of_work_rolls_back_without_commit(database):
    async with database.uow() as uow:
        await uow.organization.put(OrgSettings("Temp", "UTC", "EUR", "en"))
    async with database.uow(read_only=True) as uow:
        assert await uow.organization.get() is None
