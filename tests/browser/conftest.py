"""Browser tests: the Mini App served by `crmbot web`'s app over real HTTP, opened in Debian's
Chromium by Playwright exactly as Telegram opens it (the launch parameters in the page's
fragment), with the real bot running against the stand-in beside it.

Screenshots go to test-artifacts/browser/ (or $CRMBOT_ARTIFACTS/browser/).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn
from pydantic import SecretStr

from bot.stage import free_port
from tests.chat import conftest as chat
from web.app import create_app
from web.initdata import launch_fields, launch_url, sign

CHROMIUM = os.environ.get("CRMBOT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CRMBOT_ARTIFACTS", Path(__file__).parents[2]
                                / "test-artifacts")) / "browser"
# As the machine's probe starts it: no sandbox as root, and nothing fetched in the background.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
DARK = {"bg_color": "#17212b", "text_color": "#f5f5f5", "hint_color": "#708499",
        "link_color": "#6ab3f3", "button_color": "#5288c1", "button_text_color": "#ffffff",
        "secondary_bg_color": "#232e3c"}

# The chat tests' fixtures: the example org, its running bot and the stand-in's people.
org_file, config_sections, config = chat.org_file, chat.config_sections, chat.config
org_database, stage, cast = chat.org_database, chat.stage, chat.cast

if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
    pytest.skip(f"the browser tests need Chromium at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)


class Portal:
    """The Mini App's server on a free port, and pages opened in it as one person or another."""

    def __init__(self, stage, config, database, clock, browser, name: str) -> None:
        self.stage, self.clock, self.browser, self.name = stage, clock, browser, name
        self.token = stage.standin.token
        telegram = config.telegram.model_copy(update={"token": SecretStr(self.token)})
        self.config = config.model_copy(update={"telegram": telegram})
        self.app = create_app(self.config, database, clock=clock)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.problems: list[str] = []
        self._shots = 0

    async def __aenter__(self) -> Portal:
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_config=None, lifespan="off"))
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110 (uvicorn sets a flag, no event)
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self._task

    def init_data(self, user, *, token: str | None = None, signed_at: datetime | None = None,
                  language: str | None = None) -> str:
        """Init data as Telegram signs it for `user` (a stand-in user) opening the app."""
        fields = launch_fields(user.id, user.person.first_name, signed_at or self.clock.now(),
                               language_code=language or user.person.language_code or "en")
        return sign(fields, token or self.token)

    async def open(self, user=None, *, init_data: str | None = None, theme: dict | None = None,
                   language: str | None = None, query: str = "", width: int = 390):
        """A page as Telegram opens it for `user` (or with the given init data)."""
        data = init_data if init_data is not None else self.init_data(user, language=language)
        context = await self.browser.new_context(viewport={"width": width, "height": 844},
                                                 device_scale_factor=1)
        page = await context.new_page()
        page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"{m.text} @ {m.location.get('url', '')}"))
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        await page.goto(launch_url(f"{self.base}/app/{query}", data, theme=theme))
        return page

    async def screenshot(self, page, label: str) -> Path:
        """A picture of the page, kept for whoever reads the test run."""
        self._shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{self._shots:02d}-{label}.png"
        await page.screenshot(path=path, full_page=True)
        return path

    def page_errors(self) -> list[str]:
        """Script errors and refused resources (a CSP violation is one), but for the map's
        tiles, which a machine without the internet cannot load, and the refusals a test
        asks for (the page shows those)."""
        tiles = self.config.web.tile_origin or "-"
        return [p for p in self.problems if tiles not in p
                and "the server responded with a status of 4" not in p]


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def portal(stage, config, org_database, clock, browser, request):
    name = re.sub(r"\W+", "-", request.node.name).strip("-")
    async with Portal(stage, config, org_database, clock, browser, name) as running:
        yield running
