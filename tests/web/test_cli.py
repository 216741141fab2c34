"""`crmbot web` as an admin runs it: the database brought up to date, then the page served."""

from __future__ import annotations

import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from bot.stage import free_port
from tests.web.conftest import TOKEN
from web.initdata import launch_fields, sign

ROOT = Path(__file__).resolve().parents[2]


def crmbot_web(folder: Path, port: int, token: str | None) -> subprocess.Popen:
    config = folder / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{folder}/crm.db"\n'
                      f'[storage]\nphotos_dir = "{folder}/photos"\n'
                      f'[web]\nport = 1\n')
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CRMBOT_WEB_PORT": str(port)}
    if token:
        env["CRMBOT_TOKEN"] = token
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "web"],
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_crmbot_web_serves_the_page_on_the_port_the_environment_gives(tmp_path):
    port = free_port()
    server = crmbot_web(tmp_path, port, TOKEN)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/app/", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "crmbot web did not start"
                time.sleep(0.2)
        assert page.status_code == 200 and "telegram-web-app.js" in page.text
        assert "server" not in page.headers
        # Nobody is a member of the empty database: signed, but refused. Signed at the
        # server's own time (its Date header), whatever clock this test runs by.
        signed_at = parsedate_to_datetime(page.headers["date"])
        init = sign(launch_fields(2001, "Carol", signed_at), TOKEN)
        me = httpx.get(f"http://127.0.0.1:{port}/app/api/me", timeout=5,
                       headers={"Authorization": f"tma {init}"})
        assert (me.status_code, me.json()["error"]) == (403, "not_a_member")
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["role"] == "web"
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert "Application shutdown complete" in stderr, stderr
    assert TOKEN.split(":")[1] not in stderr


def test_crmbot_web_without_a_token_says_so(tmp_path):
    server = crmbot_web(tmp_path, free_port(), None)
    _, stderr = server.communicate(timeout=60)
    assert server.returncode == 2
    assert stderr.strip() == ("crmbot: telegram.token: missing (set it in the config file or "
                              "in CRMBOT_TOKEN)")
