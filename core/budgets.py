"""(being written)"""

from __future__ import annotations

from core.config import ExpensesConfig
from core.domain.org import OrgSettings
from core.ports import Clock, UnitOfWorkFactory


class BudgetService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 config: ExpensesConfig) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults
        self._config = config
