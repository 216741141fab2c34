"""Fixtures: a running stand-in, a real telegram.Bot and a polling Application against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import telegram
from telegram.ext import Application

from standin import BotApiStandIn


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandIn]:
    """A started stand-in with default settings."""
    async with BotApiStandIn() as server:
        yield server


@pytest.fixture
async def bot(standin: BotApiStandIn) -> AsyncIterator[telegram.Bot]:
    """The real PTB Bot client talking to the stand-in."""
    client = telegram.Bot(
        standin.token, base_url=standin.base_url, base_file_url=standin.base_file_url
    )
    async with client:
        yield client


@pytest.fixture
def application(standin: BotApiStandIn) -> Application:
    """A PTB Application (not started) pointed at the stand-in; add handlers, then run it."""
    return (
        Application.builder()
        .token(standin.token)
        .base_url(standin.base_url)
        .base_file_url(standin.base_file_url)
        .build()
    )


@pytest.fixture
async def run_app(application: Application) -> AsyncIterator[Callable[[], Awaitable[Application]]]:
    """Call to start the application with long polling; it is stopped after the test."""
    started = False

    async def start() -> Application:
        nonlocal started
        await application.initialize()
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=5)
        started = True
        return application

    yield start
    if started:
        assert application.updater is not None
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
