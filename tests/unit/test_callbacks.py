"""Callback data: every kind of button round-trips, stays within 64 bytes, and anything
forged decodes to nothing (or to a well-formed press), never to an error."""

from __future__ import annotations

import itertools
import re
from datetime import date, time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import callbacks
from bot.callbacks import (
    KINDS,
    MAX_BYTES,
    AddToTrip,
    ApproveClaim,
    BindGroup,
    BudgetPage,
    BudgetUnit,
    CalendarLabel,
    CalendarMonth,
    Callback,
    Choice,
    ChooseLanguage,
    ClaimUnit,
    ClockTime,
    Codec,
    Day,
    EditDraftField,
    ExportChoice,
    ExportFile,
    GoalsPage,
    Invalid,
    MarkItem,
    MonthCodec,
    Number,
    OpenLog,
    OpenOpportunity,
    OppCustomer,
    OpportunitiesPage,
    OrNone,
    PeriodCodec,
    PlanReminder,
    PlanTime,
    QuietHours,
    RateLog,
    StatsView,
    TeamList,
    TeamPage,
    UnitCodec,
    Word,
    decode,
)
from core.domain.expenses.budgets import UnitKind
from core.domain.expenses.drafts import DraftStep
from core.domain.expenses.stats import StatusFilter
from core.domain.period import Period
from core.domain.schedule.calendar import Month
from core.domain.schedule.execution import ItemOutcome
from core.expenses.export import ExportFormat

BOT = Path(__file__).resolve().parents[2] / "bot"


def _longest(pattern: str) -> str:
    """The pattern with every {m,n} repeat at its most: the longest texts it allows."""
    return re.sub(r"\{\d+,(\d+)\}", r"{\1}", pattern)


def values(codec: Codec) -> st.SearchStrategy:
    """Any value the codec carries, its extremes included."""
    if isinstance(codec, Number):
        return st.sampled_from([codec.low, codec.high]) | st.integers(codec.low, codec.high)
    if isinstance(codec, Day):
        return st.sampled_from([date.min, date.max]) | st.dates()
    if isinstance(codec, MonthCodec):
        return st.sampled_from([Month(1, 1), Month(9999, 12)]) | st.builds(
            Month, st.integers(1, 9999), st.integers(1, 12))
    if isinstance(codec, ClockTime):
        return st.builds(time, st.integers(0, 23), st.integers(0, 59))
    if isinstance(codec, PeriodCodec):
        year = st.integers(1, 9998)
        return st.one_of(
            year.map(lambda y: f"{y:04d}"),
            st.tuples(year, st.integers(1, 12)).map(lambda p: f"{p[0]:04d}-{p[1]:02d}"),
            st.tuples(year, st.integers(1, 4)).map(lambda p: f"{p[0]:04d}-Q{p[1]}"),
            st.sampled_from(["0001-01", "9998-12", "9998-Q4", "9998"]),
        ).map(Period.parse)
    if isinstance(codec, Word):
        return (st.from_regex(codec.pattern, fullmatch=True)
                | st.from_regex(_longest(codec.pattern), fullmatch=True))
    if isinstance(codec, Choice):
        return st.sampled_from(list(codec.values.values()))
    if isinstance(codec, OrNone):
        return st.none() | values(codec.codec)
    if isinstance(codec, UnitCodec):
        return st.builds(BudgetUnit, st.sampled_from(list(UnitKind)),
                         st.sampled_from([1, 2**31 - 1]) | st.integers(1, 2**31 - 1))
    raise AssertionError(f"no values for {codec!r}: add them here")


def presses(kind: type[Callback]) -> st.SearchStrategy:
    return st.builds(kind, *(values(codec) for codec in kind.codecs))


any_press = st.sampled_from(KINDS).flatmap(presses)


