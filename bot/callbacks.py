"""Callback data: what every inline button carries, encoded and decoded in one place.

One small frozen dataclass per kind of button, with a fixed prefix and typed fields:
``ApproveClaim(7, 2).encode() == "apv:a:7:2"`` and ``decode("apv:a:7:2") == ApproveClaim(7, 2)``.
The data is `prefix:field:field…`; only a kind's last field may hold a colon (quiet hours,
22:00-08:00). Callback data can be forged by a client, so `decode` returns None for anything
a button of ours never carries: another prefix, a field too many or too few, a word where a
number goes, an id outside 1..2^31-1, an impossible date, an unknown choice, over 64 bytes.
A decoded press is well-formed, nothing more: the services still re-check who may do what.

The wire format is the one the buttons had before this module, so buttons on messages sent
by an earlier version keep working.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, time
from typing import Any, ClassVar, NamedTuple, Self

from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.drafts import DraftStep
from core.domain.expenses.stats import StatusFilter
from core.domain.period import Period, PeriodError
from core.domain.schedule.calendar import Month
from core.domain.schedule.execution import ItemOutcome
from core.expenses.export import ExportFormat

MAX_BYTES = 64  # Telegram's limit for a button's callback data


class Invalid(ValueError):
    """A field's text is not what a button of ours carries there."""


# Field codecs: a field's text <-> its value -----------------------------------------------

class Codec:
    """How one field is written in callback data; `read` raises Invalid for anything else."""

    def read(self, text: str) -> Any:
        raise NotImplementedError

    def write(self, value: Any) -> str:
        raise NotImplementedError

    def writes(self, value: Any) -> str:
        """The value's text, refused unless reading it gives the value back."""
        text = self.write(value)
        if self.read(text) != value:
            raise Invalid(f"{value!r} cannot be carried by a button")
        return text


@dataclass(frozen=True)
class Number(Codec):
    """A whole number from `low` to `high`, in plain ASCII digits (no sign for 0, no zeros
    in front: the text of a number is one text)."""

    low: int
    high: int
    _PATTERN: ClassVar[re.Pattern[str]] = re.compile(r"0|-?[1-9][0-9]{0,19}")

    def read(self, text: str) -> int:
        if not self._PATTERN.fullmatch(text):
            raise Invalid(text)
        value = int(text)
        if not self.low <= value <= self.high:
            raise Invalid(text)
        return value

    def write(self, value: int) -> str:
        if type(value) is not int:
            raise Invalid(repr(value))
        return str(value)


@dataclass(frozen=True)
class Day(Codec):
    """A calendar date: 20261126, or 2026-11-26 where the button always had dashes."""

    dashed: bool = False

    def read(self, text: str) -> date:
        pattern = r"([0-9]{4})-([0-9]{2})-([0-9]{2})" if self.dashed else \
            r"([0-9]{4})([0-9]{2})([0-9]{2})"
        match = re.fullmatch(pattern, text)
        if match is None:
            raise Invalid(text)
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise Invalid(text) from None

    def write(self, value: date) -> str:
        if type(value) is not date:
            raise Invalid(repr(value))
        sep = "-" if self.dashed else ""
        return f"{value.year:04d}{sep}{value.month:02d}{sep}{value.day:02d}"


class MonthCodec(Codec):
    """A month of the calendar: 202611."""

    def read(self, text: str) -> Month:
        match = re.fullmatch(r"([0-9]{4})([0-9]{2})", text)
        if match is None or int(match[1]) < 1 or not 1 <= int(match[2]) <= 12:
            raise Invalid(text)
        return Month(int(match[1]), int(match[2]))

    def write(self, value: Month) -> str:
        return f"{value.year:04d}{value.month:02d}"


class ClockTime(Codec):
    """A time of day to the minute, without the colon: 0930."""

    def read(self, text: str) -> time:
        match = re.fullmatch(r"([0-9]{2})([0-9]{2})", text)
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            raise Invalid(text)
        return time(int(match[1]), int(match[2]))

    def write(self, value: time) -> str:
        return f"{value.hour:02d}{value.minute:02d}"


class PeriodCodec(Codec):
    """A statistics period by its label: 2026-11, 2026-Q4, 2026."""

    def read(self, text: str) -> Period:
        if not re.fullmatch(r"[0-9]{4}(?:-[0-9]{2}|-Q[1-4])?", text):
            raise Invalid(text)
        try:
            return Period.parse(text)
        except PeriodError:
            raise Invalid(text) from None

    def write(self, value: Period) -> str:
        return value.label


