"""The finance system's use cases: page through approved claims, fetch one, post them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core.domain.errors import DomainError, NotFound
from core.domain.expenses.claims import ClaimAction
from core.domain.expenses.finance import (
    LedgerClaimRecord,
    LedgerPage,
    LedgerRowPage,
    Position,
    Posting,
    check_ledger_ref,
    existing_posting,
    horizon,
    ledger_claim,
    ledger_position,
)
from core.ports import Clock, PhotoFiles, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostingRequest:
    number: str
    ledger_ref: str


@dataclass(frozen=True)
class PostingOutcome:
    """One line of a batch: the posting, or the refusal's code."""

    number: str
    posting: Posting | None
    changed: bool = False
    error: str | None = None


class FinanceService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, photos: PhotoFiles) -> None:
        self._uows = uows
        self._clock = clock
        self._photos = photos

    async def approved(self, after: Position | None, limit: int) -> LedgerPage:
        """The next `limit` approved claims after `after`, in decision order."""
        page = await self.approved_rows(after, limit)
        return LedgerPage([ledger_claim(row) for row in page.rows], page.position,
                          page.has_more)

    async def approved_rows(self, after: Position | None, limit: int) -> LedgerRowPage:
        """`approved` as the database holds the claims: for pages of thousands."""
        until = horizon(self._clock.now())
        async with self._uows(read_only=True) as uow:
            rows = await uow.ledger.approved_after(after, until, limit + 1)
        page = rows[:limit]
        return LedgerRowPage(page, ledger_position(page[-1]) if page else after,
                             len(rows) > limit)

    async def claim(self, number: str) -> LedgerClaimRecord:
        """An approved (or posted) claim with receipts and history; NotFound for others."""
        async with self._uows(read_only=True) as uow:
            record = await uow.ledger.record(number)
        if record is None:
            raise NotFound("claim_not_found")
        return record

    async def receipt(self, number: str, sha256: str) -> bytes:
        """The receipt image, only through the approved claim it belongs to."""
        async with self._uows(read_only=True) as uow:
            if not await uow.ledger.has_receipt(number, sha256):
                raise NotFound("receipt_not_found")
        try:
            return await asyncio.to_thread(self._photos.read, sha256)
        except FileNotFoundError:
            log.warning("receipt %s of claim %s is missing from the photo store", sha256,
                        number)
            raise NotFound("receipt_not_found") from None

    async def post(self, number: str, ledger_ref: str, *, by: str) -> tuple[Posting, bool]:
        """Mark a claim posted; the same reference again changes nothing (changed=False)."""
        async with self._uows() as uow:
            posting, changed = await self._post(uow, number, check_ledger_ref(ledger_ref), by)
            if changed:
                await uow.commit()
        return posting, changed

    async def post_many(self, requests: Sequence[PostingRequest], *,
                        by: str) -> list[PostingOutcome]:
        """Post a batch in one transaction; each line succeeds or is refused on its own."""
        outcomes = []
        async with self._uows() as uow:
            for request in requests:
                try:
                    posting, changed = await self._post(
                        uow, request.number, check_ledger_ref(request.ledger_ref), by)
                except DomainError as error:
                    outcomes.append(PostingOutcome(request.number, None, error=error.code))
                else:
                    outcomes.append(PostingOutcome(request.number, posting, changed))
            await uow.commit()
        return outcomes

    async def _post(self, uow: UnitOfWork, number: str, ledger_ref: str,
                    by: str) -> tuple[Posting, bool]:
        state = await uow.ledger.posting_state(number)
        done = existing_posting(state, ledger_ref)
        if done is not None:
            return done, False
        now = self._clock.now()
        if not await uow.ledger.mark_posted(state.claim_id, ledger_ref, now):
            # Another request posted it first: answer as if this one came second.
            done = existing_posting(await uow.ledger.posting_state(number), ledger_ref)
            if done is None:
                raise DomainError("claim_not_approved")
            return done, False
        await uow.ledger.add_event(state.claim_id, ClaimAction.POSTED, now,
                                   {"ledger_ref": ledger_ref, "token": by})
        return Posting(state.number, ledger_ref, now), True
