"""Every message the bot can say exists in English and Chinese, with the same placeholders."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from functools import cache

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, Translator, catalog_path
from bot.i18n_catalogs import extract

Msgid = str | tuple[str, ...]
_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)[^>]*>")


@cache
def used_in_code() -> dict[Msgid, list[tuple[str, int]]]:
    return extract()


@cache
def catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as handle:
        return read_po(handle, locale=language)


def key(msgid: Msgid) -> str:
    return msgid[0] if isinstance(msgid, tuple | list) else msgid


def forms(text: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if text is None:
        return []
    return list(text) if isinstance(text, tuple | list) else [text]


def placeholders(text: str) -> set[str]:
    """Names in {braces}, as str.format sees them; malformed braces raise ValueError."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def tags(text: str) -> Counter[str]:
    return Counter(f"<{close}{name.lower()}>" for close, name in _TAG.findall(text))


# Each finder returns the offending msgids, described; an empty list means all is well.


def untranslated(book: Catalog, used: Iterable[Msgid]) -> list[str]:
    by_id = {key(m.id): m for m in book if m.id}
    problems = []
    for msgid in used:
        message = by_id.get(key(msgid))
        strings = forms(message.string) if message else []
        if not strings or not all(s.strip() for s in strings):
            problems.append(repr(msgid))
    return problems


def unused(book: Catalog, used: Iterable[Msgid]) -> list[str]:
    wanted = {key(msgid) for msgid in used}
    problems = [repr(m.id) for m in book if m.id and key(m.id) not in wanted]
    problems += [f"{msgid!r} (obsolete #~ entry)" for msgid in book.obsolete]
    return problems


def placeholder_mismatches(book: Catalog) -> list[str]:
    problems = []
    for message in book:
        if not message.id:
            continue
        try:
            # A plural form may leave out {n} where the number is implied.
            expected = set().union(*(placeholders(s) for s in forms(message.id))) | {"n"}
            for text in forms(message.string):
                if text and placeholders(text) | {"n"} != expected:
                    problems.append(f"{message.id!r}: {text!r}")
        except ValueError as error:
            problems.append(f"{message.id!r}: malformed braces ({error})")
    return problems


def tag_mismatches(book: Catalog) -> list[str]:
    problems = []
    for message in book:
        if not message.id:
            continue
        expected = tags(forms(message.id)[0])
        problems += [f"{message.id!r}: {text!r}" for text in forms(message.string)
                     if text and tags(text) != expected]
    return problems


def describe(what: str, problems: list[str]) -> str:
    return f"{what}:\n  " + "\n  ".join(problems)


# The shipped catalogs.


def test_the_source_has_messages_to_translate():
    messages = used_in_code()
    assert "❓ Help" in messages
    assert len(messages) >= 10


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_in_the_code_is_translated(language):
    problems = untranslated(catalog(language), used_in_code())
    assert not problems, describe(f"untranslated in {language}", problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_catalog_keeps_a_message_the_code_no_longer_uses(language):
    problems = unused(catalog(language), used_in_code())
    assert not problems, describe(f"no longer used, still in {language}", problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language):
    problems = placeholder_mismatches(catalog(language))
    assert not problems, describe(f"placeholders differ in {language}", problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_html_tags(language):
    problems = tag_mismatches(catalog(language))
    assert not problems, describe(f"HTML tags differ in {language}", problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_in_the_code_formats_in_every_language(language):
    translate = Translator(language)
    broken = []
    for msgid in used_in_code():
        if isinstance(msgid, tuple):
            continue
        try:
            translate(msgid, **dict.fromkeys(placeholders(msgid), "x"))
        except (KeyError, IndexError, ValueError) as error:
            broken.append(f"{msgid!r}: {error!r}")
    assert not broken, describe(f"cannot be formatted in {language}", broken)


def test_the_chinese_menu_is_not_english():
    assert Translator("en")("❓ Help") == "❓ Help"
    assert Translator("zh_Hans")("❓ Help") != Translator("en")("❓ Help")


# The checks themselves catch what they are for.


def broken_catalog() -> Catalog:
    book = Catalog(locale="zh_Hans")
    book.add("Hello, <b>{name}</b>!", "你好，<b>{name}</b>！")
    book.add("Missing", "")
    book.add("Dropped {name}", "丢了")
    book.add("Renamed {department}", "改名 {dept}")
    book.add("Broken brace {name}", "坏 {name")
    book.add("Unclosed <b>tag</b>", "没关 <b>标签")
    book.add("Gone from the code", "已删除")
    book.add(("{n} visit", "{n} visits"), ("{n} 次拜访",))
    book.add(("One visit", "{n} visits"), ("次拜访",))
    return book


def test_the_checks_name_each_offending_message():
    book = broken_catalog()
    used = ["Hello, <b>{name}</b>!", "Missing", "Dropped {name}", "Renamed {department}",
            "Broken brace {name}", "Unclosed <b>tag</b>", "Not in the catalog",
            ("{n} visit", "{n} visits"), ("One visit", "{n} visits")]
    assert untranslated(book, used) == ["'Missing'", "'Not in the catalog'"]
    assert unused(book, used) == ["'Gone from the code'"]
    wrong_placeholders = placeholder_mismatches(book)
    assert [p.split(":")[0] for p in wrong_placeholders] == [
        "'Dropped {name}'", "'Renamed {department}'", "'Broken brace {name}'"]
    assert [p.split(":")[0] for p in tag_mismatches(book)] == ["'Unclosed <b>tag</b>'"]
