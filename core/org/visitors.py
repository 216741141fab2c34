"""Who is speaking, from memory: the gate reads no database for an active member."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.org.membership import OrgService, Visitor
from core.ports import Changes, UnitOfWorkFactory
from core.snapshot import Snapshot

# Members changed by another process (`crmbot org import`, a second bot process) are not
# counted in this one's Changes: the directory is read again at least this often.
REFRESH_SECONDS = 30.0


class VisitorCache:
    """OrgService.identify, answered from a directory of the active members.

    The directory is read whole (a sales org has hundreds or thousands of members: two
    queries) and read again once members or the org's settings change. What it says
    serves the gate: who may talk to the bot, in which language. It grants nothing by
    itself: every use case checks the member again inside its own transaction. Whoever is
    not in it is looked up in the database, so a member who just joined, even through
    another process, is let in at once.
    """

    def __init__(self, org: OrgService, uows: UnitOfWorkFactory, changes: Changes, *,
                 refresh_seconds: float = REFRESH_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._org = org
        self._uows = uows
        self._directory = Snapshot(
            self._load, lambda: (changes.version("members"), changes.version("organization")),
            refresh_seconds=refresh_seconds, monotonic=monotonic)

    async def identify(self, account_id: int) -> Visitor:
        visitor = (await self._directory.get()).get(account_id)
        return visitor if visitor is not None else await self._org.identify(account_id)

    async def _load(self) -> dict[int, Visitor]:
        """Every active member with a messenger account, by that account."""
        settings = await self._org.settings()
        async with self._uows(read_only=True) as uow:
            members = await uow.members.all()
        return {m.account_id: Visitor(m, settings) for m in members
                if m.active and m.account_id is not None}
