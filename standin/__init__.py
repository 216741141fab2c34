"""A local stand-in for the Telegram Bot API, so the real bot and its tests run offline.

    async with BotApiStandIn() as standin:
        alice = standin.user(1001, "Alice")
        app = Application.builder().token(standin.token).base_url(standin.base_url)...
        await alice.send("/start")
        reply = await standin.next_bot_message(alice)

Waiting for the bot without races (everything runs on the test's event loop):
- next_bot_message(chat): a per-chat cursor hands out every bot message once, in order,
  so a reply sent before the call is not missed; skip_bot_messages(chat) moves the cursor
  to the end, since=standin.mark() restricts it to messages after a point.
- wait_for(predicate, since=None): the first transcript entry matching predicate that was
  added after the call (or at/after the transcript index since=).
- wait_fetched(update): the bot confirmed the update (getUpdates offset past it, or the
  webhook answered 2xx). Updates the bot never gets have update_id None: ValueError.
- idle(quiet): nothing pending and no API call for `quiet` seconds (a heuristic).
"""

from standin.actors import SandboxGroup, SandboxUser
from standin.limits import Limits
from standin.server import BotApiStandIn
from standin.state import Stats
from standin.transcript import Entry, render_transcript
from standin.views import BotMessage

__all__ = [
    "BotApiStandIn",
    "BotMessage",
    "Entry",
    "Limits",
    "SandboxGroup",
    "SandboxUser",
    "Stats",
    "render_transcript",
]
