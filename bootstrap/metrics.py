"""The process's metrics for Prometheus, all named crmbot_*: what the front ends count as it
happens, and the outbox read from the database when scraped.

Counters live for the process, in one registry; each front end serves them at /metrics with
`MetricsPage`, which adds the outbox's gauges for its database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from core.domain.expenses.claims import ClaimAction
from core.expenses.approvals import Decision
from core.ports import Clock
from storage.database import Database
from storage.health import PROBE_TIMEOUT_S, OutboxBacklog, outbox_backlog

log = logging.getLogger("crmbot.metrics")

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Several scrapers (or a scraper and a person) within this many seconds share one query.
OUTBOX_CACHE_S = 10.0

REGISTRY = CollectorRegistry()

UPDATES = Counter("crmbot_updates_handled", "Updates the bot handled, by kind", ["kind"],
                  registry=REGISTRY)
HANDLER_SECONDS = Histogram("crmbot_handler_seconds", "Time spent handling an update, by kind",
                            ["kind"], registry=REGISTRY)
TOO_MANY_REQUESTS = Counter(
    "crmbot_too_many_requests", "429 answers from Telegram, by sender: the outbox's "
    "notifications or the replies to people", ["sender"], registry=REGISTRY)
CHECK_INS = Counter("crmbot_check_ins", "Check-ins recorded, by whether a trust flag was raised "
                    "(stale, forwarded, low accuracy, outside the geofence...)", ["flagged"],
                    registry=REGISTRY)
CLAIMS_SUBMITTED = Counter("crmbot_claims_submitted", "Expense claims submitted for approval",
                           registry=REGISTRY)
CLAIMS_DECIDED = Counter("crmbot_claims_decided", "Expense claims approved (by the last "
                         "approver) or rejected", ["decision"], registry=REGISTRY)
JOB_RUNS = Counter("crmbot_job_runs", "Runs of the scheduled rules, by rule", ["rule"],
                   registry=REGISTRY)
ACTIVE = Gauge("crmbot_active", "1 while this process is the active one, else 0",
               registry=REGISTRY)

# Shown from the first scrape, before anything happened.
for _sender in ("outbox", "reply"):
    TOO_MANY_REQUESTS.labels(sender=_sender)
for _flagged in ("yes", "no"):
    CHECK_INS.labels(flagged=_flagged)
for _decision in ("approved", "rejected"):
    CLAIMS_DECIDED.labels(decision=_decision)


def handled(kind: str, seconds: float) -> None:
    """An update of `kind` was handled in `seconds`."""
    UPDATES.labels(kind=kind).inc()
    HANDLER_SECONDS.labels(kind=kind).observe(seconds)


def too_many_requests(sender: str) -> None:
    """Telegram answered 429 to the "outbox" or to a "reply"."""
    TOO_MANY_REQUESTS.labels(sender=sender).inc()


def checked_in(flagged: bool) -> None:
    CHECK_INS.labels(flagged="yes" if flagged else "no").inc()


def claim_submitted() -> None:
    CLAIMS_SUBMITTED.inc()


def claim_decided(decision: Decision) -> None:
    """An approver decided: counted when that rejects the claim or approves it in full."""
    if decision.action is ClaimAction.REJECTED:
        CLAIMS_DECIDED.labels(decision="rejected").inc()
    elif decision.next_step is None:
        CLAIMS_DECIDED.labels(decision="approved").inc()


def job_ran(rule: str) -> None:
    JOB_RUNS.labels(rule=rule).inc()


def set_active(active: bool) -> None:
    """Whether this process is the active one (the run loop says so as its role changes)."""
    ACTIVE.set(1 if active else 0)


class OutboxGauges(Collector):
    """crmbot_notifications{state} and crmbot_outbox_lag_seconds, from one grouped query.

    Prometheus collects synchronously, so the page awaits `refresh()` first; a reading is
    reused for OUTBOX_CACHE_S. While the database does not answer both are left out rather
    than shown stale.
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self._lock = asyncio.Lock()
        self._read_at: float | None = None
        self._reading: tuple[OutboxBacklog, float] | None = None

    async def refresh(self) -> None:
        async with self._lock:
            if self._read_at is not None and time.monotonic() - self._read_at < OUTBOX_CACHE_S:
                return
            now = self.clock.now()
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    backlog = await outbox_backlog(self.database, now)
            except Exception as error:
                log.warning("metrics: cannot read the outbox (%s)", type(error).__name__)
                self._reading, self._read_at = None, None
                return
            self._reading = backlog, backlog.lag_seconds(now)
            self._read_at = time.monotonic()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self._reading is None:
            return
        backlog, lag = self._reading
        states = GaugeMetricFamily("crmbot_notifications", "Notifications not delivered, by "
                                   "state: pending, failed or skipped", labels=["state"])
        for state, count in sorted(backlog.by_state.items()):
            states.add_metric([state], count)
        yield states
        yield GaugeMetricFamily(
            "crmbot_outbox_lag_seconds",
            "How long the oldest due notification not yet delivered has waited", value=lag)


class MetricsPage:
    """The text a scrape of /metrics gets: the process's metrics and the outbox's gauges."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.outbox = OutboxGauges(database, clock)

    def collect(self) -> Iterator:
        yield from REGISTRY.collect()
        yield from self.outbox.collect()

    async def render(self) -> bytes:
        await self.outbox.refresh()
        return generate_latest(self)
