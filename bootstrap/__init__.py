"""The composition root: config and an open database in, core's use cases wired for every
front end (the bot, the finance API, the CLI, the demo) out."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from bootstrap.config import Config
from bootstrap.nightly_backup import NightlyBackup
from core.domain.org.model import OrgSettings
from core.domain.schedule.checkins import CheckInRules
from core.expenses.approvals import ApprovalService
from core.expenses.budgets import BudgetService
from core.expenses.claims import ExpenseService
from core.expenses.finance import FinanceService
from core.expenses.stats import ExpenseStatsService
from core.inbound import InboundService
from core.inbox.notifications import GroupService, InboxService, OutboxService
from core.inbox.reminders import ReminderService, work_calendar
from core.opportunities.goals import GoalService
from core.opportunities.pipeline import OpportunityService
from core.org.membership import OrgService
from core.org.visitors import VisitorCache
from core.ports import Clock
from core.schedule.calendar import CalendarService, TeamService
from core.schedule.checkins import CheckInService
from core.schedule.plans import PlanService, WorkLogService
from core.schedule.sites import CustomerSitesCache
from storage.database import Database
from storage.photos import PhotoStore


@dataclass(frozen=True)
class Services:
    """What front ends may call: core's use cases, wired here."""

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
    finance: FinanceService
    # The backup rule's work, and what its runs left (`crmbot jobs list`).
    backups: NightlyBackup
    clock: Clock


def worker_name() -> str:
    """This process among others sharing the outbox: "host:pid:tag"."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def org_defaults(config: Config) -> OrgSettings:
    org = config.org
    return OrgSettings(org.name, org.timezone, org.currency, org.default_language)


def build_services(config: Config, database: Database, clock: Clock,
                   worker: str | None = None) -> Services:
    defaults = org_defaults(config)
    backups = NightlyBackup(config.database.url, config.storage.photos_dir,
                            config.reminders.backup.folder, config.reminders.backup.keep)
    worker = worker or worker_name()
    org = OrgService(database.uow, clock, defaults, invite_ttl=config.telegram.invite_ttl)
    approvals = ApprovalService(database.uow, clock, defaults, config.expenses,
                                config.reminders.approval_sla,
                                PhotoStore(config.storage.photos_dir))
    goal_service = GoalService(database.uow, clock, defaults, config.pipeline,
                               work_calendar(config.calendar))
    return Services(
        org=org,
        visitors=VisitorCache(org, database.uow, database.changes),
        inbox=InboxService(database.uow, clock),
        outbox=OutboxService(database.uow, clock, defaults, worker=worker,
                             lease=timedelta(seconds=config.outbox.lease_seconds)),
        groups=GroupService(database.uow, clock, defaults),
        reminders=ReminderService(database.uow, clock, defaults, config.reminders,
                                  work_calendar(config.calendar), sla=approvals.run_sla,
                                  follow_up=goal_service.run_daily, backup=backups),
        plans=PlanService(database.uow, clock, defaults, work_calendar(config.calendar)),
        work_logs=WorkLogService(database.uow, clock, defaults, work_calendar(config.calendar)),
        check_ins=CheckInService(
            database.uow, clock, CheckInRules(
                max_age=timedelta(seconds=config.checkin.max_age_seconds),
                max_accuracy_m=config.checkin.max_accuracy_m,
                photo_required=config.checkin.photo_required),
            PhotoStore(config.storage.photos_dir),
            sites=CustomerSitesCache(database.uow, database.changes), timezone=defaults.timezone,
            photo_window=timedelta(seconds=config.checkin.photo_window_seconds)),
        calendar=CalendarService(database.uow, clock, defaults,
                                 PhotoStore(config.storage.photos_dir)),
        team=TeamService(database.uow, clock, defaults),
        expenses=ExpenseService(database.uow, clock, defaults, config.expenses,
                                PhotoStore(config.storage.photos_dir)),
        approvals=approvals,
        budgets=BudgetService(database.uow, clock, defaults, config.expenses),
        expense_stats=ExpenseStatsService(database.uow, clock, defaults, config.expenses,
                                          config.pipeline),
        opportunities=OpportunityService(database.uow, clock, defaults, config.pipeline,
                                         PhotoStore(config.storage.photos_dir)),
        goals=goal_service,
        inbound=InboundService(database.uow, clock),
        finance=FinanceService(database.uow, clock, PhotoStore(config.storage.photos_dir)),
        backups=backups,
        clock=clock,
    )
