"""Expense statistics for managers (their subtree) and finance (everyone), and exports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO
from zoneinfo import ZoneInfo

from core.config import ExpensesConfig, PipelineConfig
from core.domain.errors import NotAllowed
from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.stats import (
    NO_VALUE,
    ZERO,
    BudgetLine,
    ClaimScope,
    Dimension,
    GroupSum,
    Line,
    StatusFilter,
    cut,
    opportunity_label,
    period_choices,
    ranked,
    total,
)
from core.domain.org.model import Member, OrgSettings, OrgTree, Role
from core.domain.org.permissions import visible_departments
from core.domain.period import Period
from core.expenses.export import ExportFormat, ExportResult, write_export
from core.org.members import active_member
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class ExpenseStatsView:
    """Everything /stats shows for one period and status filter, summed by the database."""

    period: Period
    status: StatusFilter
    currency: str
    everyone: bool  # the whole organisation (finance, admins), else the actor's subtree
    by_category: list[Line]
    by_unit: list[Line]
    by_member: list[Line]
    by_opportunity: list[Line]  # "customer · title", largest first
    by_stage: list[Line]  # the stage on each claim's date, in the pipeline's order
    budgets: list[BudgetLine]
    # A ranked breakdown cut to its largest lines: the others summed (the label: how many).
    left_out: dict[Dimension, Line] = field(default_factory=dict)
    more_budgets: int = 0  # budgets after those listed, when the list was cut

    @property
    def total(self) -> Line:
        return total(self.by_category)

    @property
    def empty(self) -> bool:
        return not self.by_category


@dataclass(frozen=True)
class _Names:
    """What the labels of a breakdown are made of."""

    categories: dict[str, str]
    departments: dict[int, str]
    projects: dict[int, str]
    members: dict[int, str]

    def unit(self, kind: str | None, unit_id: int | None) -> str:
        names = {UnitKind.DEPARTMENT: self.departments, UnitKind.PROJECT: self.projects,
                 UnitKind.MEMBER: self.members}.get(kind, {})
        return names.get(unit_id, NO_VALUE if unit_id is None else f"#{unit_id}")

    def category(self, key: str | None) -> str:
        return NO_VALUE if key is None else self.categories.get(key, key)


class ExpenseStatsService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 config: ExpensesConfig, pipeline: PipelineConfig | None = None) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self._config = config
        self._stages = (pipeline or PipelineConfig()).stages

    async def periods(self, account_id: int) -> dict[str, Period]:
        """The periods the buttons offer (this month ... this year, on the team's calendar);
        refused to anyone who may not see statistics."""
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            await _scope_of(uow, actor)
            return period_choices(await self._today(uow))

    async def stats(self, account_id: int, period: Period | None = None,
                    status: StatusFilter = StatusFilter.COMMITTED, *,
                    language: str = "en", top: int | None = None,
                    top_budgets: int | None = None) -> ExpenseStatsView:
        """Totals of the claims the person may see: managers their subtree, finance all.
        With `top`, the breakdowns by unit, member and opportunity hold their `top` largest
        lines and sum the others (`left_out`), and with `top_budgets` the first budgets are
        listed and the others counted, so a big organisation costs no more."""
        async with self._uows(read_only=True) as uow:
            actor = await active_member(uow, account_id)
            departments = await _scope_of(uow, actor)
            period = period or period_choices(await self._today(uow))["this_month"]
            return await self._view(uow, ClaimScope(period, status.statuses, departments),
                                    status, language, top, top_budgets)

    async def export(self, account_id: int | None, period: Period, status: StatusFilter,
                     form: ExportFormat, target: BinaryIO, *, language: str = "en",
                     limit: int | None = None,
                     progress: Callable[[int, int], None] | None = None) -> ExportResult:
        """Write the claims the person may see (None: everyone's, for the command line) as
        XLSX (a sheet per breakdown and the raw rows) or CSV (the raw rows) to `target`;
        more than `limit` claims are refused before anything is written."""
        async with self._uows(read_only=True) as uow:
            departments = None
            if account_id is not None:
                departments = await _scope_of(uow, await active_member(uow, account_id))
            scope = ClaimScope(period, status.statuses, departments)
            # The breakdown sheets of an XLSX; a CSV holds the raw rows only.
            view = (await self._view(uow, scope, status, language)
                    if form is ExportFormat.XLSX else None)
            settings = await uow.organization.get() or self._defaults
            return await write_export(uow, scope, status, view, form, target,
                                      ZoneInfo(settings.timezone), self._category_names(language),
                                      limit, progress)

    async def _today(self, uow: UnitOfWork) -> date:
        settings = await uow.organization.get() or self._defaults
        return self._clock.now().astimezone(ZoneInfo(settings.timezone)).date()

    def _category_names(self, language: str) -> dict[str, str]:
        chinese = language.startswith("zh")
        return {c.key: (c.name_zh if chinese and c.name_zh else c.name)
                for c in self._config.categories}

    def _stage_lines(self, sums: list[GroupSum], whole: Line, language: str) -> list[Line]:
        """One line per stage in the pipeline's order (a stage no longer configured after
        them by its key), then "—": the rest of the total, claims without an opportunity
        (or whose opportunity did not exist yet on their date)."""
        chinese = language.startswith("zh")
        order = {s.key: i for i, s in enumerate(self._stages)}
        names = {s.key: (s.name_zh if chinese and s.name_zh else s.name) for s in self._stages}
        staged_sums = [s for s in sums if s.key is not None]
        lines = [Line(names.get(s.key, s.key), s.amount, s.count) for s in sorted(
            staged_sums, key=lambda s: (order.get(s.key, len(order)), s.key))]
        staged = total(lines)
        if staged.count < whole.count:
            lines.append(Line(NO_VALUE, whole.amount - staged.amount,
                              whole.count - staged.count))
        return lines

    async def _view(self, uow: UnitOfWork, scope: ClaimScope, status: StatusFilter,
                    language: str, top: int | None = None,
                    top_budgets: int | None = None) -> ExpenseStatsView:
        settings = await uow.organization.get() or self._defaults
        facts = uow.expense_stats
        found = await facts.breakdowns(scope, top)
        sums = found.groups
        titles = await facts.opportunity_titles(
            {s.key for s in sums[Dimension.OPPORTUNITY] if s.key is not None})
        budgets, all_budgets = await facts.budgets(scope, top_budgets)
        member_ids = {s.key for s in sums[Dimension.MEMBER]} | {
            unit_id for kind, unit_id in (s.key for s in sums[Dimension.UNIT])
            if kind == UnitKind.MEMBER} | {
            b.unit_id for b in budgets if b.unit_kind == UnitKind.MEMBER}
        names = _Names(self._category_names(language),
                       {d.id: d.name for d in await uow.departments.all()},
                       {p.id: p.name for p in await uow.projects.all()},
                       {i: m.name for i, m in (await uow.members.many(member_ids)).items()})
        used = await facts.committed(budgets) if budgets else {}
        budget_lines = [BudgetLine(b, names.unit(b.unit_kind, b.unit_id), used.get(b.id, ZERO),
                                   b.category and names.category(b.category))
                        for b in budgets]
        by_category = _lines(sums[Dimension.CATEGORY], names.category)
        ranked_lines = {
            Dimension.UNIT: ranked([Line(names.unit(*s.key), s.amount, s.count, s.key[0] or "")
                                    for s in sums[Dimension.UNIT]]),
            Dimension.MEMBER: _lines(sums[Dimension.MEMBER],
                                     lambda key: names.members.get(key, f"#{key}")),
            Dimension.OPPORTUNITY: _lines(
                sums[Dimension.OPPORTUNITY],
                lambda key: opportunity_label(key, *titles.get(key, (None, None))))}
        left_out = {}
        for by, lines in ranked_lines.items():
            # The database kept the largest groups and those equal to the last of them,
            # whose names decide the order: the cut is made here.
            others = found.left_out.get(by)
            ranked_lines[by], rest = cut(lines, top, None if others is None else Line(
                str(others.key), others.amount, others.count))
            if rest is not None:
                left_out[by] = rest
        return ExpenseStatsView(
            scope.period, status, settings.currency, scope.department_ids is None,
            by_category, ranked_lines[Dimension.UNIT], ranked_lines[Dimension.MEMBER],
            ranked_lines[Dimension.OPPORTUNITY],
            self._stage_lines(sums[Dimension.STAGE], total(by_category), language),
            budget_lines, left_out, all_budgets - len(budget_lines))


def _lines(sums: list[GroupSum], label: Callable[[object], str]) -> list[Line]:
    return ranked([Line(label(s.key), s.amount, s.count) for s in sums])


async def _scope_of(uow: UnitOfWork, actor: Member) -> frozenset[int] | None:
    """The departments whose claims the actor sees: None for all (finance, admins)."""
    if actor.has(Role.FINANCE) or actor.has(Role.ADMIN):
        return None
    departments = visible_departments(actor, OrgTree.of(await uow.departments.all()))
    if not departments:
        raise NotAllowed("stats_for_managers")
    return frozenset(departments)


