"""The real bot playing against the local Bot API stand-in: for the demo and the chat tests."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable
from typing import Literal, Self

from telegram import Update
from telegram.ext import Application

from bootstrap.config import Config
from bot.app import build_application
from bot.outbox import Dispatcher
from bot.scheduler import RULES_JOB, run_rule_now
from bot.updates import PerChatUpdateProcessor
from core.ports import Clock
from standin import BotApiStandIn
from storage.database import Database

WEBHOOK_SECRET = "stage-webhook-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stage:
    """Starts the stand-in and the bot (polling or webhook); `act` waits for the bot's answer."""

    def __init__(self, config: Config, database: Database, *, clock: Clock | None = None,
                 standin: BotApiStandIn | None = None,
                 mode: Literal["polling", "webhook"] = "polling") -> None:
        self.standin = standin or BotApiStandIn()
        self._owns_standin = standin is None
        self._config = config
        self._database = database
        self._clock = clock
        self.mode = mode
        self.application: Application
        self.last_update_id: int | None = None

    async def __aenter__(self) -> Self:
        if self._owns_standin:
            await self.standin.start()
        telegram = self._config.telegram.model_copy(update={
            "base_url": self.standin.base_url, "base_file_url": self.standin.base_file_url})
        config = self._config.model_copy(update={"telegram": telegram})
        self.application = build_application(config, database=self._database, clock=self._clock,
                                              token=self.standin.token)
        self.processor.track_finished = True
        await self.application.initialize()
        # run_polling() would call these hooks; the stage starts the parts itself.
        if self.application.post_init:
            await self.application.post_init(self.application)
        await self.application.start()
        updater = self.application.updater
        if self.mode == "polling":
            await updater.start_polling(poll_interval=0.0, timeout=5,
                                        allowed_updates=Update.ALL_TYPES)
        else:
            port = free_port()
            await updater.start_webhook(
                listen="127.0.0.1", port=port, url_path="telegram",
                webhook_url=f"http://127.0.0.1:{port}/telegram", secret_token=WEBHOOK_SECRET,
                allowed_updates=Update.ALL_TYPES)
            self.webhook_port = port
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.application.updater.running:
                await self.application.updater.stop()
            if self.application.running:
                await self.application.stop()
            # run_polling() calls post_stop after stop(): the outbox hands back its claims.
            if self.application.post_stop:
                await self.application.post_stop(self.application)
            await self.application.shutdown()
            if self.application.post_shutdown:
                await self.application.post_shutdown(self.application)
        finally:
            if self._owns_standin:
                await self.standin.stop()

    @property
    def dispatcher(self) -> Dispatcher:
        """The outbox dispatcher of the running bot."""
        return self.application.bot_data["dispatcher"]

    async def sent(self, timeout: float = 10.0) -> None:
        """Wait until every notification the outbox has claimed is sent and recorded.

        The stand-in shows a message as soon as the bot sends it; the database records the
        delivery a moment later, together with the others sent meanwhile.
        """
        deadline = time.monotonic() + timeout
        while self.dispatcher.in_flight:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.dispatcher.in_flight} notifications still on their "
                                   f"way after {timeout}s")
            await asyncio.sleep(0.01)

    async def fire(self, rule: str) -> int:
        """A rule runs now, as it does when its time comes; returns how many notices are new."""
        return await run_rule_now(self.application, rule)

    async def look_for_due_rules(self) -> None:
        """The scheduler's repeating job runs now, as it does every `check_seconds`."""
        [job] = self.application.job_queue.get_jobs_by_name(RULES_JOB)
        await job.run(self.application)

    @property
    def processor(self) -> PerChatUpdateProcessor:
        return self.application.update_processor  # type: ignore[return-value]

    async def act(self, action: Awaitable[dict], timeout: float = 10.0) -> list:
        """Do something as a person; return the transcript entries it caused."""
        mark = len(self.standin.transcript())
        update = await action
        self.last_update_id = update["update_id"]
        await self.processor.wait_finished(update["update_id"], timeout)
        # Crossed off, with what it changed in the chat's conversations saved.
        await self.application.bot_data["journal"].flush()
        return self.standin.transcript()[mark:]
