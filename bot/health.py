"""The bot process's health endpoints on [health] listen and port, for its whole life,
whether it is the active process or a standby.

GET /healthz: 200 while the event loop runs. GET /readyz: 200 when the database answers and
its schema is current, else 503 naming what failed; the body says the process's role.
GET /metrics: Prometheus' text format (bootstrap/metrics.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from aiohttp import web

from bootstrap.config import HealthConfig
from bootstrap.metrics import CONTENT_TYPE, MetricsPage
from core.config import ConfigError
from core.ports import Clock, SystemClock
from storage.database import Database
from storage.health import readiness

_DATABASE = web.AppKey("database", Database)
_ROLE = web.AppKey("role", Callable[[], str])
_METRICS = web.AppKey("metrics", MetricsPage)


class HealthServer:
    """The running listener; with port 0 there is none and stop() does nothing."""

    def __init__(self, runner: web.AppRunner | None = None) -> None:
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def _alive(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _ready(request: web.Request) -> web.Response:
    found = await readiness(request.app[_DATABASE])
    return web.json_response(found.report(request.app[_ROLE]()),
                             status=200 if found.ready else 503)


async def _metrics(request: web.Request) -> web.Response:
    page = await request.app[_METRICS].render()
    return web.Response(body=page, headers={"Content-Type": CONTENT_TYPE})


def health_app(database: Database, role: Callable[[], str], clock: Clock) -> web.Application:
    app = web.Application()
    app[_DATABASE], app[_ROLE], app[_METRICS] = database, role, MetricsPage(database, clock)
    app.router.add_get("/healthz", _alive)
    app.router.add_get("/readyz", _ready)
    app.router.add_get("/metrics", _metrics)
    return app


async def start_health(config: HealthConfig, database: Database, role: Callable[[], str], *,
                       clock: Clock | None = None) -> HealthServer:
    """Listen on [health] listen and port until stop(); `role()` says "active", "standby"
    or "starting"."""
    if config.port == 0:
        return HealthServer()
    # No access log: a scraper every few seconds would drown the bot's own lines.
    runner = web.AppRunner(health_app(database, role, clock or SystemClock()), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.listen, config.port).start()
    except OSError as error:
        await runner.cleanup()
        raise ConfigError(f"health.port: cannot listen on {config.listen}:{config.port} "
                          f"({os.strerror(error.errno) if error.errno else error})") from None
    return HealthServer(runner)
