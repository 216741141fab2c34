"""The Mini App's JSON endpoints over ASGI, on each backend, with the example org imported and
callers signed in by init data as Telegram signs it."""

from __future__ import annotations

import httpx
import pytest

from bootstrap import build_services
from bootstrap.config import parse_config
from bot.org_file import parse_org_file
from tests.example_org import example
from web.app import create_app
from web.initdata import launch_fields, sign

TOKEN = "123456789:web-test-token"
# The example org's people (examples/org.toml), by their Telegram accounts.
DANA, ERIN, WALT, CAROL, LI, SAM, FIONA = 1001, 1002, 1003, 2001, 2002, 2003, 3001
STRANGER = 9001


def web_config(tmp_path, **web):
    org = example()["org"]
    return parse_config({"telegram": {"token": TOKEN}, "org": org, "web": web,
                         "storage": {"photos_dir": str(tmp_path / "photos")}}, env={})


def init_data(account_id: int, clock, *, token: str = TOKEN, language: str = "en",
              signed_at=None) -> str:
    return sign(launch_fields(account_id, "Someone", signed_at or clock.now(),
                              language_code=language), token)


@pytest.fixture
def web_sections() -> dict:
    """[web] settings a test file gives the app."""
    return {}


@pytest.fixture
async def services(database, clock, tmp_path, web_sections):
    """Core's use cases over the test database with the example org imported."""
    built = build_services(web_config(tmp_path, **web_sections), database, clock)
    await built.org.import_org(parse_org_file(example()))
    return built


@pytest.fixture
async def web(services, database, clock, tmp_path, web_sections):
    """A client factory: `web(ERIN)` calls the app as Erin (language="zh" for Chinese)."""
    app = create_app(web_config(tmp_path, **web_sections), database, clock=clock,
                     services=services)
    clients = []

    def client(account_id: int | None, *, language: str = "en",
               raw: str | None = None) -> httpx.AsyncClient:
        data = raw if raw is not None else (
            init_data(account_id, clock, language=language) if account_id else None)
        made = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://web.test",
                                 headers={"Authorization": f"tma {data}"} if data else {})
        clients.append(made)
        return made

    client.app = app
    yield client
    for made in clients:
        await made.aclose()
