"""Updates per second: a sequential python-telegram-bot application vs crmbot's per-chat processor.

Both answer every message with one Bot API call while the local stand-in adds a fixed delay
to every answer (Telegram's round trip). Run: .venv/bin/python -m bench.updates
"""

from __future__ import annotations

import argparse
import asyncio
import time

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.updates import PerChatUpdateProcessor
from standin import BotApiStandIn


async def echo(update: Update, context) -> None:
    """One Bot API call per update, like the smallest useful handler."""
    await update.effective_message.reply_text(update.effective_message.text)


async def measure(processor: PerChatUpdateProcessor | None, *, chats: int, per_chat: int,
                  delay: float) -> tuple[float, bool]:
    """Updates per second, and whether every chat's replies came back in order."""
    async with BotApiStandIn() as standin:
        builder = (Application.builder().token(standin.token).base_url(standin.base_url)
                   .base_file_url(standin.base_file_url))
        if processor is not None:
            builder = builder.concurrent_updates(processor)
        application = builder.build()
        application.add_handler(MessageHandler(filters.TEXT, echo))
        users = [standin.user(10_000 + i, f"Rep {i}") for i in range(chats)]
        async with application:
            await application.start()
            await application.updater.start_polling(poll_interval=0.0, timeout=5)
            standin.delay = delay
            total = chats * per_chat
            started = time.perf_counter()
            for n in range(per_chat):
                for user in users:
                    await user.send(f"message {n}")
            await standin.wait_for(lambda _: standin.received_messages() >= total, timeout=300)
            elapsed = time.perf_counter() - started
            standin.delay = 0.0
            await application.updater.stop()
            await application.stop()
        expected = [f"message {n}" for n in range(per_chat)]
        in_order = all([m.text for m in standin.bot_messages(u.id)] == expected for u in users)
    return total / elapsed, in_order


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--per-chat", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added per answer")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    sequential, seq_order = await measure(None, chats=args.chats, per_chat=args.per_chat,
                                          delay=args.delay)
    per_chat, order = await measure(PerChatUpdateProcessor(args.concurrency), chats=args.chats,
                                    per_chat=args.per_chat, delay=args.delay)
    print(f"{args.chats} chats x {args.per_chat} messages, {args.delay * 1000:.0f} ms per "
          f"Bot API answer")
    print(f"{'processor':<34}{'updates/s':>10}  in order per chat")
    print(f"{'sequential (PTB default)':<34}{sequential:>10.1f}  {seq_order}")
    print(f"{f'per-chat, {args.concurrency} at once (crmbot)':<34}{per_chat:>10.1f}  {order}")
    print(f"speed-up: {per_chat / sequential:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
