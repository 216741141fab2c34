"""What the bot keeps between updates (a chat's drafts, where a conversation stands), shared by
the processes of one database so that a standby taking over goes on where the active one was.
"""

from __future__ import annotations

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.database import Database
from storage.tables import ChatStateRow

Change = tuple[str, str, bytes | None]  # scope, key, the value or None to forget it


class ChatStates:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def load(self, scope: str) -> dict[str, bytes]:
        async with self.database.uow(read_only=True) as uow:
            rows = await uow.session.execute(
                select(ChatStateRow.key, ChatStateRow.value).where(ChatStateRow.scope == scope))
            return {key: value for key, value in rows}

    async def save(self, changes: list[Change]) -> None:
        """Write and forget together, in one transaction."""
        kept = [{"scope": s, "key": k, "value": v} for s, k, v in changes if v is not None]
        gone = [(s, k) for s, k, v in changes if v is None]
        insert = sqlite_insert if self.database.is_sqlite else pg_insert
        async with self.database.uow() as uow:
            if kept:
                statement = insert(ChatStateRow)
                await uow.session.execute(statement.on_conflict_do_update(
                    index_elements=[ChatStateRow.scope, ChatStateRow.key],
                    set_={"value": statement.excluded.value}), kept)
            if gone:
                await uow.session.execute(delete(ChatStateRow).where(
                    tuple_(ChatStateRow.scope, ChatStateRow.key).in_(gone)))
            await uow.commit()
