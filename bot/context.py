"""The per-update context: who is speaking, in which language, and the services."""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import Application, CallbackContext, ExtBot

from bot.i18n import Translator
from core.approvals import ApprovalService
from core.budgets import BudgetService
from core.calendar import CalendarService, TeamService
from core.checkins import CheckInService
from core.domain.language import pick_language
from core.domain.org import Member
from core.expense_stats import ExpenseStatsService
from core.expenses import ExpenseService
from core.goals import GoalService
from core.inbound import InboundService
from core.notifications import GroupService, InboxService, OutboxService
from core.opportunities import OpportunityService
from core.org import OrgService, Visitor
from core.plans import PlanService, WorkLogService
from core.ports import Clock
from core.reminders import ReminderService
from core.visitors import VisitorCache


@dataclass(frozen=True)
class Services:
    """What handlers may call: core's use cases, wired in the composition root."""

    org: OrgService
    visitors: VisitorCache
    inbox: InboxService
    outbox: OutboxService
    groups: GroupService
    reminders: ReminderService
    plans: PlanService
    work_logs: WorkLogService
    check_ins: CheckInService
    calendar: CalendarService
    team: TeamService
    expenses: ExpenseService
    approvals: ApprovalService
    budgets: BudgetService
    expense_stats: ExpenseStatsService
    opportunities: OpportunityService
    goals: GoalService
    inbound: InboundService
    clock: Clock


class CrmContext(CallbackContext[ExtBot, dict, dict, dict]):
    """PTB builds one per update; the gate fills in the visitor before any handler runs."""

    def __init__(self, application: Application, chat_id: int | None = None,
                 user_id: int | None = None) -> None:
        super().__init__(application, chat_id, user_id)
        self.visitor: Visitor | None = None
        self._translator: Translator | None = None

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    @property
    def member(self) -> Member:
        """The registered, active member speaking (the gate let only them through)."""
        assert self.visitor is not None and self.visitor.member is not None
        return self.visitor.member

    def speak(self, language: str) -> None:
        self._translator = Translator(language)

    def choose_language(self, visitor: Visitor, telegram_code: str | None) -> None:
        member_language = visitor.member.language if visitor.member else None
        self.speak(pick_language(member_language, telegram_code,
                                 visitor.settings.default_language))

    @property
    def t(self) -> Translator:
        if self._translator is None:
            self._translator = Translator("en")
        return self._translator