def test_every_kind_in_the_module_is_registered():
    defined = {value for value in vars(callbacks).values()
               if isinstance(value, type) and issubclass(value, Callback) and value is not Callback}
    assert defined == set(KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
@settings(max_examples=60)
@given(data=st.data())
def test_a_press_round_trips_within_64_bytes(kind, data):
    press = data.draw(presses(kind))
    encoded = press.encode()
    assert decode(encoded) == press
    assert kind.read(encoded) == press
    assert len(encoded.encode()) <= MAX_BYTES
    assert [k for k in KINDS if k.read(encoded) is not None] == [kind]


def _extremes(codec: Codec) -> list:
    if isinstance(codec, Number):
        return [codec.low, codec.high]
    if isinstance(codec, Day):
        return [date.min, date.max]
    if isinstance(codec, MonthCodec):
        return [Month(1, 1), Month(9999, 12)]
    if isinstance(codec, ClockTime):
        return [time(0, 0), time(23, 59)]
    if isinstance(codec, PeriodCodec):
        return [Period.parse("0001-01"), Period.parse("9998-Q4"), Period.parse("9998")]
    if isinstance(codec, Word):
        return [_expand(_longest(codec.pattern))]
    if isinstance(codec, Choice):
        return list(codec.values.values())
    if isinstance(codec, OrNone):
        return [None, *_extremes(codec.codec)]
    if isinstance(codec, UnitCodec):
        return [BudgetUnit(kind, 2**31 - 1) for kind in UnitKind]
    raise AssertionError(f"no extremes for {codec!r}: add them here")


def _expand(pattern: str) -> str:
    """The longest text of a pattern made of character classes, literals and {n} repeats,
    each class written as its first character (the widest one where classes allow it)."""
    text, i = "", 0
    while i < len(pattern):
        if pattern[i] == "[":
            end = pattern.index("]", i)
            piece, i = pattern[i + 1], end + 1
        elif pattern[i] == "\\":
            piece, i = pattern[i + 1], i + 2
        else:
            piece, i = pattern[i], i + 1
        if i < len(pattern) and pattern[i] == "{":
            end = pattern.index("}", i)
            piece, i = piece * int(pattern[i + 1:end]), end + 1
        text += piece
    return text


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_the_largest_values_fit_in_64_bytes(kind):
    for fields in itertools.product(*(_extremes(codec) for codec in kind.codecs)):
        press = kind(*fields)
        encoded = press.encode()
        assert len(encoded.encode()) <= MAX_BYTES, encoded
        assert decode(encoded) == press


def _decodes_safely(data: str) -> None:
    """None, or a well-formed press whose data is exactly this text (one text per press)."""
    press = decode(data)
    assert press is None or press.encode() == data


@settings(max_examples=500)
@given(st.text())
def test_any_text_decodes_to_nothing_or_a_well_formed_press(data):
    _decodes_safely(data)


@settings(max_examples=300)
@given(st.sampled_from(KINDS).flatmap(
    lambda kind: st.tuples(st.just(kind), st.text(alphabet=st.characters(), max_size=70))))
def test_a_kind_prefix_with_any_tail_decodes_safely(kind_and_tail):
    kind, tail = kind_and_tail
    _decodes_safely(kind.prefix + tail)
    _decodes_safely(kind.prefix + ":" + tail)


@settings(max_examples=300)
@given(any_press, st.integers(0, MAX_BYTES), st.sampled_from(KINDS))
def test_truncated_or_re_prefixed_data_decodes_safely(press, cut, other):
    encoded = press.encode()
    _decodes_safely(encoded[:cut])
    _decodes_safely(other.prefix + encoded[len(press.prefix):])
    _decodes_safely(encoded + ":1")
    _decodes_safely(encoded + "0")


@settings(max_examples=300)
@given(st.sampled_from([k for k in KINDS if k.codecs]).flatmap(
    lambda kind: st.tuples(presses(kind), st.integers(0, len(kind.codecs) - 1),
                           st.text(max_size=20))))
def test_a_forged_field_decodes_safely(forged):
    press, position, text = forged
    fields = press.encode()[len(press.prefix) + 1:].split(":", len(press.codecs) - 1)
    fields[position] = text
    _decodes_safely(":".join([press.prefix, *fields]))


@pytest.mark.parametrize("data", [
    "", ":", "apv", "apv:a", "apv:a:", "apv:a:1", "apv:a:1:2:3", "apv:a:x:1", "apv:a:0:1",
    "apv:a:2147483648:1", "apv:a:01:1", "apv:a:-1:1", "apv:a:²:1", "apv:a:１:1",
    "apv:a:99999999999999999999:1", "cal:d:1:20261301", "cal:d:1:20260230", "cal:m:1:202613",
    "cal:m:1:000012", "cal:x:1", "exp:u:1:x5", "exp:u:1:d0", "exp:f:1:opportunity",
    "exp:o:1:²", "lang:", "log:o:1:x", "log:open:20261120", "plan:new:2026-02-30",
    "plan:t:2400", "plan:t:9:30", "rem:q:tonight", "rem:pause:now", "sta:2026-13:c",
    "sta:2026-q4:c", "sta:9999:c", "sta:2026-11:z", "team:l:", "xpt:k:c:z",
    "opp:g:1:Proposal:won", "opp:c:x", "grp:bind:1:0", "exp:new:", "exp:c:1:" + "a" * 33,
    "apv:d:" + "1" * 70,
])
def test_malformed_or_forged_data_is_none(data):
    assert decode(data) is None


def test_no_two_kinds_share_a_prefix_ambiguously():
    for a, b in itertools.permutations(KINDS, 2):
        words_a, words_b = a.prefix.split(":"), b.prefix.split(":")
        assert not (words_a == words_b and len(a.codecs) == len(b.codecs)), (a, b)
        if len(words_a) < len(words_b) and words_b[:len(words_a)] == words_a:
            # b's data reads like a's with b's next prefix word in a's first field
            assert a.codecs, (a, b)
            with pytest.raises(Invalid):
                a.codecs[0].read(words_b[len(words_a)])


# The wire format of the buttons on messages already sent: unchanged.
WIRE = [
    (ApproveClaim(7, 2), "apv:a:7:2"),
    (CalendarMonth(3, Month(2026, 1)), "cal:m:3:202601"),
    (CalendarLabel(), "cal:x"),
    (TeamList(), "team:l"),
    (TeamPage(0), "team:l:0"),
    (RateLog(4, date(2026, 11, 26), 5), "team:s:4:20261126:5"),
    (StatsView(Period.parse("2026-11"), StatusFilter.APPROVED), "sta:2026-11:a"),
    (ExportFile(Period.parse("2026-Q4"), StatusFilter.COMMITTED, ExportFormat.XLSX),
     "xpt:2026-Q4:c:x"),
    (ExportChoice(StatusFilter.REJECTED, ExportFormat.CSV), "xpt:k:r:c"),
    (QuietHours("22:00-08:00"), "rem:q:22:00-08:00"),
    (QuietHours(None), "rem:q:off"),
    (BindGroup(2, 123456789012345), "grp:bind:2:123456789012345"),
    (ClaimUnit(5, BudgetUnit(UnitKind.PROJECT, 9)), "exp:u:5:p9"),
    (EditDraftField(3, DraftStep.SUMMARY), "exp:f:3:summary"),
    (AddToTrip(3, 8), "exp:a:3:8"),
    (OpenOpportunity(12), "opp:v:12:0"),
    (OpportunitiesPage(None, 0), "opp:l:-:0"),
    (OppCustomer(None), "opp:c:new"),
    (PlanReminder(date(2026, 11, 20)), "plan:new:2026-11-20"),
    (PlanTime(time(9, 0)), "plan:t:0900"),
    (PlanTime(None), "plan:t:-"),
    (OpenLog(date(2026, 11, 20)), "log:open:2026-11-20"),
    (MarkItem(4, ItemOutcome.NOT_DONE), "log:o:4:n"),
    (ChooseLanguage("zh_Hans"), "lang:zh_Hans"),
    (BudgetPage(None, 0), "bud:p:-:0"),
    (BudgetPage(Period.parse("2026-Q4"), 3), "bud:p:2026-Q4:3"),
    (GoalsPage(None, 2), "goal:p:-:2"),
]


@pytest.mark.parametrize(("press", "data"), WIRE, ids=[data for _, data in WIRE])
def test_the_wire_format_is_kept(press, data):
    assert press.encode() == data
    assert decode(data) == press


def test_a_value_no_button_can_carry_is_refused_when_encoding():
    for press in (ApproveClaim(0, 1), ApproveClaim(2**31, 1), PlanTime(time(9, 30, 15)),
                  CalendarMonth(1, Month(0, 12)), MarkItem(1, ItemOutcome.MOVED)):
        with pytest.raises(Invalid):
            press.encode()


def test_every_button_of_the_bot_builds_its_data_with_the_codec():
    # A string literal, an f-string, or text glued on with +.
    literal = re.compile(r"callback_data\s*=\s*[fbr]*[\"']"
                         r"|callback_data\s*=.*(?:[\"']\s*\+|\+\s*(?:[fbr]*[\"']|str\())")
    found = [f"{path.relative_to(BOT)}:{number}"
             for path in BOT.rglob("*.py") if "sandbox" not in path.parts
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if literal.search(line)]
    assert found == []
