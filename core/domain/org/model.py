"""The organisation: departments as a tree, members and their roles, projects, customers."""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from core.domain.inbox.notifications import QuietHours


class Role(enum.StrEnum):
    REP = "rep"
    MANAGER = "manager"
    FINANCE = "finance"
    ADMIN = "admin"


LANGUAGES = ("en", "zh_Hans")


@dataclass(frozen=True)
class OrgSettings:
    name: str
    timezone: str
    currency: str
    default_language: str


@dataclass(frozen=True)
class Department:
    id: int | None
    key: str
    name: str
    parent_id: int | None = None
    manager_id: int | None = None


@dataclass(frozen=True)
class Member:
    id: int | None
    key: str
    name: str
    department_id: int
    roles: frozenset[Role] = frozenset({Role.REP})
    account_id: int | None = None
    username: str | None = None
    language: str | None = None
    active: bool = True
    joined_at: datetime | None = None
    unreachable_since: datetime | None = None
    reminders_paused: bool = False
    quiet_hours: QuietHours | None = None

    @property
    def reachable(self) -> bool:
        """The messenger accepted the last message to them (or none was refused yet)."""
        return self.unreachable_since is None

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def display_name(self) -> str:
        return self.name


@dataclass(frozen=True)
class Project:
    id: int | None
    key: str
    name: str
    department_id: int
    member_ids: frozenset[int] = frozenset()
    active: bool = True


# A customer's geofence when the org file names none.
DEFAULT_RADIUS_M = 200


@dataclass(frozen=True)
class Customer:
    id: int | None
    key: str
    name: str
    address: str
    lat: float
    lon: float
    radius_m: int = DEFAULT_RADIUS_M


def customers_matching(customers: Iterable[Customer],
                       search: str | None = None) -> list[Customer]:
    """Customers by name; with `search`, those whose name or key contains it in any case
    (none for a blank search)."""
    everyone = sorted(customers, key=lambda c: c.name.casefold())
    if search is None:
        return everyone
    needle = search.strip().casefold()
    return [c for c in everyone
            if needle and (needle in c.name.casefold() or needle in c.key.casefold())]


class CycleError(ValueError):
    """A department is its own ancestor."""


@dataclass
class OrgTree:
    """Departments as a tree: who is under whom, and who manages what."""

    departments: dict[int, Department]
    _children: dict[int | None, list[int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for dept in sorted(self.departments.values(), key=lambda d: d.key):
            self._children.setdefault(dept.parent_id, []).append(dept.id)
        for dept_id in self.departments:
            self.ancestors(dept_id)  # raises on a cycle

    @classmethod
    def of(cls, departments: Iterable[Department]) -> OrgTree:
        return cls({d.id: d for d in departments})

    def roots(self) -> list[Department]:
        return [self.departments[i] for i in self._children.get(None, [])]

    def children(self, dept_id: int) -> list[Department]:
        return [self.departments[i] for i in self._children.get(dept_id, [])]

    def ancestors(self, dept_id: int) -> list[Department]:
        """Parents of the department, nearest first."""
        chain: list[Department] = []
        seen = {dept_id}
        current = self.departments[dept_id].parent_id
        while current is not None:
            if current in seen:
                raise CycleError(self.departments[dept_id].key)
            seen.add(current)
            chain.append(self.departments[current])
            current = self.departments[current].parent_id
        return chain

    def subtree_ids(self, dept_id: int) -> set[int]:
        """The department and every department below it."""
        found: set[int] = set()
        stack = [dept_id]
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack.extend(self._children.get(current, []))
        return found

    def managed_by(self, member: Member) -> set[int]:
        """Departments a member manages, with everything below them."""
        roots = [d.id for d in self.departments.values() if d.manager_id == member.id]
        if not roots and member.has(Role.MANAGER):
            # A manager by role who heads no department acts on their own one.
            roots = [member.department_id]
        managed: set[int] = set()
        for root in roots:
            managed |= self.subtree_ids(root)
        return managed

    def manager_chain(self, dept_id: int, *, retired: Collection[int] = ()) -> list[int]:
        """Manager ids from the department up to the top, without repeats, passing over
        the `retired` ones (inactive members manage nobody)."""
        chain: list[int] = []
        for dept in [self.departments[dept_id], *self.ancestors(dept_id)]:
            if dept.manager_id is not None and dept.manager_id not in chain \
                    and dept.manager_id not in retired:
                chain.append(dept.manager_id)
        return chain
