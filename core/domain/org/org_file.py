"""The org file (`crmbot org import FILE.toml`): parsed and checked without touching storage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.domain.errors import DomainError
from core.domain.expenses.budgets import OverrunPolicy, UnitKind
from core.domain.geo import CoordinateError, check_point
from core.domain.money import AmountError, to_amount
from core.domain.opportunities.goals import Metric, check_target, parse_metric, parse_unit
from core.domain.org.language import from_app_language
from core.domain.org.model import DEFAULT_RADIUS_M, Role
from core.domain.period import Period, PeriodError
from core.domain.text import is_clean

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SECTIONS = ("org", "departments", "members", "projects", "customers", "budgets", "goals")


@dataclass(frozen=True)
class AccountFormat:
    """How the messenger's accounts are written in a member's entry: the id's field and its
    largest value, and what a username looks like. The front end for a messenger gives it."""

    messenger: str
    id_field: str
    max_id: int
    username: re.Pattern[str]
    username_rule: str


class OrgFileError(ValueError):
    """One bad value, named by its entry and field, e.g. members[carol].department."""

    def __init__(self, where: str, problem: str) -> None:
        self.where, self.problem = where, problem
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class OrgHeader:
    name: str | None = None
    timezone: str | None = None
    currency: str | None = None
    default_language: str | None = None


@dataclass(frozen=True)
class DepartmentEntry:
    key: str
    name: str
    parent: str | None
    manager: str | None


@dataclass(frozen=True)
class MemberEntry:
    key: str
    name: str
    department: str
    roles: frozenset[Role]
    account_id: int | None
    username: str | None
    language: str | None
    active: bool


@dataclass(frozen=True)
class ProjectEntry:
    key: str
    name: str
    department: str
    members: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class CustomerEntry:
    key: str
    name: str
    address: str
    lat: float
    lon: float
    radius_m: int


@dataclass(frozen=True)
class BudgetEntry:
    where: str
    unit_kind: UnitKind
    unit_key: str
    category: str | None
    period: Period
    amount: Decimal
    policy: OverrunPolicy


@dataclass(frozen=True)
class GoalEntry:
    where: str
    unit_kind: UnitKind
    unit_key: str
    metric: Metric
    period: Period
    target: Decimal


@dataclass(frozen=True)
class OrgDocument:
    org: OrgHeader
    accounts: AccountFormat
    departments: tuple[DepartmentEntry, ...] = ()
    members: tuple[MemberEntry, ...] = ()
    projects: tuple[ProjectEntry, ...] = ()
    customers: tuple[CustomerEntry, ...] = ()
    budgets: tuple[BudgetEntry, ...] = ()
    goals: tuple[GoalEntry, ...] = ()


class _Entry:
    """Reads one table of the file, naming it in every complaint."""

    def __init__(self, section: str, index: int | None, data: object, fields: set[str]) -> None:
        # index None: the section is a single table ([org]), named by the section alone.
        if not isinstance(data, dict):
            raise OrgFileError(section if index is None else f"{section}[{index + 1}]",
                               "must be a table")
        self.data = data
        key = data.get("key")
        if index is None:
            self.where = section
        else:
            self.where = f"{section}[{key if isinstance(key, str) and key else index + 1}]"
        for name in data:
            if name not in fields:
                raise OrgFileError(f"{self.where}.{name}", "unknown field")

    def fail(self, field: str, problem: str) -> OrgFileError:
        return OrgFileError(f"{self.where}.{field}", problem)

    def text(self, field: str, *, required: bool = True, limit: int = 200) -> str | None:
        value = self.data.get(field)
        if value is None:
            if required:
                raise self.fail(field, "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be non-empty text")
        if len(value) > limit:
            raise self.fail(field, f"longer than {limit} characters")
        if not is_clean(value):
            raise self.fail(field, "contains control characters (such as NUL)")
        return value.strip()

    def key(self, field: str = "key", *, required: bool = True) -> str | None:
        value = self.text(field, required=required, limit=64)
        if value is not None and not _KEY.match(value):
            raise self.fail(field, "use letters, digits, '.', '_' or '-' (at most 64)")
        return value

    def number(self, field: str, *, required: bool = True) -> float | None:
        value = self.data.get(field)
        if value is None:
            if required:
                raise self.fail(field, "missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, "must be a number")
        try:
            return float(value)
        except OverflowError:  # a TOML integer too large for a float
            raise self.fail(field, "out of range") from None

    def integer(self, field: str, *, required: bool = True) -> int | None:
        value = self.data.get(field)
        if value is None:
            if required:
                raise self.fail(field, "missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, "must be a whole number")
        return value

    def flag(self, field: str, default: bool) -> bool:
        value = self.data.get(field, default)
        if not isinstance(value, bool):
            raise self.fail(field, "must be true or false")
        return value

    def keys(self, field: str) -> tuple[str, ...]:
        value = self.data.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(field, "must be a list of keys")
        return tuple(value)


def _language(entry: _Entry, field: str) -> str | None:
    value = entry.text(field, required=False, limit=16)
    if value is None:
        return None
    language = from_app_language(value)
    if language is None:
        raise entry.fail(field, 'must be "en" or "zh_Hans"')
    return language


def _header(data: object) -> OrgHeader:
    entry = _Entry("org", None, data or {}, {"name", "timezone", "currency", "default_language"})
    timezone = entry.text("timezone", required=False, limit=64)
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise entry.fail("timezone", f"unknown time zone {timezone!r}") from None
    currency = entry.text("currency", required=False, limit=3)
    if currency is not None and not (len(currency) == 3 and currency.isalpha()):
        raise entry.fail("currency", "must be a three-letter code like CNY")
    return OrgHeader(entry.text("name", required=False), timezone,
                     currency.upper() if currency else None, _language(entry, "default_language"))


def _department(entry: _Entry) -> DepartmentEntry:
    return DepartmentEntry(entry.key(), entry.text("name"), entry.key("parent", required=False),
                           entry.key("manager", required=False))


def _member(entry: _Entry, accounts: AccountFormat) -> MemberEntry:
    id_field = accounts.id_field
    account_id = entry.integer(id_field, required=False)
    if account_id is not None and account_id <= 0:
        raise entry.fail(id_field, "must be a positive number (a user, not a group)")
    if account_id is not None and account_id > accounts.max_id:
        raise entry.fail(id_field, f"too large for a {accounts.messenger} user id")
    username = entry.text("username", required=False, limit=33)
    if username is not None and not accounts.username.match(username):
        raise entry.fail("username",
                         f"not a {accounts.messenger} username ({accounts.username_rule})")
    if account_id is None and username is None:
        raise entry.fail(id_field, f"missing (give {id_field} or username)")
    raw_roles = entry.data.get("roles", ["rep"])
    if not isinstance(raw_roles, list) or not raw_roles:
        raise entry.fail("roles", "must be a non-empty list")
    try:
        roles = frozenset(Role(r) for r in raw_roles)
    except ValueError:
        raise entry.fail("roles", "use rep, manager, finance or admin") from None
    return MemberEntry(entry.key(), entry.text("name"), entry.key("department"), roles,
                       account_id, username.lstrip("@") if username else None,
                       _language(entry, "language"), entry.flag("active", True))


def _project(entry: _Entry) -> ProjectEntry:
    return ProjectEntry(entry.key(), entry.text("name"), entry.key("department"),
                        entry.keys("members"), entry.flag("active", True))


def _customer(entry: _Entry) -> CustomerEntry:
    lat, lon = entry.number("lat"), entry.number("lon")
    try:
        check_point(lat, lon)
    except CoordinateError as error:
        raise entry.fail("lat" if "latitude" in str(error) else "lon", str(error)) from None
    radius = entry.integer("radius_m", required=False)
    radius = DEFAULT_RADIUS_M if radius is None else radius
    if not 10 <= radius <= 50_000:
        raise entry.fail("radius_m", "must be between 10 and 50000 metres")
    return CustomerEntry(entry.key(), entry.text("name"),
                         entry.text("address", required=False, limit=500) or "", lat, lon, radius)


def _budget(entry: _Entry) -> BudgetEntry:
    unit = entry.text("unit", limit=80)
    kind, _, unit_key = unit.partition(":")
    if kind not in {k.value for k in UnitKind} or not _KEY.match(unit_key):
        raise entry.fail("unit", "use department:KEY, project:KEY or member:KEY")
    try:
        period = Period.parse(entry.text("period", limit=10))
    except PeriodError as error:
        raise entry.fail("period", str(error)) from None
    raw_amount = entry.data.get("amount")
    try:
        amount = to_amount(raw_amount)
    except AmountError as error:
        raise entry.fail("amount", "missing" if raw_amount is None else str(error)) from None
    if amount == 0:
        raise entry.fail("amount", "must be more than zero")
    policy = entry.text("policy", required=False, limit=16) or "warn"
    if policy not in {p.value for p in OverrunPolicy}:
        raise entry.fail("policy", "use warn, block or escalate")
    category = entry.text("category", required=False, limit=64)
    where = f"budgets[{unit} {category or '*'} {period.label}]"
    return BudgetEntry(where, UnitKind(kind), unit_key, category, period, amount,
                       OverrunPolicy(policy))


def _goal(entry: _Entry) -> GoalEntry:
    unit = entry.text("unit", limit=80)
    try:
        kind, unit_key = parse_unit(unit)
    except DomainError:
        raise entry.fail("unit", "use member:KEY or department:KEY") from None
    try:
        metric = parse_metric(entry.text("metric", limit=16))
    except DomainError:
        raise entry.fail("metric", "use visits, new, won or ratio") from None
    try:
        period = Period.parse(entry.text("period", limit=10))
    except PeriodError as error:
        raise entry.fail("period", str(error)) from None
    raw_target = entry.data.get("target")
    try:
        target = check_target(metric, to_amount(raw_target))
    except AmountError as error:
        raise entry.fail("target", "missing" if raw_target is None else str(error)) from None
    except DomainError:
        raise entry.fail("target", "visits and new: a whole number above zero; won: an "
                                   "amount above zero; ratio: a percentage above 0, at most "
                                   "100") from None
    return GoalEntry(f"goals[{unit} {metric} {period.label}]", kind, unit_key, metric, period,
                     target)


_READERS = {
    "departments": ({"key", "name", "parent", "manager"}, _department),
    "members": ({"key", "name", "username", "department", "roles", "language", "active"},
                _member),
    "projects": ({"key", "name", "department", "members", "active"}, _project),
    "customers": ({"key", "name", "address", "lat", "lon", "radius_m"}, _customer),
    "budgets": ({"unit", "category", "period", "amount", "policy"}, _budget),
    "goals": ({"unit", "metric", "period", "target"}, _goal),
}


def parse_org_file(data: dict, accounts: AccountFormat) -> OrgDocument:
    """Check every entry of a parsed TOML org file; the first problem raises OrgFileError."""
    for section in data:
        if section not in SECTIONS:
            raise OrgFileError(section, f"unknown section (known: {', '.join(SECTIONS)})")
    parsed: dict[str, tuple] = {}
    for section, (fields, read) in _READERS.items():
        raw = data.get(section, [])
        if not isinstance(raw, list):
            raise OrgFileError(section, f"write it as [[{section}]] tables")
        if section == "members":
            fields, read = fields | {accounts.id_field}, partial(_member, accounts=accounts)
        entries = tuple(read(_Entry(section, i, item, fields)) for i, item in enumerate(raw))
        _no_repeats(section, entries)
        parsed[section] = entries
    _no_repeated_accounts(parsed["members"], accounts)
    return OrgDocument(org=_header(data.get("org")), accounts=accounts, **parsed)


def _no_repeats(section: str, entries: tuple) -> None:
    seen: set[str] = set()
    for entry in entries:
        keyless = isinstance(entry, BudgetEntry | GoalEntry)
        identity = entry.where if keyless else entry.key
        if identity in seen:
            where = identity if keyless else f"{section}[{identity}]"
            raise OrgFileError(where, "appears twice in the file")
        seen.add(identity)


def _no_repeated_accounts(members: tuple[MemberEntry, ...], accounts: AccountFormat) -> None:
    """One messenger account, by id or by username, belongs to one active entry (a retired
    entry may still name the account it hands over)."""
    owners: dict[tuple[str, object], str] = {}
    for member in members:
        if not member.active:
            continue
        for field, account in ((accounts.id_field, member.account_id),
                               ("username", member.username and member.username.casefold())):
            if account is None:
                continue
            if (field, account) in owners:
                raise OrgFileError(f"members[{member.key}].{field}",
                                   f"same as members[{owners[field, account]}]")
            owners[field, account] = member.key
