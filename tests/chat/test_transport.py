"""The bot's HTTP client: forms, uploads, timeouts and network errors as PTB expects them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from telegram.error import NetworkError, TimedOut

from bot.stage import free_port
from bot.transport import AiohttpRequest


@dataclass
class Sent:
    """What PTB hands a request class: JSON-encoded parameters and the files to upload."""

    json_parameters: dict[str, str]
    multipart_data: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)


@pytest.fixture
async def server():
    """A tiny Bot API: echoes what it was sent; /slow answers after a second."""
    seen: list[dict] = []

    async def echo(request: web.Request) -> web.Response:
        form = await request.post()
        seen.append({k: (v.file.read(), v.filename, v.content_type)
                     if isinstance(v, web.FileField) else v for k, v in form.items()})
        return web.json_response({"ok": True, "result": True})

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


@pytest.fixture
async def request_():
    request = AiohttpRequest(connection_pool_size=4)
    await request.initialize()
    yield request
    await request.shutdown()


async def test_parameters_go_as_a_form(server, request_):
    url, seen = server
    sent = Sent({"chat_id": "42", "text": "📍 Checked in"})
    status, body = await request_.do_request(f"{url}/echo", "POST", sent)
    assert status == 200 and b'"ok": true' in body
    assert seen == [{"chat_id": "42", "text": "📍 Checked in"}]


async def test_files_go_as_multipart_with_the_other_parameters(server, request_):
    url, seen = server
    sent = Sent({"chat_id": "42"}, {"photo": ("visit.jpg", b"\xff\xd8jpeg bytes", "image/jpeg")})
    status, _ = await request_.do_request(f"{url}/echo", "POST", sent)
    assert status == 200
    assert seen[0]["chat_id"] == "42"
    assert seen[0]["photo"] == (b"\xff\xd8jpeg bytes", "visit.jpg", "image/jpeg")


async def test_a_slow_answer_is_a_timeout(server, request_):
    url, _ = server
    with pytest.raises(TimedOut):
        await request_.do_request(f"{url}/slow", "POST", read_timeout=0.1)


async def test_nobody_listening_is_a_network_error(request_):
    with pytest.raises(NetworkError):
        await request_.do_request(f"http://127.0.0.1:{free_port()}/echo", "POST")


async def test_a_request_before_initialize_is_refused():
    with pytest.raises(RuntimeError):
        await AiohttpRequest().do_request("http://127.0.0.1:1/echo", "POST")
