"""Who may act: the one check every use case starts with."""

from __future__ import annotations

from core.domain.errors import NotAllowed
from core.domain.org.model import Member
from core.ports import UnitOfWork


async def active_member(uow: UnitOfWork, telegram_id: int) -> Member:
    """The active member behind a Telegram account; NotAllowed for anyone else."""
    member = await uow.members.by_telegram_id(telegram_id)
    if member is None or not member.active:
        raise NotAllowed("not_a_member")
    return member
