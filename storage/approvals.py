"""(being written)"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


class SqlApprovalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
