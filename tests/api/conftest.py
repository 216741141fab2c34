"""The finance API over ASGI against a real database, with a clock the test moves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest

from api.app import create_app
from bootstrap.config import parse_config
from tests.api.seed import seed_org

LEDGER = "ledger-token-0123456789abcdef"  # claims:read and claims:post
AUDIT = "audit-token-0123456789abcdefgh"  # claims:read only
BOOKER = "booker-token-0123456789abcdefg"  # claims:post only
CURSOR_SECRET = "cursor-secret-0123456789abcdefghijklmnop"


def api_config(tmp_path, page_size: int = 1000):
    return parse_config({
        "storage": {"photos_dir": str(tmp_path / "photos")},
        "api": {"page_size": page_size, "cursor_secret": CURSOR_SECRET, "tokens": [
            {"name": "ledger", "token": LEDGER, "scopes": ["claims:read", "claims:post"]},
            {"name": "audit", "token": AUDIT, "scopes": ["claims:read"]},
            {"name": "booker", "token": BOOKER, "scopes": ["claims:post"]}]},
    }, env={})


def signed_cursor(payload: object, key: bytes) -> str:
    """A cursor carrying any payload, signed as the server signs (as if its secret leaked)."""
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signature = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def make_client(database, clock, tmp_path):
    """A client factory: the app over the test database, optionally with its own options."""
    await seed_org(database)
    clients = []

    def make(token: str | None = LEDGER, *, page_size: int = 1000, photos=None,
             raise_errors: bool = True) -> httpx.AsyncClient:
        app = create_app(api_config(tmp_path, page_size), database, clock=clock, photos=photos)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=raise_errors),
            base_url="http://finance.test", headers=bearer(token) if token else {})
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client) -> httpx.AsyncClient:
    return make_client()
