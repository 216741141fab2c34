"""Serve the Bot API stand-in standalone: python -m standin --port 8081 --token ..."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from standin.limits import Limits
from standin.server import BotApiStandIn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:SANDBOX")
    parser.add_argument("--bot-username", default="crmbot_demo_bot")
    parser.add_argument("--bot-name", default="crmbot")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--limits", action="store_true", help="enforce Telegram's flood limits")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every limit rate")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ID:NAME",
        help="create a user (repeatable), e.g. --user 1001:Alice",
    )
    parser.add_argument("--no-privacy", action="store_true", help="bot sees all group messages")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Run until cancelled (Ctrl-C)."""
    limits = Limits().scaled(args.scale) if args.limits else None
    standin = BotApiStandIn(
        token=args.token,
        bot_username=args.bot_username,
        bot_first_name=args.bot_name,
        host=args.host,
        port=args.port,
        limits=limits,
        delay=args.delay,
        privacy_mode=not args.no_privacy,
    )
    for spec in args.user:
        user_id, _, name = spec.partition(":")
        standin.user(int(user_id), name or f"User {user_id}")
    async with standin:
        print(f"base_url:      {standin.base_url}", flush=True)
        print(f"base_file_url: {standin.base_file_url}", flush=True)
        print(f"token:         {standin.token}", flush=True)
        print(f"control API:   http://{standin.host}:{standin.port}/_sandbox/", flush=True)
        await _until_signalled()


async def _until_signalled() -> None:
    """Wait for Ctrl-C or SIGTERM (a driver process stopping us) and return cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on every platform; Ctrl-C then arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
