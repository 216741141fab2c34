"""`crmbot api` as an admin runs it: the database brought up to date, then served."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.stage import free_port
from tests.api.conftest import AUDIT, CURSOR_SECRET, LEDGER, bearer

ROOT = Path(__file__).resolve().parents[2]


def write_config(folder: Path, port: int, tokens: str) -> Path:
    config = folder / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{folder}/crm.db"\n'
                      f'[storage]\nphotos_dir = "{folder}/photos"\n'
                      f'[api]\nport = {port}\ntokens = {tokens}\n')
    return config


def crmbot_api(config: Path, cursor_secret: str | None = CURSOR_SECRET) -> subprocess.Popen:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    if cursor_secret:
        env["CRMBOT_API_CURSOR_SECRET"] = cursor_secret
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "api"],
                            cwd=config.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def refusal(config: Path, cursor_secret: str | None = CURSOR_SECRET) -> str:
    """What `crmbot api` says when it refuses to start (exit status 2)."""
    result = crmbot_api(config, cursor_secret)
    _, stderr = result.communicate(timeout=60)
    assert result.returncode == 2, stderr
    return stderr.strip()


def test_crmbot_api_serves_the_finance_api(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port, f'[{{ name = "audit", token = "{AUDIT}" }}]')
    server = crmbot_api(config)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/claims/approved",
                                     headers=bearer(AUDIT), timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "crmbot api did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["claims"] == []
        assert "server" not in response.headers
        refused = httpx.get(f"http://127.0.0.1:{port}/api/v1/claims/approved", timeout=5)
        assert refused.status_code == 401
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    # uvicorn shuts down cleanly on SIGTERM, then re-raises it as the exit status.
    assert "Application shutdown complete" in stderr, stderr
    assert AUDIT not in stderr
    assert CURSOR_SECRET not in stderr
    assert (tmp_path / "crm.db").exists()


def test_crmbot_api_without_tokens_says_so(tmp_path):
    config = write_config(tmp_path, free_port(), "[]")
    assert refusal(config) == ("crmbot: api.tokens: none configured, so every call would be "
                               "refused")


def test_crmbot_api_without_a_cursor_secret_says_so(tmp_path):
    config = write_config(tmp_path, free_port(), f'[{{ name = "audit", token = "{AUDIT}" }}]')
    assert refusal(config, cursor_secret=None) == (
        "crmbot: api.cursor_secret: missing (at least 32 random characters; set it in the "
        "config file or in CRMBOT_API_CURSOR_SECRET)")
    assert not (tmp_path / "crm.db").exists()


def test_crmbot_api_refuses_two_tokens_with_one_secret(tmp_path):
    config = write_config(tmp_path, free_port(), (
        f'[{{ name = "ledger", token = "{LEDGER}" }}, {{ name = "audit", token = "{LEDGER}" }}]'))
    stderr = refusal(config)
    assert stderr == "crmbot: api.tokens: tokens audit, ledger share one secret; give each its own"
    assert LEDGER not in stderr
