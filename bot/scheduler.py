"""The rules on PTB's JobQueue: one daily job per enabled rule, named after the rule (the
approval SLA every few minutes)."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from telegram.ext import Application, JobQueue

from bot.context import CrmContext, Services
from core.domain.reminders import ReminderRule
from core.reminders import APPROVAL_SLA, IMPLEMENTED, SLA_INTERVAL

log = logging.getLogger("crmbot.scheduler")


def wake_dispatcher(application: Application) -> None:
    """New notifications are waiting: let the outbox dispatcher look now, not at its next tick."""
    dispatcher = application.bot_data.get("dispatcher")
    if dispatcher is not None:
        dispatcher.wake()


async def run_rule(context: CrmContext) -> None:
    """A rule's daily job: one run (one unit of work), then wake the dispatcher."""
    name = context.job.name
    try:
        created = await context.services.reminders.run(name)
    except Exception:
        # Tomorrow's run, or a restart's catch-up, tries again; nothing was half-written.
        log.exception("rule %s failed", name)
        return
    log.info("rule %s ran: %d new notifications", name, created)
    if created:
        wake_dispatcher(context.application)


def schedule_rules(job_queue: JobQueue, rules: list[ReminderRule], zone: ZoneInfo) -> list[str]:
    """(Re-)register each enabled rule at its local time; returns the names now scheduled."""
    scheduled = []
    for rule in rules:
        for job in job_queue.get_jobs_by_name(rule.name):
            job.schedule_removal()
        if rule.name == APPROVAL_SLA and rule.enabled:
            job_queue.run_repeating(run_rule, interval=SLA_INTERVAL, first=60, name=rule.name,
                                    job_kwargs={"coalesce": True})
            scheduled.append(rule.name)
            continue
        if rule.name not in IMPLEMENTED or not rule.enabled:
            continue
        job_queue.run_daily(run_rule, time=rule.clock.replace(tzinfo=zone), name=rule.name,
                            job_kwargs={"misfire_grace_time": 15 * 60, "coalesce": True})
        scheduled.append(rule.name)
    return scheduled


async def start_scheduler(application: Application) -> None:
    """At start: rules from config to the database, jobs from the database, then catch up."""
    services: Services = application.bot_data["services"]
    rules = await services.reminders.sync_rules()
    zone = ZoneInfo((await services.org.settings()).timezone)
    if application.job_queue is None:
        log.warning("no job queue (install python-telegram-bot[job-queue]): rules will not run")
    else:
        names = schedule_rules(application.job_queue, rules, zone)
        log.info("scheduled %s in %s", ", ".join(names) or "no rules", zone.key)
    caught_up = await services.reminders.catch_up()
    if caught_up:
        log.info("caught up on %s", ", ".join(f"{n} ({c} new)" for n, c in caught_up.items()))
        wake_dispatcher(application)
