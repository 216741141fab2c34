"""The scheduled rules on PTB's JobQueue: one repeating job asks the core which rules are due.

What is due is decided by the bot's clock (the injected one in tests and the demo), never by
the JobQueue's own wall clock: the job only says "look again now".
"""

from __future__ import annotations

import logging

from telegram.ext import Application

from bootstrap import Services, metrics
from bot.context import CrmContext
from core.inbox.reminders import RULE_NAMES

log = logging.getLogger("crmbot.scheduler")

RULES_JOB = "rules"


def wake_dispatcher(application: Application) -> None:
    """New notifications are waiting: let the outbox dispatcher look now, not at its next tick."""
    dispatcher = application.bot_data.get("dispatcher")
    if dispatcher is not None:
        dispatcher.wake()


async def _look(services: Services) -> dict[str, int]:
    """Run what is due; move on claims waiting on someone the org file has since retired."""
    ran = await services.reminders.run_due()
    if handed_over := await services.approvals.pass_over_retired():
        ran["claims of people who left"] = handed_over
    return ran


def _report(application: Application, ran: dict[str, int]) -> None:
    for name, created in ran.items():
        log.info("%s ran: %d new notifications", name, created)
        if name in RULE_NAMES:  # not the claims handed over from people who left
            metrics.job_ran(name)
    if any(ran.values()):
        wake_dispatcher(application)


async def run_due_rules(context: CrmContext) -> None:
    """The repeating job: run what is due (each rule in its own unit of work)."""
    try:
        ran = await _look(context.services)
    except Exception:
        # The next look tries again; nothing was half-written.
        log.exception("scheduled rules failed")
        return
    _report(context.application, ran)


async def run_rule_now(application: Application, name: str) -> int:
    """Run one rule now, as when its time comes (the demo's evening, tests)."""
    created = await application.bot_data["services"].reminders.run(name)
    _report(application, {name: created})
    return created


async def start_scheduler(application: Application) -> None:
    """At start: rules from config to the database, catch up what is due, then keep looking."""
    services: Services = application.bot_data["services"]
    await services.reminders.sync_rules()
    _report(application, await _look(services))
    if application.job_queue is None:
        log.warning("no job queue (install python-telegram-bot[job-queue]): rules will not run")
        return
    interval = services.reminders.check_interval.total_seconds()
    application.job_queue.run_repeating(
        run_due_rules, interval=interval, first=interval, name=RULES_JOB,
        job_kwargs={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
