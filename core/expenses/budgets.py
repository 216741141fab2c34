"""Budgets: what each unit may spend per period, how much of it is used, who may set it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.config import ExpensesConfig
from core.domain.audit import BUDGET, RecordChange, changes_between
from core.domain.errors import DomainError, NotAllowed
from core.domain.expenses.budgets import Budget, BudgetImpact, OverrunPolicy, UnitKind
from core.domain.expenses.claims import parse_amount
from core.domain.money import CENT, MAX_AMOUNT
from core.domain.org.model import Member, OrgSettings, Role
from core.domain.paging import Pages
from core.domain.period import Period, PeriodError
from core.expenses.approvals import OrgView, category_names, load_org, refresh_budget_alerts
from core.org.members import active_member
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory

ALL_CATEGORIES = ("all", "*", "-")
LAST_CHANGES = 5  # under /budget: who changed the budgets shown lately
PAGE = 20  # budgets a page of /budget: finance sees every unit's, hundreds of them
UNIT_EXAMPLE = "department:east"


@dataclass(frozen=True)
class BudgetLine:
    """One budget with what is committed against it (approved + pending)."""

    budget: Budget
    unit: str
    category_name: str  # "" for all categories
    category_name_zh: str
    used: Decimal

    @property
    def usage(self) -> BudgetImpact:
        return BudgetImpact(self.budget, self.used, Decimal(0))

    @property
    def percent(self) -> int:
        return self.usage.percent

    @property
    def over(self) -> Decimal:
        return self.usage.over


@dataclass(frozen=True)
class BudgetChange:
    """A change of one of the budgets shown, with the names to show it by."""

    change: RecordChange
    line: BudgetLine
    by: str


@dataclass(frozen=True)
class BudgetOverview:
    lines: list[BudgetLine]  # a page of them
    currency: str
    day: date  # the budgets shown are those running on this day (or in the asked period)
    period: Period | None  # the period asked for, if any
    pages: Pages
    changes: list[BudgetChange] = field(default_factory=list)  # newest first, of all pages


def visible_units(org: OrgView, actor: Member) -> set[tuple[UnitKind, int]] | None:
    """The units whose budgets the actor sees: None means all of them (finance)."""
    if actor.has(Role.FINANCE) or actor.has(Role.ADMIN):
        return None
    departments = org.tree.managed_by(actor) | {actor.department_id}
    managed = org.tree.managed_by(actor)
    units = {(UnitKind.DEPARTMENT, d) for d in departments}
    units |= {(UnitKind.PROJECT, p.id) for p in org.projects.values()
              if actor.id in p.member_ids or p.department_id in managed}
    units |= {(UnitKind.MEMBER, m.id) for m in org.members.values()
              if m.id == actor.id or m.department_id in managed}
    return units


def may_set_budget(org: OrgView, actor: Member, kind: UnitKind, unit_id: int) -> bool:
    """Finance sets any budget; a manager those of units in the departments they lead."""
    if not actor.active:
        return False
    if actor.has(Role.FINANCE):
        return True
    department = org.unit_department(kind, unit_id)
    return department is not None and department in org.tree.managed_by(actor)


async def _line(uow: UnitOfWork, org: OrgView, config: ExpensesConfig,
                budget: Budget) -> BudgetLine:
    used = await uow.approvals.usage(budget.unit_kind, budget.unit_id, budget.category,
                                     budget.period.start, budget.period.end)
    name, name_zh = category_names(config, budget.category) if budget.category else ("", "")
    return BudgetLine(budget, org.unit_name(budget.unit_kind, budget.unit_id), name, name_zh,
                      used)


def _audited(budget: Budget | None) -> dict[str, str | None]:
    """The fields of a budget its audit trail follows, as text (none before it existed)."""
    if budget is None:
        return {}
    return {"amount": str(budget.amount.quantize(CENT)), "policy": str(budget.policy)}


def parse_period(text: str) -> Period:
    try:
        return Period.parse(text)
    except PeriodError:
        raise DomainError("budget_period_format") from None


class BudgetService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 config: ExpensesConfig) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self._config = config

    async def overview(self, account_id: int, period: str | None = None,
                       page: int = 0) -> BudgetOverview:
        """A page of the budgets of my units running now (or in `period`), with their usage,
        departments first, then by unit, category and start; the last changes of any of
        them on the first page."""
        asked = parse_period(period) if period else None
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            settings = await uow.organization.get() or self._defaults
            today = self._clock.now().astimezone(ZoneInfo(settings.timezone)).date()
            org = await load_org(uow)
            units = visible_units(org, actor)
            running = [budget for budget in await uow.budgets.all()
                       if (units is None or (budget.unit_kind, budget.unit_id) in units)
                       and (budget.period.start < asked.end and asked.start < budget.period.end
                            if asked else budget.period.contains(today))]

            def order(budget: Budget) -> tuple:
                category = (category_names(self._config, budget.category)[0]
                            if budget.category else "")
                return (budget.unit_kind != UnitKind.DEPARTMENT,
                        org.unit_name(budget.unit_kind, budget.unit_id), category,
                        budget.period.start, budget.id)

            running.sort(key=order)
            pages = Pages.of(len(running), PAGE, page)
            # Usage is a query a budget: read only for the page shown (and the changed ones).
            lines = [await _line(uow, org, self._config, b) for b in pages.cut(running)]
            changes = []
            if pages.first:
                shown = {budget.id: budget for budget in running}
                on_page = {line.budget.id: line for line in lines}
                for change in await uow.record_changes.of(BUDGET, shown, LAST_CHANGES):
                    line = on_page.get(change.subject_id) or await _line(
                        uow, org, self._config, shown[change.subject_id])
                    changes.append(BudgetChange(change, line, org.name(change.changed_by)))
            return BudgetOverview(lines, settings.currency, today, asked, pages, changes)

    async def set(self, account_id: int, unit: str, category: str | None, period: str,
                  amount: str, policy: str | None = None) -> BudgetLine:
        """Create or change a budget of a unit ("department:east", "project:harbor-rollout",
        "member:carol") for a category (None/"all": every category) and period."""
        async with self._uows() as uow:
            actor = await active_member(uow, account_id)
            settings = await uow.organization.get() or self._defaults
            org = await load_org(uow)
            kind, unit_id = await self._unit(uow, unit)
            key = self._category(category)
            budget_period = parse_period(period)
            limit = parse_amount(amount, settings.currency, MAX_AMOUNT)
            try:
                overrun = OverrunPolicy((policy or "warn").strip().lower())
            except ValueError:
                raise DomainError("budget_policy_unknown", policy=policy) from None
            if not may_set_budget(org, actor, kind, unit_id):
                raise NotAllowed("budget_not_allowed")
            existing = await uow.budgets.find(kind, unit_id, key, budget_period.label)
            if existing is None:
                budget = await uow.budgets.add(
                    Budget(None, kind, unit_id, key, budget_period, limit, overrun))
            else:
                budget = Budget(existing.id, kind, unit_id, key, budget_period, limit, overrun)
                await uow.budgets.update(budget)
            await uow.record_changes.add(changes_between(
                BUDGET, budget.id, _audited(existing), _audited(budget), by=actor.id,
                at=self._clock.now()))
            await refresh_budget_alerts(uow, org, self._config, [budget], now=self._clock.now(),
                                        settings=settings)
            line = await _line(uow, org, self._config, budget)
            await uow.commit()
            return line

    async def _unit(self, uow: UnitOfWork, text: str) -> tuple[UnitKind, int]:
        kind_text, _, key = (text or "").strip().partition(":")
        try:
            kind = UnitKind(kind_text.strip().lower())
        except ValueError:
            raise DomainError("budget_unit_format", example=UNIT_EXAMPLE) from None
        repository = {UnitKind.DEPARTMENT: uow.departments, UnitKind.PROJECT: uow.projects,
                      UnitKind.MEMBER: uow.members}[kind]
        found = await repository.by_key(key.strip()) if key.strip() else None
        if found is None:
            raise DomainError("budget_unit_unknown", unit=text.strip())
        return kind, found.id

    def _category(self, text: str | None) -> str | None:
        if text is None or text.strip().lower() in ALL_CATEGORIES:
            return None
        key = text.strip().lower()
        if key not in {c.key for c in self._config.categories}:
            raise DomainError("budget_category_unknown", category=text.strip(),
                              known=", ".join(c.key for c in self._config.categories))
        return key
