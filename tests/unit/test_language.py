"""Which language a person is answered in."""

from __future__ import annotations

import pytest

from core.domain.org.language import from_app_language, pick_language


@pytest.mark.parametrize(("code", "language"), [
    ("zh-hans", "zh_Hans"),
    ("zh-CN", "zh_Hans"),
    ("zh-TW", "zh_Hans"),
    ("zh-hant", "zh_Hans"),
    ("zh", "zh_Hans"),
    ("zh_Hans", "zh_Hans"),
    ("en", "en"),
    ("en-US", "en"),
    ("EN-gb", "en"),
    ("de", None),
    ("ru", None),
    ("", None),
    (None, None),
])
def test_telegram_language_codes_map_to_spoken_languages(code, language):
    assert from_app_language(code) == language


def test_the_member_s_own_setting_wins():
    assert pick_language("zh_Hans", "en-US", "en") == "zh_Hans"
    assert pick_language("en", "zh-CN", "zh_Hans") == "en"


def test_without_a_setting_the_telegram_app_decides():
    assert pick_language(None, "zh-hans", "en") == "zh_Hans"
    assert pick_language(None, "en-US", "zh_Hans") == "en"


def test_an_unspoken_app_language_falls_back_to_the_org_default():
    assert pick_language(None, "de", "zh_Hans") == "zh_Hans"
    assert pick_language(None, None, "en") == "en"


def test_a_stored_setting_the_bot_no_longer_speaks_is_ignored():
    assert pick_language("fr", "zh-CN", "en") == "zh_Hans"
    assert pick_language("fr", None, "en") == "en"
