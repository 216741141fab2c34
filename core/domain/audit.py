"""The audit trail of records people edit in place: budgets and opportunities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

BUDGET = "budget"
OPPORTUNITY = "opportunity"


@dataclass(frozen=True)
class RecordChange:
    """One field of one record changed: who, when, from what to what (values as text)."""

    subject_type: str  # BUDGET, OPPORTUNITY
    subject_id: int
    field: str  # "amount", "policy", "expected_close", "title", ...
    old: str | None  # None: the record had no value (it was created)
    new: str | None
    changed_by: int | None
    at: datetime
    id: int | None = None


def changes_between(subject_type: str, subject_id: int, before: Mapping[str, str | None],
                    after: Mapping[str, str | None], *, by: int | None,
                    at: datetime) -> list[RecordChange]:
    """One change for each field of `after` whose value is not the one in `before`."""
    return [RecordChange(subject_type, subject_id, field, before.get(field), value, by, at)
            for field, value in after.items() if before.get(field) != value]
