"""The Bot API stand-in for a benchmark, in its own process, like Telegram is.

    python -m bench.standin --port 8081 --users 10000 --first-id 500000 --scale 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from standin import BotApiStandIn, Limits

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:SANDBOX"


@dataclass(frozen=True)
class RemoteStandIn:
    """Where the bot finds a stand-in running in another process (what Stage needs of one)."""

    port: int
    token: str = TOKEN

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/_sandbox"


def control(port: int, path: str, body: dict | None = None) -> dict:
    """The stand-in's control API: GET `path`, or POST `body` to it (blocking: call it in a
    thread from a bot's process)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_sandbox/{path}", data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["result"]


@contextlib.asynccontextmanager
async def standin_process(port: int, users: int, first_id: int,
                          scale: float) -> AsyncIterator[RemoteStandIn]:
    """The stand-in in a process of its own, with `users` reps "Rep 0", "Rep 1", ... from
    `first_id`, until the block ends: its work is then not the bot's process's."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.standin", "--port", str(port), "--users", str(users),
        "--first-id", str(first_id), "--scale", str(scale), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        if (await process.stdout.readline()).strip() != b"ready":
            raise SystemExit("the stand-in did not start")
        yield RemoteStandIn(port)
    finally:
        process.terminate()
        await process.wait()


async def serve(port: int, users: int, first_id: int, scale: float) -> None:
    """Serve until SIGTERM or SIGINT, with Telegram's limits scaled by `scale`."""
    standin = BotApiStandIn(port=port, limits=Limits().scaled(scale))
    for i in range(users):
        standin.user(first_id + i, f"Rep {i}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with standin:
        print("ready", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.standin", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--first-id", type=int, default=500_000)
    parser.add_argument("--scale", type=float, default=10.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.users, args.first_id, args.scale))


if __name__ == "__main__":
    main()
