"""Who may act: the one check every use case starts with."""

from __future__ import annotations

from core.domain.errors import NotAllowed
from core.domain.org.model import Member
from core.ports import UnitOfWork


async def active_member(uow: UnitOfWork, account_id: int) -> Member:
    """The active member behind a messenger account; NotAllowed for anyone else."""
    member = await uow.members.by_account_id(account_id)
    if member is None or not member.active:
        raise NotAllowed("not_a_member")
    return member