@dataclass(frozen=True)
class Word(Codec):
    """Text matching a pattern (a configured key: a stage, a category); never a colon unless
    the pattern allows one, and then only in a kind's last field."""

    pattern: str

    def read(self, text: str) -> str:
        if not re.fullmatch(self.pattern, text, flags=re.ASCII):
            raise Invalid(text)
        return text

    def write(self, value: str) -> str:
        if type(value) is not str:
            raise Invalid(repr(value))
        return value


@dataclass(frozen=True)
class Choice(Codec):
    """One of a fixed set of values, each written as its short text."""

    values: Mapping[str, Any]

    def read(self, text: str) -> Any:
        if text not in self.values:
            raise Invalid(text)
        return self.values[text]

    def write(self, value: Any) -> str:
        for text, known in self.values.items():
            if known == value and type(known) is type(value):
                return text
        raise Invalid(repr(value))


@dataclass(frozen=True)
class OrNone(Codec):
    """A value or None, None written as `none` (which the value's codec never reads)."""

    codec: Codec
    none: str = "-"

    def read(self, text: str) -> Any:
        return None if text == self.none else self.codec.read(text)

    def write(self, value: Any) -> str:
        return self.none if value is None else self.codec.write(value)


class BudgetUnit(NamedTuple):
    """What a claim is charged to: a department, a project or a person, by id."""

    kind: UnitKind
    unit_id: int


ID = Number(1, 2**31 - 1)  # a row of ours
TELEGRAM_ID = Number(1, 10**15 - 1)  # a Telegram user: more than 32 bits
PAGE = Number(0, 9_999)
INBOX_PAGE = Number(0, 999_999)
VERSION = Number(0, 2**31 - 1)
INDEX = Number(0, 9_999)
RATING = Number(-999, 999)  # the service says why 0 or 6 is not a rating
DAY = Day()
DASHED_DAY = Day(dashed=True)
MONTH = MonthCodec()
CLOCK = ClockTime()
PERIOD = PeriodCodec()
STAGE = Word(r"[a-z][a-z0-9_]{0,15}")  # as core.config's pipeline stages
CATEGORY = Word(r"[a-z][a-z0-9_]{0,31}")  # as core.config's expense categories
LANGUAGE = Word(r"[A-Za-z][A-Za-z_-]{0,15}")  # the handler says which ones exist
WINDOW = Word(r"[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}")  # the service checks the times
STATUS = Choice({s.value: s for s in StatusFilter})
EXPORT_FORMAT = Choice({"x": ExportFormat.XLSX, "c": ExportFormat.CSV})
LOGGED = Choice({"d": ItemOutcome.DONE, "n": ItemOutcome.NOT_DONE})
DRAFT_STEP = Choice({step.value: step for step in (
    DraftStep.AMOUNT, DraftStep.CATEGORY, DraftStep.DATE, DraftStep.UNIT,
    DraftStep.DESCRIPTION, DraftStep.RECEIPT, DraftStep.SUMMARY)})
OPPORTUNITY_FIELD = Choice({"a": "a", "d": "d", "n": "n"})  # amount, close date, note
_UNIT_LETTERS = {"d": UnitKind.DEPARTMENT, "p": UnitKind.PROJECT, "m": UnitKind.MEMBER}


class UnitCodec(Codec):
    """A budget unit: its kind's letter and its id, d12 (department 12)."""

    def read(self, text: str) -> BudgetUnit:
        if not text or text[0] not in _UNIT_LETTERS:
            raise Invalid(text)
        return BudgetUnit(_UNIT_LETTERS[text[0]], ID.read(text[1:]))

    def write(self, value: BudgetUnit) -> str:
        if not isinstance(value, BudgetUnit):
            raise Invalid(repr(value))
        letter = next((k for k, kind in _UNIT_LETTERS.items() if kind == value.kind), None)
        if letter is None:
            raise Invalid(repr(value))
        return letter + ID.write(value.unit_id)


UNIT = UnitCodec()


# The kinds ---------------------------------------------------------------------------------

