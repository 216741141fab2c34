"""One-time invite links into a department."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.domain.errors import DomainError
from core.domain.org.model import Role

# A deep link's payload allows 1-64 characters of A-Z, a-z, 0-9, _ and -.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class InviteRefused(DomainError):
    """The invite cannot be used: `code` is invite_unknown, invite_used or invite_expired."""

    code = "invite_unknown"


def new_token() -> str:
    """A random token that fits a deep link into the messenger."""
    return secrets.token_urlsafe(24)


def token_digest(token: str) -> str:
    """Only the digest is stored, so a leaked database cannot be used to join."""
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(text: str) -> bool:
    return bool(_TOKEN_SHAPE.match(text))


@dataclass(frozen=True)
class Invite:
    id: int | None
    digest: str
    department_id: int
    created_by: int
    created_at: datetime
    expires_at: datetime
    roles: frozenset[Role] = frozenset({Role.REP})
    used_at: datetime | None = None
    used_by: int | None = None

    @classmethod
    def issue(
        cls, token: str, *, department_id: int, created_by: int, now: datetime, ttl: timedelta
    ) -> Invite:
        return cls(
            id=None,
            digest=token_digest(token),
            department_id=department_id,
            created_by=created_by,
            created_at=now,
            expires_at=now + ttl,
        )

    def check_usable(self, now: datetime) -> None:
        """Raise InviteRefused unless the invite can still be used at `now`."""
        if self.used_at is not None:
            raise InviteRefused("invite_used")
        if now >= self.expires_at:
            raise InviteRefused("invite_expired", expired_at=self.expires_at)

    def use(self, member_id: int, now: datetime) -> Invite:
        self.check_usable(now)
        return replace(self, used_at=now, used_by=member_id)
