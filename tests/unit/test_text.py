"""Typed text made safe to keep: pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.domain.text import clean_text


def test_control_characters_are_dropped():
    assert clean_text("a\x00b\x07c\x1bd\x7fe\x85f\x9fg") == "abcdefg"


def test_line_breaks_tabs_and_emoji_stay():
    assert clean_text("Visit\tHarbor\r\nthen Pudong\rok 👩‍💼 东") == (
        "Visit\tHarbor\nthen Pudong\nok 👩‍💼 东")


def test_a_lone_surrogate_is_dropped():
    assert clean_text("ok\ud800") == "ok"


@given(st.text())
def test_clean_text_can_always_be_stored_as_utf8(text):
    cleaned = clean_text(text)
    cleaned.encode("utf-8")
    assert "\x00" not in cleaned
    assert clean_text(cleaned) == cleaned
