"""The department tree and who may see and do what in it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.org.model import CycleError, Department, Member, OrgTree, Role
from core.domain.org.permissions import (
    can_act_on_department,
    can_invite,
    can_manage_org,
    can_see_member,
    can_see_money_of,
    effective_roles,
    is_manager,
    visible_departments,
)

# Harbor Trading: sales (dana) > east (erin), west (walt); finance has no head.
SALES, EAST, WEST, FINANCE = 1, 2, 3, 4
DANA, ERIN, WALT, CAROL, SAM, FIONA, MONA, REX = 11, 12, 13, 21, 22, 31, 32, 41


def harbor() -> OrgTree:
    return OrgTree.of([
        Department(WEST, "west", "West region", parent_id=SALES, manager_id=WALT),
        Department(SALES, "sales", "Sales", manager_id=DANA),
        Department(FINANCE, "finance", "Finance"),
        Department(EAST, "east", "East region", parent_id=SALES, manager_id=ERIN),
    ])


def person(member_id: int, department_id: int, *roles: Role, active: bool = True) -> Member:
    return Member(member_id, f"m{member_id}", f"Member {member_id}", department_id,
                  roles=frozenset(roles or {Role.REP}), active=active)


dana = person(DANA, SALES, Role.MANAGER, Role.ADMIN)
erin = person(ERIN, EAST, Role.MANAGER)
walt = person(WALT, WEST, Role.MANAGER)
carol = person(CAROL, EAST)
sam = person(SAM, WEST)
fiona = person(FIONA, FINANCE, Role.FINANCE)
mona = person(MONA, FINANCE, Role.MANAGER)  # a manager by role who heads nothing
rex = person(REX, FINANCE, Role.ADMIN)  # an admin who is not a manager


# The tree.


def test_a_subtree_holds_the_department_and_everything_below():
    tree = harbor()
    assert tree.subtree_ids(SALES) == {SALES, EAST, WEST}
    assert tree.subtree_ids(EAST) == {EAST}
    assert tree.subtree_ids(FINANCE) == {FINANCE}


def test_ancestors_run_from_the_nearest_parent_up():
    tree = harbor()
    assert [d.key for d in tree.ancestors(EAST)] == ["sales"]
    assert tree.ancestors(SALES) == []


def test_roots_and_children_are_in_key_order():
    tree = harbor()
    assert [d.key for d in tree.roots()] == ["finance", "sales"]
    assert [d.key for d in tree.children(SALES)] == ["east", "west"]


def test_the_manager_chain_runs_up_to_the_top():
    tree = harbor()
    assert tree.manager_chain(EAST) == [ERIN, DANA]
    assert tree.manager_chain(SALES) == [DANA]
    assert tree.manager_chain(FINANCE) == []


def test_the_manager_chain_names_a_manager_once():
    tree = OrgTree.of([Department(1, "sales", "Sales", manager_id=DANA),
                       Department(2, "east", "East", parent_id=1, manager_id=DANA),
                       Department(3, "shanghai", "Shanghai", parent_id=2)])
    assert tree.manager_chain(3) == [DANA]


def test_a_department_that_is_its_own_parent_is_a_cycle():
    with pytest.raises(CycleError):
        OrgTree.of([Department(1, "loop", "Loop", parent_id=1)])


def test_departments_that_are_each_others_parents_are_a_cycle():
    with pytest.raises(CycleError):
        OrgTree.of([Department(1, "sales", "Sales"),
                    Department(2, "east", "East", parent_id=3),
                    Department(3, "west", "West", parent_id=2)])


# Managing.


def test_the_head_of_a_department_manages_its_subtree():
    tree = harbor()
    assert tree.managed_by(dana) == {SALES, EAST, WEST}
    assert tree.managed_by(erin) == {EAST}


def test_a_manager_by_role_who_heads_nothing_manages_their_own_department():
    assert harbor().managed_by(mona) == {FINANCE}


def test_a_rep_manages_nothing():
    tree = harbor()
    assert tree.managed_by(carol) == set()
    assert not is_manager(carol, tree)


def test_a_rep_who_heads_a_department_acts_as_its_manager():
    tree = OrgTree.of([Department(1, "east", "East", manager_id=CAROL)])
    assert tree.managed_by(carol) == {1}
    assert effective_roles(carol, tree) == {Role.REP, Role.MANAGER}


def test_effective_roles_add_nothing_for_people_who_head_nothing():
    tree = harbor()
    assert effective_roles(sam, tree) == {Role.REP}
    assert effective_roles(fiona, tree) == {Role.FINANCE}
    assert effective_roles(erin, tree) == {Role.MANAGER}


# Permissions.


def test_managers_and_admins_may_invite_and_reps_may_not():
    tree = harbor()
    assert can_invite(erin, tree)
    assert can_invite(mona, tree)
    assert can_invite(rex, tree)
    assert not can_invite(carol, tree)
    assert not can_invite(fiona, tree)


def test_an_inactive_manager_or_admin_may_not_invite():
    tree = harbor()
    assert not can_invite(replace(erin, active=False), tree)
    assert not can_invite(replace(rex, active=False), tree)


def test_only_active_admins_manage_the_org():
    assert can_manage_org(rex)
    assert not can_manage_org(erin)
    assert not can_manage_org(replace(rex, active=False))


def test_the_east_manager_sees_east_reps_but_not_west_reps():
    tree = harbor()
    assert can_see_member(erin, carol, tree)
    assert not can_see_member(erin, sam, tree)
    assert not can_see_member(erin, dana, tree)


def test_the_head_of_sales_sees_both_regions():
    tree = harbor()
    assert can_see_member(dana, carol, tree) and can_see_member(dana, sam, tree)


def test_an_admin_sees_everyone():
    tree = harbor()
    assert all(can_see_member(rex, other, tree) for other in (dana, carol, sam, fiona, mona))


def test_a_rep_sees_only_themselves():
    tree = harbor()
    assert can_see_member(carol, carol, tree)
    assert not can_see_member(carol, person(99, EAST), tree)
    assert not can_see_member(carol, erin, tree)


def test_an_inactive_member_sees_nobody_not_even_themselves():
    tree = harbor()
    for actor in (replace(rex, active=False), replace(erin, active=False),
                  replace(carol, active=False)):
        assert not any(can_see_member(actor, other, tree) for other in (actor, carol, sam))
        assert visible_departments(actor, tree) == set()


def test_finance_sees_everyone_s_money():
    tree = harbor()
    assert all(can_see_money_of(fiona, owner, tree) for owner in (dana, carol, sam))


def test_money_otherwise_follows_who_one_may_see():
    tree = harbor()
    assert can_see_money_of(erin, carol, tree)
    assert not can_see_money_of(erin, sam, tree)
    assert not can_see_money_of(carol, sam, tree)
    assert not can_see_money_of(replace(fiona, active=False), sam, tree)


def test_managers_act_on_their_subtree_and_admins_on_every_department():
    tree = harbor()
    assert can_act_on_department(erin, EAST, tree)
    assert not can_act_on_department(erin, WEST, tree)
    assert all(can_act_on_department(rex, d, tree) for d in (SALES, EAST, WEST, FINANCE))
    assert not can_act_on_department(carol, EAST, tree)


def test_a_manager_looks_into_their_subtree_and_an_admin_into_every_department():
    tree = harbor()
    assert visible_departments(rex, tree) == {SALES, EAST, WEST, FINANCE}
    assert visible_departments(erin, tree) == {EAST}
    assert visible_departments(replace(dana, roles=frozenset({Role.MANAGER})), tree) == {
        SALES, EAST, WEST}
    assert visible_departments(carol, tree) == set()


# Any tree.


@st.composite
def trees(draw) -> OrgTree:
    """A random forest: each department's parent comes earlier, ids and keys shuffled."""
    size = draw(st.integers(1, 12))
    parents = [None, *(draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(1, size))]
    ids = draw(st.permutations(range(100, 100 + size)))
    keys = draw(st.permutations([f"d{i:02d}" for i in range(size)]))
    managers = [draw(st.one_of(st.none(), st.integers(1, 4))) for _ in range(size)]
    return OrgTree.of(
        Department(ids[i], keys[i], keys[i],
                   parent_id=None if parents[i] is None else ids[parents[i]],
                   manager_id=managers[i])
        for i in range(size))