class Callback:
    """A kind of button's data. Subclasses are frozen dataclasses registered with @button."""

    prefix: ClassVar[str]
    codecs: ClassVar[tuple[Codec, ...]]

    def encode(self) -> str:
        parts = [self.prefix]
        parts += [codec.writes(getattr(self, f.name))
                  for codec, f in zip(self.codecs, fields(self), strict=True)]
        data = ":".join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise Invalid(f"{data!r} is longer than {MAX_BYTES} bytes")
        return data

    @classmethod
    def read(cls, data: object) -> Self | None:
        """This kind's press the data stands for; None when it is not one."""
        if not _fits(data):
            return None
        if not cls.codecs:
            return cls() if data == cls.prefix else None
        if not data.startswith(cls.prefix + ":"):
            return None
        texts = data[len(cls.prefix) + 1:].split(":", len(cls.codecs) - 1)
        if len(texts) != len(cls.codecs):
            return None
        try:
            return cls(*(codec.read(text) for codec, text in zip(cls.codecs, texts, strict=True)))
        except Invalid:
            return None

    @classmethod
    def matches(cls, data: object) -> bool:
        """For CallbackQueryHandler(pattern=...): is the data a press of this kind?"""
        return cls.read(data) is not None

    @classmethod
    def of(cls, update: Any) -> Self:
        """The press of a callback query its handler matched with `matches`."""
        press = cls.read(update.callback_query.data)
        if press is None:
            raise Invalid(f"{update.callback_query.data!r} is no {cls.__name__}")
        return press


def _fits(data: object) -> bool:
    """Text Telegram could carry as a button's data (a lone surrogate is no UTF-8)."""
    try:
        return isinstance(data, str) and len(data.encode()) <= MAX_BYTES
    except UnicodeEncodeError:
        return False


KINDS: list[type[Callback]] = []
_BY_HEAD: dict[str, list[type[Callback]]] = {}


def button(prefix: str, *codecs: Codec) -> Callable[[type[Callback]], type[Callback]]:
    """Register a kind: its prefix and one codec per dataclass field, in order."""

    def register(kind: type[Callback]) -> type[Callback]:
        if len(fields(kind)) != len(codecs):
            raise TypeError(f"{kind.__name__}: {len(codecs)} codecs for {len(fields(kind))} fields")
        kind.prefix, kind.codecs = prefix, codecs
        KINDS.append(kind)
        _BY_HEAD.setdefault(prefix.split(":")[0], []).append(kind)
        return kind

    return register


def decode(data: object) -> Callback | None:
    """The press a button's data stands for; None for anything malformed or forged."""
    if not isinstance(data, str):
        return None
    for kind in _BY_HEAD.get(data.split(":", 1)[0], ()):
        if (press := kind.read(data)) is not None:
            return press
    return None


def any_of(*kinds: type[Callback]) -> Callable[[object], bool]:
    """A pattern matching a press of any of the kinds."""
    return lambda data: any(kind.matches(data) for kind in kinds)


# /language

@button("lang", LANGUAGE)
@dataclass(frozen=True)
class ChooseLanguage(Callback):
    code: str


# /calendar and /team

@button("cal:m", ID, MONTH)
@dataclass(frozen=True)
class CalendarMonth(Callback):
    member_id: int
    month: Month


@button("cal:d", ID, DAY)
@dataclass(frozen=True)
class CalendarDay(Callback):
    member_id: int
    day: date


@button("cal:p", ID, DAY)
@dataclass(frozen=True)
class CalendarPhotos(Callback):
    member_id: int
    day: date


@button("cal:x")
@dataclass(frozen=True)
class CalendarLabel(Callback):
    """A title, a weekday or a blank in the month: no action."""


@button("team:l")
@dataclass(frozen=True)
class TeamList(Callback):
    """« Team, under someone's calendar: the list's first page."""


@button("team:l", PAGE)
@dataclass(frozen=True)
class TeamPage(Callback):
    page: int


@button("team:r", ID, DAY)
@dataclass(frozen=True)
class AskRating(Callback):
    member_id: int
    day: date


@button("team:s", ID, DAY, RATING)
@dataclass(frozen=True)
class RateLog(Callback):
    member_id: int
    day: date
    rating: int


# /budget

@button("bud:p", OrNone(PERIOD), PAGE)
@dataclass(frozen=True)
class BudgetPage(Callback):
    period: Period | None  # None: the budgets running today
    page: int


# /goals

@button("goal:p", OrNone(PERIOD), PAGE)
@dataclass(frozen=True)
class GoalsPage(Callback):
    period: Period | None  # None: the periods running today
    page: int


# /stats and /export

@button("sta", PERIOD, STATUS)
@dataclass(frozen=True)
class StatsView(Callback):
    period: Period
    status: StatusFilter


@button("xpt", PERIOD, STATUS, EXPORT_FORMAT)
@dataclass(frozen=True)
class ExportFile(Callback):
    period: Period
    status: StatusFilter
    form: ExportFormat


