"""Updates from the messenger are kept from the moment they arrive until they are handled.

The front end records a batch before it tells the messenger it has them (for the messenger's
polling: before the next getUpdates moves the offset; for a webhook: before answering 200),
and marks each one handled when its handler has finished. A process killed in between
finds the rest at its next start and handles them then; an update delivered twice is
recognised by its id and handled once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from core.ports import Clock, UnitOfWorkFactory

# A webhook's updates are never acknowledged by offset: handled ones are kept this long to
# recognise a delivery the messenger repeats, then forgotten (ids may start again elsewhere).
KEEP_HANDLED = timedelta(days=1)


class InboundService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock) -> None:
        self._uows = uows
        self._clock = clock

    async def received(self, updates: Sequence[tuple[int, dict]],
                       acknowledged_below: int | None = None) -> set[int]:
        """Keep a batch; returns the ids seen for the first time (the rest are repeats).

        `acknowledged_below`: the messenger will never send ids below this again, so the
        handled ones among them need no keeping.
        """
        now = self._clock.now()
        async with self._uows() as uow:
            new = await uow.inbound.record(updates, now) if updates else set()
            await uow.inbound.forget_handled(below=acknowledged_below,
                                             handled_before=now - KEEP_HANDLED)
            await uow.commit()
        return new

    async def handled(self, update_ids: Sequence[int]) -> None:
        async with self._uows() as uow:
            await uow.inbound.handled(update_ids, self._clock.now())
            await uow.commit()

    async def unhandled(self) -> list[tuple[int, dict]]:
        """What arrived but was never handled (the process stopped first), oldest first."""
        async with self._uows(read_only=True) as uow:
            return await uow.inbound.pending()
