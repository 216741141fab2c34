"""What the bot tells an operator about each update it has handled."""

from __future__ import annotations

import logging

from bootstrap import metrics

log = logging.getLogger("crmbot.updates")


def finished(kind: str, seconds: float, outcome: str) -> None:
    """The closing line of an update: its kind (message, callback_query, ...), how long its
    handlers took and what its units of work came to (committed, rolled_back or none)."""
    log.info("update handled",
             extra={"kind": kind, "ms": round(seconds * 1000, 1), "outcome": outcome})
    metrics.handled(kind, seconds)
