"""What the API reads and writes, as pydantic models: they make the OpenAPI document.

Pages of claims are written straight from the database's rows, without these models (see
app.py); a test checks that what is served matches these schemas.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.domain.errors import DomainError
from core.domain.expenses.finance import LEDGER_REF_MAX, LEDGER_REF_PATTERN, check_ledger_ref

# [0-9], not \d: Python's \d also matches other scripts' digits, ECMA-262's does not.
AMOUNT_PATTERN = r"^[0-9]+\.[0-9]{2}$"
NUMBER_PATTERN = r"^EXP-[0-9]{4}-[0-9]{6,12}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
MAX_BATCH = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Person(_Model):
    key: str
    name: str


class Unit(_Model):
    kind: Literal["department", "project", "member"]
    key: str
    name: str


class Claim(_Model):
    number: str = Field(pattern=NUMBER_PATTERN, examples=["EXP-2026-000123"])
    id: int
    member: Person
    department: str = Field(description="The claimant's department key when submitted.")
    amount: str = Field(pattern=AMOUNT_PATTERN, examples=["1234.50"],
                        description="Exact decimal amount as a string (never a float).")
    currency: str = Field(examples=["CNY"])
    category: str | None
    spent_on: date | None
    unit: Unit | None = Field(description="The accounting unit the claim is charged to.")
    opportunity_id: int | None
    description: str
    submitted_at: datetime | None = Field(description="UTC, ISO 8601.")
    decided_at: datetime = Field(description="When the last approval was given (UTC).")
    posted_at: datetime | None
    ledger_ref: str | None
    receipt_count: int


class ClaimPage(_Model):
    claims: list[Claim]
    next_cursor: str = Field(description=(
        "Pass it as `cursor` to get the claims approved after this page. Always present: "
        "save it and poll with it later. Valid for 24 hours."))
    has_more: bool = Field(description="Whether more claims are ready right now.")


class Receipt(_Model):
    sha256: str
    size: int
    width: int
    height: int
    url: str = Field(description="The image, under the same bearer token.")


class HistoryLine(_Model):
    action: str = Field(examples=["approved"])
    actor: Person | None = Field(description="None when the system acted.")
    at: datetime


class ClaimRecord(Claim):
    receipts: list[Receipt]
    history: list[HistoryLine]


def _ledger_ref(value: str) -> str:
    try:
        return check_ledger_ref(value)
    except DomainError:
        raise ValueError("1-100 printable characters, no spaces around") from None


class PostingIn(_Model):
    # The pattern is published for clients; check_ledger_ref applies the same rule.
    ledger_ref: str = Field(min_length=1, max_length=LEDGER_REF_MAX,
                            json_schema_extra={"pattern": LEDGER_REF_PATTERN},
                            examples=["记-2026-0042"], description=(
                                "The finance system's reference of the booking: visible "
                                "characters and inner spaces (no control, line-break or "
                                "invisible formatting characters)."))

    _check = field_validator("ledger_ref")(_ledger_ref)


class Posting(_Model):
    number: str = Field(pattern=NUMBER_PATTERN)
    ledger_ref: str
    posted_at: datetime


class BatchLine(PostingIn):
    number: str = Field(pattern=NUMBER_PATTERN, examples=["EXP-2026-000123"])


class BatchIn(_Model):
    postings: list[BatchLine] = Field(min_length=1, max_length=MAX_BATCH)


class BatchResult(_Model):
    number: str = Field(pattern=NUMBER_PATTERN)
    status: Literal["posted", "unchanged", "not_found", "not_approved", "conflict"]
    posting: Posting | None = Field(description="Present for posted and unchanged lines.")


class BatchOut(_Model):
    results: list[BatchResult]


class Error(_Model):
    error: str = Field(examples=["claim_not_approved"])
    message: str
    fields: list[str] | None = Field(default=None,
                                     description="With 422: the fields that were refused.")
    ledger_ref: str | None = Field(default=None,
                                   description="With 409: the reference already posted.")
