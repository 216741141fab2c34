"""Who may see and do what: pure functions over members and the org tree."""

from __future__ import annotations

from core.domain.org.model import Member, OrgTree, Role


def is_manager(member: Member, tree: OrgTree) -> bool:
    """A manager by role, or the head of any department."""
    return member.active and bool(tree.managed_by(member))


def can_manage_org(member: Member) -> bool:
    """Admins change the organisation: departments, members, projects, customers."""
    return member.active and member.has(Role.ADMIN)


def can_invite(member: Member, tree: OrgTree) -> bool:
    """Managers invite into their own department; admins into any."""
    return can_manage_org(member) or is_manager(member, tree)


def can_see_member(actor: Member, other: Member, tree: OrgTree) -> bool:
    """Everyone sees themselves; managers their subtree; admins everyone."""
    if not actor.active:
        return False
    if actor.id == other.id or actor.has(Role.ADMIN):
        return True
    return other.department_id in tree.managed_by(actor)


def can_act_on_department(actor: Member, dept_id: int, tree: OrgTree) -> bool:
    """Managers act on their subtree; admins on every department."""
    if not actor.active:
        return False
    return actor.has(Role.ADMIN) or dept_id in tree.managed_by(actor)


def can_see_money_of(actor: Member, owner: Member, tree: OrgTree) -> bool:
    """Finance sees all money; otherwise the rules for seeing the person apply."""
    if actor.active and actor.has(Role.FINANCE):
        return True
    return can_see_member(actor, owner, tree)


def visible_departments(actor: Member, tree: OrgTree) -> set[int]:
    """Departments whose people the actor may look at (besides themselves)."""
    if not actor.active:
        return set()
    if actor.has(Role.ADMIN):
        return set(tree.departments)
    return tree.managed_by(actor)


def effective_roles(member: Member, tree: OrgTree) -> frozenset[Role]:
    """Roles as they act: heading a department makes a manager."""
    roles = set(member.roles)
    if any(d.manager_id == member.id for d in tree.departments.values()):
        roles.add(Role.MANAGER)
    return frozenset(roles)


def can_rate_log(actor: Member, owner: Member, tree: OrgTree) -> bool:
    """A manager rates the logs of people below them, never their own."""
    return actor.id != owner.id and can_see_member(actor, owner, tree)
