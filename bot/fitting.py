"""Telegram's size limits on what the bot sends, and fitting people's text into them.

Telegram refuses a message over 4,096 characters and a caption over 1,024 (counted after
the HTML is parsed), and a keyboard over 100 buttons. Lengths here are UTF-16 code
units, never fewer than the characters Telegram counts, so emoji-rich text is safe too.

A screen that shows what people typed cannot know its length in advance, so every such
screen goes through `fit_lines` (or `fit_caption`, or `split_lines` for a long read-only
list): the longest lines are shortened with "…" first, so every item keeps its number and
its start, and lines are dropped at the end only when even that is not enough.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from html import unescape

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_BUTTONS = 100
ELLIPSIS = "…"
MIN_LINE = 32  # a line cut shorter than this no longer says what it was about

_TOKEN = re.compile(r"<[^>]*>|&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z]+);")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")


def _units(text: str) -> int:
    """UTF-16 code units: an emoji outside the BMP counts two, erring on the safe side."""
    return len(text.encode("utf-16-le")) // 2


def _pieces(text: str, html: bool) -> list[tuple[str, str]]:
    """(kind, source) pieces: "tag", "entity" or "text"; plain text is one text piece."""
    if not html:
        return [("text", text)]
    pieces: list[tuple[str, str]] = []
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() > position:
            pieces.append(("text", text[position:match.start()]))
        token = match.group()
        pieces.append(("tag" if token.startswith("<") else "entity", token))
        position = match.end()
    if position < len(text):
        pieces.append(("text", text[position:]))
    return pieces


def visible_length(text: str, *, html: bool = True) -> int:
    """How long Telegram counts `text`: tags count nothing, an entity one character."""
    total = 0
    for kind, source in _pieces(text, html):
        if kind == "text":
            total += _units(source)
        elif kind == "entity":
            total += _units(unescape(source))
    return total


def _head(text: str, units: int) -> str:
    """The longest start of text within `units` UTF-16 units, never half an emoji."""
    taken, used = [], 0
    for char in text:
        size = _units(char)
        if used + size > units:
            break
        taken.append(char)
        used += size
    return "".join(taken)


def shorten(text: str, limit: int, *, html: bool = False) -> str:
    """text cut to at most `limit` visible characters, ending in "…" when cut.

    With html=True, tags are kept whole and the ones left open are closed again.
    """
    if visible_length(text, html=html) <= limit:
        return text
    room = max(limit - _units(ELLIPSIS), 0)
    kept: list[str] = []
    open_tags: list[str] = []
    for kind, source in _pieces(text, html):
        if kind == "tag":
            name = _TAG_NAME.match(source)
            if name is None:
                continue
            if source.startswith("</"):
                if open_tags and open_tags[-1] == name[1].lower():
                    open_tags.pop()
                    kept.append(source)
            elif not source.endswith("/>"):
                open_tags.append(name[1].lower())
                kept.append(source)
            continue
        size = _units(unescape(source)) if kind == "entity" else _units(source)
        if size <= room:
            kept.append(source)
            room -= size
            continue
        if kind == "text":
            kept.append(_head(source, room))
        break
    # A cut link or bold run still needs its closing tags, or Telegram refuses the HTML.
    return "".join(kept).rstrip() + ELLIPSIS + "".join(f"</{tag}>" for tag in reversed(open_tags))


def _single_lines(lines: Sequence[str], html: bool) -> list[str]:
    """Lines that may hold newlines themselves (a typed note) as single lines, split only
    where no HTML tag is open, so that each line can be shortened or left out alone."""
    result: list[str] = []
    for line in lines:
        current, depth = [], 0
        for kind, source in _pieces(line, html):
            if kind == "tag":
                closing, single = source.startswith("</"), source.endswith("/>")
                depth += -1 if closing else (0 if single else 1)
            if kind != "text" or depth > 0 or "\n" not in source:
                current.append(source)
                continue
            first, *rest = source.split("\n")
            current.append(first)
            for part in rest:
                result.append("".join(current))
                current = [part]
        result.append("".join(current))
    return result


def _cap(lengths: Sequence[int], room: int) -> int:
    """The largest line length c with sum(min(length, c)) <= room (0 when none fits)."""
    low, high = 0, max(lengths, default=0)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(length, middle) for length in lengths) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def fit_lines(lines: Sequence[str], limit: int = TEXT_LIMIT, *, html: bool = True,
              footer: Sequence[str] = ()) -> str:
    """The lines, then the footer's, joined by newlines, within `limit` visible characters.

    The longest lines are shortened with "…" to a common length; when the lines are so
    many that they would have to be cut below MIN_LINE, they are cut to MIN_LINE and
    the last ones are left out, a "…" line saying that more was there. The footer (what
    to do next) is always shown whole.
    """
    body, tail = _single_lines(lines, html), _single_lines(footer, html)
    text = "\n".join([*body, *tail])
    if visible_length(text, html=html) <= limit:
        return text
    tail_length = sum(visible_length(line, html=html) + 1 for line in tail)
    limit -= tail_length
    lengths = [visible_length(line, html=html) for line in body]
    cap = _cap(lengths, limit - (len(body) - 1))
    if cap >= MIN_LINE:
        return "\n".join([*(shorten(line, cap, html=html) if length > cap else line
                            for line, length in zip(body, lengths, strict=True)), *tail])
    kept: list[str] = []
    used = _units(ELLIPSIS)
    for line, length in zip(body, lengths, strict=True):
        line = shorten(line, MIN_LINE, html=html) if length > MIN_LINE else line
        size = min(length, MIN_LINE) + 1
        if used + size > limit:
            break
        kept.append(line)
        used += size
    return "\n".join([*kept, ELLIPSIS, *tail])


LONGEST_ITEM = 256  # an item of a list cut to a few: no single one takes the message


def fit_some(items: Sequence[str], more: Callable[[int], str], limit: int = TEXT_LIMIT, *,
             html: bool = True, head: Sequence[str] = (), footer: Sequence[str] = ()) -> str:
    """The head, as many of the items as fit whole (in order), `more(n)` for the n left out,
    then the footer: a list too long for one message, shortened by counting what is left."""
    head, footer = _single_lines(head, html), _single_lines(footer, html)
    items = [shorten(item, LONGEST_ITEM, html=html) for item in _single_lines(items, html)]
    text = "\n".join([*head, *items, *footer])
    if visible_length(text, html=html) <= limit:
        return text
    used = sum(visible_length(line, html=html) + 1 for line in [*head, *footer])
    used += visible_length(more(len(items)), html=html) + 1  # the longest count says no less
    kept: list[str] = []
    for item in items:
        used += visible_length(item, html=html) + 1
        if used > limit:
            break
        kept.append(item)
    return "\n".join([*head, *kept, more(len(items) - len(kept)), *footer])


def fit_text(text: str, limit: int = TEXT_LIMIT, *, html: bool = True) -> str:
    """A whole message (lines separated by newlines) within `limit`; see fit_lines."""
    return fit_lines(text.split("\n"), limit, html=html)


def fit_caption(text: str | None, *, html: bool = False) -> str | None:
    """A photo's or document's caption within Telegram's 1,024 characters."""
    if text is None:
        return None
    return fit_text(text, CAPTION_LIMIT, html=html)


def split_lines(parts: Sequence[str], limit: int = TEXT_LIMIT, *, html: bool = True,
                separator: str = "\n") -> list[str]:
    """The parts as several messages, each within `limit`, a part never split in two.

    Parts may hold several lines (a budget with its bar); one longer than a whole message
    is fitted into it alone.
    """
    messages: list[str] = []
    current: list[str] = []
    used = 0
    gap = visible_length(separator, html=html)
    for part in parts:
        length = visible_length(part, html=html)
        if length > limit:
            part = fit_text(part, limit, html=html)
            length = visible_length(part, html=html)
        needed = length + (gap if current else 0)
        if current and used + needed > limit:
            messages.append(separator.join(current))
            current, used, needed = [], 0, length
        current.append(part)
        used += needed
    if current:
        messages.append(separator.join(current))
    return messages


def columns(text: str) -> int:
    """How many columns of a monospace font the text takes: CJK and other wide ones two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cell(text: str, width: int) -> str:
    """The text cut with "…" and padded to `width` columns of a monospace font (a table in a
    <pre> block)."""
    while columns(text) > width:
        text = text[:-2] + ELLIPSIS
    return text + " " * (width - columns(text))
