"""One translation layer: gettext catalogs (English, Simplified Chinese) read with Babel."""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).with_name("locales")
DOMAIN = "messages"
LANGUAGES = ("en", "zh_Hans")
LANGUAGE_NAMES = {"en": "English", "zh_Hans": "简体中文"}
# Telegram's set_my_commands takes ISO 639-1 codes.
TELEGRAM_CODES = {"en": "en", "zh_Hans": "zh"}


def N_(message: str) -> str:
    """Mark text for translation where it is defined; it is translated where it is shown."""
    return message


def catalog_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalog for a language (compiled in memory; no .mo files to keep)."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    with catalog_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """Text in one language: `t("Hello, {name}!", name=...)`."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._catalog = translations(language)

    def __call__(self, message: str, /, **values: object) -> str:
        text = self._catalog.gettext(message)
        return text.format(**values) if values else text

    def plural(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        return self._catalog.ngettext(singular, plural, n).format(n=n, **values)


def all_translations(message: str) -> set[str]:
    """The text in every language: for matching a reply-keyboard button someone pressed."""
    return {Translator(language)(message) for language in LANGUAGES}