@given(trees())
def test_every_subtree_contains_its_root_and_nests_in_its_parents(tree):
    for dept_id, dept in tree.departments.items():
        assert dept_id in tree.subtree_ids(dept_id)
        if dept.parent_id is not None:
            assert tree.subtree_ids(dept_id) < tree.subtree_ids(dept.parent_id)


@given(trees())
def test_ancestors_never_include_the_department_and_mirror_subtrees(tree):
    for dept_id in tree.departments:
        ancestors = [d.id for d in tree.ancestors(dept_id)]
        assert dept_id not in ancestors
        assert len(set(ancestors)) == len(ancestors)
        for other in tree.departments:
            below = dept_id in tree.subtree_ids(other)
            assert below == (other == dept_id or other in ancestors)


@given(trees())
def test_the_manager_chain_is_the_heads_above_without_repeats(tree):
    for dept_id, dept in tree.departments.items():
        chain = tree.manager_chain(dept_id)
        heads = [d.manager_id for d in [dept, *tree.ancestors(dept_id)]
                 if d.manager_id is not None]
        assert chain == list(dict.fromkeys(heads))


@given(trees(), st.integers(1, 4))
def test_a_head_manages_exactly_the_subtrees_they_head(tree, member_id):
    some_dept = next(iter(tree.departments))
    member = person(member_id, some_dept)
    headed = [d for d, dept in tree.departments.items() if dept.manager_id == member_id]
    expected = set().union(*(tree.subtree_ids(d) for d in headed))
    assert tree.managed_by(member) == expected
    for dept_id in tree.departments:
        assert can_see_member(member, person(99, dept_id), tree) == (dept_id in expected)


@given(st.lists(st.one_of(st.none(), st.integers(0, 7)), min_size=1, max_size=8))
def test_a_tree_is_refused_exactly_when_some_department_is_its_own_ancestor(parents):
    size = len(parents)
    parents = [p if p is None or p < size else None for p in parents]

    def loops(start: int) -> bool:
        current = parents[start]
        for _ in range(size):
            if current is None:
                return False
            current = parents[current]
        return True

    departments = [Department(i, f"d{i}", f"D{i}", parent_id=parents[i]) for i in range(size)]
    if any(loops(i) for i in range(size)):
        with pytest.raises(CycleError):
            OrgTree.of(departments)
    else:
        OrgTree.of(departments)
