"""Refresh the catalogs from the source: `make i18n` (python -m bot.i18n_catalogs)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import LANGUAGES, catalog_path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("bot", "core", "web")
# `t(...)` translates, `N_(...)` marks, `t.plural(singular, plural, n)` counts.
KEYWORDS = {"t": None, "N_": None, "plural": (1, 2)}


def extract() -> dict[str, list[tuple[str, int]]]:
    """Every translatable message in the source, with where it is used."""
    found: dict[str, list[tuple[str, int]]] = {}
    for source in SOURCES:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / source, method_map=[("**.py", "python")], keywords=KEYWORDS,
            comment_tags=(), strip_comment_tags=True,
        ):
            found.setdefault(message, []).append((f"{source}/{filename}", lineno))
    return found


def refresh() -> None:
    """Add new messages to both catalogs (English filled with the source text), drop gone ones."""
    messages = extract()
    for language in LANGUAGES:
        path = catalog_path(language)
        old = read_po(path.open("rb"), locale=language) if path.exists() else Catalog()
        new = Catalog(locale=language, project="crmbot", fuzzy=False)
        for message, places in sorted(messages.items(), key=lambda m: str(m[0])):
            previous = old.get(message)
            string = previous.string if previous else ""
            if language == "en" and not string:
                string = message
            new.add(message, string, locations=places)
        with path.open("wb") as handle:
            write_po(handle, new, width=100, sort_output=True, include_lineno=False)
        missing = sum(1 for m in new if m.id and not m.string)
        print(f"{path}: {len(new)} messages, {missing} untranslated")


if __name__ == "__main__":
    refresh()
