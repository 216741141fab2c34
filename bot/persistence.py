"""python-telegram-bot's persistence in the database: chat_data, user_data and where each
conversation stands, so that a process taking over (or restarting) goes on with a rep's
half-typed plan or claim instead of saying the draft is closed.

PTB hands over what changed (update_*); nothing is written then. `save` writes it all in
one transaction, and the update journal calls it before crossing off the updates that made
the changes, so an update is never counted handled while its effect on a conversation could
still be lost. Values are pickled, as PTB's own PicklePersistence does: they are the bot's
own dictionaries of ids, dates and small tuples, read back only by the bot.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from storage.chat_states import Change, ChatStates

CHAT = "chat"
USER = "user"
FLOW = "flow:"
# PTB's own timer only hands changes over; the journal writes them.
HAND_OVER_SECONDS = 5


def _conversation_key(key: tuple) -> str:
    return json.dumps(list(key))


class DatabasePersistence(BasePersistence):
    def __init__(self, states: ChatStates) -> None:
        super().__init__(store_data=PersistenceInput(bot_data=False, callback_data=False),
                         update_interval=HAND_OVER_SECONDS)
        self.states = states
        self._written: dict[tuple[str, str], bytes] = {}
        self._pending: dict[tuple[str, str], bytes | None] = {}
        self._lock = asyncio.Lock()

    # --- read once, when the application starts ------------------------------------------

    async def _load(self, scope: str) -> dict[str, Any]:
        stored = await self.states.load(scope)
        for key, value in stored.items():
            self._written[scope, key] = value
        return {key: pickle.loads(value) for key, value in stored.items()}

    async def get_chat_data(self) -> dict[int, dict]:
        return {int(key): value for key, value in (await self._load(CHAT)).items()}

    async def get_user_data(self) -> dict[int, dict]:
        return {int(key): value for key, value in (await self._load(USER)).items()}

    async def get_conversations(self, name: str) -> dict:
        return {tuple(json.loads(key)): state
                for key, state in (await self._load(FLOW + name)).items()}

    async def get_bot_data(self) -> dict:
        return {}

    async def get_callback_data(self) -> None:
        return None

    # --- changes, kept until saved ---------------------------------------------------------

    def _stage(self, scope: str, key: str, value: Any) -> None:
        data = None if value is None else pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if self._written.get((scope, key)) == data:
            self._pending.pop((scope, key), None)
        else:
            self._pending[scope, key] = data

    async def update_chat_data(self, chat_id: int, data: dict) -> None:
        self._stage(CHAT, str(chat_id), data or None)

    async def update_user_data(self, user_id: int, data: dict) -> None:
        self._stage(USER, str(user_id), data or None)

    async def update_conversation(self, name: str, key: tuple, new_state: object) -> None:
        self._stage(FLOW + name, _conversation_key(key), new_state)

    async def drop_chat_data(self, chat_id: int) -> None:
        self._stage(CHAT, str(chat_id), None)

    async def drop_user_data(self, user_id: int) -> None:
        self._stage(USER, str(user_id), None)

    async def update_bot_data(self, data: dict) -> None:
        pass

    async def update_callback_data(self, data: object) -> None:
        pass

    async def refresh_chat_data(self, chat_id: int, chat_data: dict) -> None:
        pass

    async def refresh_user_data(self, user_id: int, user_data: dict) -> None:
        pass

    async def refresh_bot_data(self, bot_data: dict) -> None:
        pass

    # --- written --------------------------------------------------------------------------

    async def save(self) -> None:
        """Write what changed since the last save, in one transaction."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            if not pending:
                return
            changes: list[Change] = [(scope, key, value)
                                     for (scope, key), value in pending.items()]
            try:
                await self.states.save(changes)
            except BaseException:
                self._pending = {**pending, **self._pending}
                raise
            for (scope, key), value in pending.items():
                if value is None:
                    self._written.pop((scope, key), None)
                else:
                    self._written[scope, key] = value

    async def flush(self) -> None:
        await self.save()