@button("xpt:k", STATUS, EXPORT_FORMAT)
@dataclass(frozen=True)
class ExportChoice(Callback):
    status: StatusFilter
    form: ExportFormat


# /inbox

@button("inbox:p", INBOX_PAGE)
@dataclass(frozen=True)
class InboxPage(Callback):
    page: int


@button("inbox:o", ID, INBOX_PAGE)
@dataclass(frozen=True)
class OpenNotification(Callback):
    notification_id: int
    page: int  # the list's page, for the way back


# /bindgroup

@button("grp:bind", ID, TELEGRAM_ID)
@dataclass(frozen=True)
class BindGroup(Callback):
    department_id: int
    asker_id: int  # the Telegram id of who sent /bindgroup: only they may choose


# /reminders

@button("rem:pause")
@dataclass(frozen=True)
class PauseReminders(Callback):
    pass


@button("rem:resume")
@dataclass(frozen=True)
class ResumeReminders(Callback):
    pass


@button("rem:q", OrNone(WINDOW, none="off"))
@dataclass(frozen=True)
class QuietHours(Callback):
    window: str | None  # 22:00-08:00; None: no quiet hours


@button("rem:ask")
@dataclass(frozen=True)
class AskQuietHours(Callback):
    pass


# Check-ins

@button("ci:c", ID, ID)
@dataclass(frozen=True)
class ChooseCustomer(Callback):
    check_in_id: int
    customer_id: int


@button("ci:d", ID, ID)
@dataclass(frozen=True)
class ChooseDeal(Callback):
    check_in_id: int
    opportunity_id: int


@button("ci:u", ID)
@dataclass(frozen=True)
class LeaveUnassigned(Callback):
    check_in_id: int


@button("ci:o")
@dataclass(frozen=True)
class CheckOutVisit(Callback):
    pass


@button("ci:pa", ID)
@dataclass(frozen=True)
class AttachPhoto(Callback):
    photo_id: int


@button("ci:px", ID)
@dataclass(frozen=True)
class DiscardPhoto(Callback):
    photo_id: int


# Approvals

@button("apv:a", ID, VERSION)
@dataclass(frozen=True)
class ApproveClaim(Callback):
    claim_id: int
    version: int


@button("apv:r", ID, VERSION)
@dataclass(frozen=True)
class RejectClaim(Callback):
    claim_id: int
    version: int


@button("apv:d", ID)
@dataclass(frozen=True)
class ClaimDetails(Callback):
    claim_id: int


# /claims and /trip

@button("exp:l", PAGE)
@dataclass(frozen=True)
class ClaimsPage(Callback):
    page: int


@button("exp:i", ID)
@dataclass(frozen=True)
class ShowClaim(Callback):
    claim_id: int


@button("exp:w", ID)
@dataclass(frozen=True)
class WithdrawClaim(Callback):
    claim_id: int


@button("exp:ts", ID)
@dataclass(frozen=True)
class SubmitTrip(Callback):
    trip_id: int


# /expense: each button names the draft it acts on

@button("exp:new")
@dataclass(frozen=True)
class NewClaim(Callback):
    """🆕 New claim, instead of continuing the draft."""


@button("exp:new", ID)
@dataclass(frozen=True)
class NewClaimFor(Callback):
    """🧾 File an expense, on an opportunity's card."""

    opportunity_id: int


@button("exp:c", ID, CATEGORY)
@dataclass(frozen=True)
class ClaimCategory(Callback):
    claim_id: int
    category: str


@button("exp:d", ID, DAY)
@dataclass(frozen=True)
class ClaimDate(Callback):
    claim_id: int
    day: date


@button("exp:u", ID, UNIT)
@dataclass(frozen=True)
class ClaimUnit(Callback):
    claim_id: int
    unit: BudgetUnit


@button("exp:o", ID, OrNone(ID))
@dataclass(frozen=True)
class ClaimOpportunity(Callback):
    claim_id: int
    opportunity_id: int | None  # None: no opportunity


@button("exp:n", ID)
@dataclass(frozen=True)
class SkipDescription(Callback):
    claim_id: int


@button("exp:r", ID)
@dataclass(frozen=True)
class SkipReceipt(Callback):
    claim_id: int


@button("exp:s", ID)
@dataclass(frozen=True)
class SubmitClaim(Callback):
    claim_id: int


@button("exp:v", ID)
@dataclass(frozen=True)
class SaveDraft(Callback):
    claim_id: int


@button("exp:e", ID)
@dataclass(frozen=True)
class EditDraft(Callback):
    claim_id: int


