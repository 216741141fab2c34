"""The Bot API stand-in for a benchmark, in its own process, like Telegram is.

    python -m bench.standin --port 8081 --users 10000 --first-id 500000 --scale 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from standin import BotApiStandIn, Limits


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
