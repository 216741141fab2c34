"""`crmbot run` in a subprocess against a stand-in served by the test, its output in a file."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from standin import BotApiStandIn
from tests.conftest import ROOT

# Scheduled rules would follow the machine's clock in a real `crmbot run`: off here.
RULES = ("plan_reminder", "log_reminder", "morning_digest", "approval_sla", "follow_up")


class RunningBot:
    """Started, signalled and started again by the test; killed if the test fails first."""

    def __init__(self, tmp_path: Path, standin: BotApiStandIn, url: str,
                 extra_config: str = "") -> None:
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f'[telegram]\nbase_url = "{standin.base_url}"\n'
            f'base_file_url = "{standin.base_file_url}"\n'
            f'[database]\nurl = "{url}"\n' + extra_config
            # No health listener unless the test asks for one: tests run side by side.
            + ("" if "[health]" in extra_config else "[health]\nport = 0\n")
            + "".join(f"[reminders.{rule}]\nenabled = false\n" for rule in RULES),
            encoding="utf-8")
        self.log = tmp_path / "bot.log"
        self.env = {**os.environ, "CRMBOT_TOKEN": standin.token}
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", "--config", str(self.config),
                cwd=ROOT, env=self.env, stdout=log, stderr=log)

    async def end(self, signum: int, timeout: float = 20) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), timeout)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]

    async def __aenter__(self) -> RunningBot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