@button("exp:f", ID, DRAFT_STEP)
@dataclass(frozen=True)
class EditDraftField(Callback):
    claim_id: int
    step: DraftStep  # SUMMARY: back to the summary


@button("exp:x", ID)
@dataclass(frozen=True)
class DiscardDraft(Callback):
    claim_id: int


@button("exp:k", ID)
@dataclass(frozen=True)
class ContinueDraft(Callback):
    claim_id: int


@button("exp:a", ID, ID)
@dataclass(frozen=True)
class AddToTrip(Callback):
    claim_id: int
    trip_id: int


# /opps: the list and the card

@button("opp:v", ID, PAGE)
@dataclass(frozen=True)
class OpenOpportunity(Callback):
    opportunity_id: int
    page: int = 0  # of its timeline


@button("opp:l", OrNone(STAGE), PAGE)
@dataclass(frozen=True)
class OpportunitiesPage(Callback):
    stage: str | None  # None: every stage
    page: int


@button("opp:s", ID)
@dataclass(frozen=True)
class StageButtons(Callback):
    opportunity_id: int


@button("opp:g", ID, STAGE, STAGE)
@dataclass(frozen=True)
class MoveStage(Callback):
    opportunity_id: int
    from_stage: str  # the stage the presser saw
    to_stage: str


@button("opp:e", ID, OPPORTUNITY_FIELD)
@dataclass(frozen=True)
class AskOpportunityEdit(Callback):
    opportunity_id: int
    field: str  # a amount, d expected close date, n a note


@button("opp:p", ID)
@dataclass(frozen=True)
class OpportunityPhotos(Callback):
    opportunity_id: int


# /opp: a new opportunity's draft

@button("opp:c", OrNone(ID, none="new"))
@dataclass(frozen=True)
class OppCustomer(Callback):
    customer_id: int | None  # None: a new customer


@button("opp:site")
@dataclass(frozen=True)
class OppUseLocation(Callback):
    pass


@button("opp:w", DAY)
@dataclass(frozen=True)
class OppCloseDate(Callback):
    day: date


@button("opp:k", STAGE)
@dataclass(frozen=True)
class OppStage(Callback):
    stage: str


@button("opp:x")
@dataclass(frozen=True)
class OppCancel(Callback):
    pass


# /plan

@button("plan:d", DAY)
@dataclass(frozen=True)
class PlanForDay(Callback):
    day: date


@button("plan:new", DASHED_DAY)
@dataclass(frozen=True)
class PlanReminder(Callback):
    """🗓 Write the plan, on a plan reminder."""

    day: date


@button("plan:v", ID)
@dataclass(frozen=True)
class PlanVisit(Callback):
    opportunity_id: int


@button("plan:c", OrNone(ID))
@dataclass(frozen=True)
class PlanCustomer(Callback):
    customer_id: int | None  # None: no customer


@button("plan:o", ID)
@dataclass(frozen=True)
class PlanOpportunity(Callback):
    opportunity_id: int


@button("plan:t", OrNone(CLOCK))
@dataclass(frozen=True)
class PlanTime(Callback):
    at: time | None  # None: no set time


@button("plan:e", ID)
@dataclass(frozen=True)
class EditPlanItem(Callback):
    item_id: int


@button("plan:r", ID)
@dataclass(frozen=True)
class DeletePlanItem(Callback):
    item_id: int


@button("plan:u", INDEX)
@dataclass(frozen=True)
class DropNewItem(Callback):
    index: int  # in the draft's new items


@button("plan:s")
@dataclass(frozen=True)
class SavePlan(Callback):
    pass


@button("plan:x")
@dataclass(frozen=True)
class CancelPlan(Callback):
    pass


# /log

@button("log:open", DASHED_DAY)
@dataclass(frozen=True)
class OpenLog(Callback):
    """📝 Write the log, on a log reminder."""

    day: date


@button("log:o", ID, LOGGED)
@dataclass(frozen=True)
class MarkItem(Callback):
    item_id: int
    outcome: ItemOutcome  # done or not done


@button("log:mv", ID)
@dataclass(frozen=True)
class AskMoveDay(Callback):
    item_id: int


@button("log:m", ID, DAY)
@dataclass(frozen=True)
class MoveItem(Callback):
    item_id: int
    day: date


@button("log:a", DAY)
@dataclass(frozen=True)
class AddUnplanned(Callback):
    day: date


@button("log:b", DAY)
@dataclass(frozen=True)
class BackToLog(Callback):
    day: date


@button("log:f", DAY)
@dataclass(frozen=True)
class FinishLog(Callback):
    day: date
