"""`crmbot run`: stand by until this process is the active one, then run the bot until it is
stopped or loses the role (storage/leadership.py).

Only the active process talks to Telegram: it polls (or serves the webhook), delivers the
outbox and runs the scheduled rules, so one pacer holds the whole send budget. A standby
keeps its health listener answering and asks for the role every second; when it gets it, it
first hands back what its predecessor had claimed, then handles what its predecessor had
received and not finished, then polls from Telegram's offset, which its predecessor only
moved past updates it had written down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update
from telegram.ext import Application

from bootstrap import worker_name
from bootstrap.config import Config
from bootstrap.metrics import set_active
from bot.app import build_application
from bot.health import start_health
from bot.outbox import abandoned_here
from bot.pacing import OVERALL_BURST, PRIVATE_BURST, SAFETY
from core.config import OutboxConfig
from core.ports import Clock, SystemClock
from storage.database import Database
from storage.leadership import (
    ACQUIRE_SECONDS,
    AlreadyRunning,
    Leadership,
    SqliteLeadership,
    leadership_for,
    read_holder,
)

log = logging.getLogger("crmbot.standby")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)
# A predecessor that lost its role while alive stops polling at once and finishes the updates
# it had begun within this long; its successor waits that out before handling what the
# predecessor left, so none is handled by both. A predecessor known dead is not waited for.
STEP_DOWN_SECONDS = 8.0
# After losing the role, this long before asking for it again.
STAND_ASIDE_SECONDS = 4.0


@dataclass
class Role:
    """What this process is now, for /readyz and the logs."""

    name: str = "starting"

    def __call__(self) -> str:
        return self.name


async def serve(config: Config, token: str, prepare: Callable[[], Awaitable[None]], *,
                clock: Clock | None = None) -> None:
    """Run until a stop signal: standing by, active, and standing by again after a lost role.

    `prepare` brings the database up to date; on SQLite only once this process has it to
    itself (AlreadyRunning otherwise)."""
    clock = clock or SystemClock()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    worker = worker_name()
    database = Database.connect(config.database.url)
    leadership = leadership_for(database, config.database.url, worker, clock.now)
    if isinstance(leadership, SqliteLeadership):
        try:
            await leadership.try_acquire()
        except AlreadyRunning:
            await database.dispose()
            raise
    await prepare()
    role = Role()
    health = await start_health(config.health, database, role, clock=clock)
    try:
        while not stopping.is_set():
            role.name = "standby"
            if not await _until_active(leadership, database, stopping):
                break
            role.name = "active"
            set_active(True)
            try:
                lost = await _active(config, token, leadership, worker, clock, stopping)
            finally:
                set_active(False)
            if not lost:
                break
            log.warning("standing by: this process is no longer the active one")
            # A healthy standby gets the first chance: this process's connection just failed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), STAND_ASIDE_SECONDS)
    finally:
        role.name = "stopping"
        await leadership.release()
        await health.stop()
        await database.dispose()


async def _until_active(leadership: Leadership, database: Database,
                        stopping: asyncio.Event) -> bool:
    """Ask for the role until it is ours (True) or a stop signal came (False)."""
    told = None
    while not stopping.is_set():
        if await leadership.try_acquire():
            log.info("this process is the active one (%s)", leadership.worker)
            return True
        holder = await _holder(database)
        if holder is not None and holder.worker != told:
            log.info("standing by: %s is active since %s", holder.worker,
                     holder.since.isoformat(timespec="seconds"))
            told = holder.worker
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), ACQUIRE_SECONDS)
    return False


async def _holder(database: Database):
    try:
        return await read_holder(database)
    except Exception:  # the database is away: the next try says so
        return None


async def _active(config: Config, token: str, leadership: Leadership, worker: str,
                  clock: Clock, stopping: asyncio.Event) -> bool:
    """Run the bot while the role is held; True when it was lost, False on a stop signal."""
    predecessor = leadership.predecessor
    if predecessor not in (None, worker) and not abandoned_here(predecessor):
        log.info("waiting %.0f s for %s to step down", STEP_DOWN_SECONDS, predecessor)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), STEP_DOWN_SECONDS)
    if predecessor not in (None, worker):
        # What the predecessor sent in its last second counts in Telegram's windows: let it
        # leave them before this process sends (a group's minute is not waited out).
        await asyncio.sleep(quiet_seconds(config.outbox))
    application = build_application(config, token=token, settle=True, clock=clock,
                                    worker=worker)
    application.bot_data["dispatcher"].predecessor = leadership.predecessor
    held = asyncio.create_task(leadership.held(), name="active-role")
    stop = asyncio.create_task(stopping.wait(), name="stop-signal")
    try:
        await _start(application, config)
        await asyncio.wait({held, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        lost = held.done()
        for task in (held, stop):
            task.cancel()
        if lost:
            # What was received and not begun stays written down for the next active process.
            application.update_queue.forsake()
        await _stop(application)
    return lost


def quiet_seconds(outbox: OutboxConfig) -> float:
    """How long the overall and the private chats' windows last, with the pacer's margin."""
    return (1 + SAFETY) * max(OVERALL_BURST / outbox.messages_per_second,
                              PRIVATE_BURST / outbox.private_per_second)


async def _start(application: Application, config: Config) -> None:
    """python-telegram-bot's run_polling / run_webhook, up to the point where they block."""
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    telegram = config.telegram
    if telegram.mode == "polling":
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
    else:
        hook = telegram.webhook
        await application.updater.start_webhook(
            listen=hook.listen, port=hook.port, url_path=hook.path, webhook_url=hook.url,
            secret_token=hook.secret_token.get_secret_value() if hook.secret_token else None,
            allowed_updates=Update.ALL_TYPES)
    await application.start()


async def _stop(application: Application) -> None:
    """And their way down: no more updates, finish what is running, hand back the rest."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
        if application.post_stop:
            await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown:
        await application.post_shutdown(application)
