"""Turning formatted text into Telegram's plain text + entities, with Telegram's errors.

The HTML parser follows tdlib's `parse_html` closely (tag set, attribute handling,
error wording with UTF-8 byte offsets) so that a bot which passes here also passes
on the real server. Entity offsets and lengths are in UTF-16 code units, like Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from standin.errors import ApiError, bad_request

Entity = dict[str, Any]
UserLookup = Callable[[int], dict[str, Any] | None]

_HTML_TAGS = frozenset(
    "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote".split()
)
_SIMPLE_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,4});")
_TG_USER_RE = re.compile(r"^tg://user\?id=(\d+)$")
_WHITESPACE = " \t\r\n\u00a0\u2028\u2029\u200b\u3000"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    """UTF-8 byte offset of a character index, as tdlib reports positions."""
    return len(source[:index].encode("utf-8"))


def _cant_parse(reason: str) -> ApiError:
    """Telegram's entity-parsing failure."""
    return bad_request(f"can't parse entities: {reason}")


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int
    text_start: int
    expandable: bool = False


@dataclass
class _TextBuilder:
    """Plain text accumulated with its running UTF-16 offset."""

    parts: list[str] = field(default_factory=list)
    offset: int = 0
    chars: int = 0

    def add(self, piece: str) -> None:
        """Append text and advance the offsets."""
        self.parts.append(piece)
        self.offset += utf16_len(piece)
        self.chars += len(piece)

    def text(self) -> str:
        """The text so far."""
        return "".join(self.parts)


def _decode_html_entity(source: str, index: int) -> tuple[str, int] | None:
    """Decode `&...;` at index like tdlib: known names and numeric references only."""
    match = _ENTITY_RE.match(source, index)
    if not match:
        return None
    body = match.group(1)
    if body.startswith("#"):
        code = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), match.end()
    char = _NAMED_ENTITIES.get(body)
    return (char, match.end()) if char else None


def parse_html(source: str, users: UserLookup | None = None) -> tuple[str, list[Entity]]:
    """Parse Telegram-HTML into (plain text, entities) or raise 400 like Telegram."""
    out = _TextBuilder()
    stack: list[_OpenTag] = []
    entities: list[Entity] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "&":
            decoded = _decode_html_entity(source, i)
            if decoded:
                out.add(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        if i + 1 < n and source[i + 1] == "/":
            i = _close_tag(source, i, stack, out, entities, users)
        else:
            tag, i = _open_tag(source, i, out)
            stack.append(tag)
    if stack:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.text(), sort_entities(entities)


def _open_tag(source: str, begin: int, out: _TextBuilder) -> tuple[_OpenTag, int]:
    """Parse `<tag attr=...>` starting at begin; returns the tag and the index after `>`."""
    n = len(source)
    i = begin + 1
    while i < n and not source[i].isspace() and source[i] != ">":
        i += 1
    if i >= n:
        raise _cant_parse(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
    name = source[begin + 1 : i].lower()
    if name not in _HTML_TAGS:
        raise _cant_parse(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
        )
    tag = _OpenTag(name, "", out.offset, out.chars)
    while True:
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise _cant_parse(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        if source[i] == ">":
            break
        i = _read_attribute(source, begin, i, tag)
    if name == "span" and tag.argument != "spoiler":
        raise _cant_parse(
            f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, begin)}'
        )
    return tag, i + 1


def _read_attribute(source: str, begin: int, i: int, tag: _OpenTag) -> int:
    """Read one `name=value` attribute of tag; returns the index after it."""
    n = len(source)
    at = _byte_offset(source, begin)
    name_start = i
    while i < n and not source[i].isspace() and source[i] not in "=>":
        i += 1
    attribute = source[name_start:i]
    if not attribute:
        raise _cant_parse(f'Empty attribute name in the tag "{tag.name}" at byte offset {at}')
    while i < n and source[i].isspace():
        i += 1
    if i >= n or source[i] != "=":
        if tag.name == "blockquote" and attribute == "expandable":
            tag.expandable = True
            return i
        raise _cant_parse(
            "Expected equal sign in declaration of an attribute of the tag "
            f'"{tag.name}" at byte offset {at}'
        )
    i += 1
    while i < n and source[i].isspace():
        i += 1
    if i >= n:
        raise _cant_parse(f"Unclosed start tag at byte offset {at}")
    value, i = _read_attribute_value(source, i)
    if i >= n:
        raise _cant_parse(f"Unclosed start tag at byte offset {at}")
    _apply_attribute(tag, attribute, value)
    return i


def _read_attribute_value(source: str, i: int) -> tuple[str, int]:
    """Read a quoted string or a bare name token."""
    n = len(source)
    if source[i] not in "'\"":
        start = i
        while i < n and (source[i].isalnum() or source[i] in ".-"):
            i += 1
        if i < n and not source[i].isspace() and source[i] != ">":
            raise _cant_parse(
                f"Unexpected end of name token at byte offset {_byte_offset(source, start)}"
            )
        return source[start:i].lower(), i
    quote = source[i]
    i += 1
    value: list[str] = []
    while i < n and source[i] != quote:
        if source[i] == "&":
            decoded = _decode_html_entity(source, i)
            if decoded:
                value.append(decoded[0])
                i = decoded[1]
                continue
        value.append(source[i])
        i += 1
    if i < n:
        i += 1
    return "".join(value), i


def _apply_attribute(tag: _OpenTag, attribute: str, value: str) -> None:
    """Keep the attributes Telegram understands; ignore the rest, as Telegram does."""
    if tag.name == "a" and attribute == "href":
        tag.argument = value
    elif tag.name == "code" and attribute == "class" and value.startswith("language-"):
        tag.argument = value[len("language-") :]
    elif tag.name == "span" and attribute == "class" and value.startswith("tg-"):
        tag.argument = value[len("tg-") :]
    elif tag.name == "tg-emoji" and attribute == "emoji-id":
        tag.argument = value
    elif tag.name == "blockquote" and attribute == "expandable":
        tag.expandable = True


def _close_tag(
    source: str,
    begin: int,
    stack: list[_OpenTag],
    out: _TextBuilder,
    entities: list[Entity],
    users: UserLookup | None,
) -> int:
    """Parse `</tag>` at begin, emit the entity; returns the index after `>`."""
    at = _byte_offset(source, begin)
    if not stack:
        raise _cant_parse(f"Unexpected end tag at byte offset {at}")
    n = len(source)
    i = begin + 2
    while i < n and not source[i].isspace() and source[i] != ">":
        i += 1
    end_name = source[begin + 2 : i].lower()
    while i < n and source[i].isspace():
        i += 1
    if i >= n or source[i] != ">":
        raise _cant_parse(f"Unclosed end tag at byte offset {at}")
    tag = stack.pop()
    if end_name and end_name != tag.name:
        raise _cant_parse(
            f'Unmatched end tag at byte offset {at}, expected "</{tag.name}>", '
            f'found "</{end_name}>"'
        )
    if out.offset > tag.offset:
        _emit_html_entity(tag, out, entities, users)
    return i + 1


def _emit_html_entity(
    tag: _OpenTag, out: _TextBuilder, entities: list[Entity], users: UserLookup | None
) -> None:
    """Turn a closed tag into its entity (or nothing, for unusable links)."""
    offset, length = tag.offset, out.offset - tag.offset
    base = {"offset": offset, "length": length}
    if tag.name in _SIMPLE_TYPES:
        entities.append({"type": _SIMPLE_TYPES[tag.name], **base})
    elif tag.name == "blockquote":
        kind = "expandable_blockquote" if tag.expandable else "blockquote"
        entities.append({"type": kind, **base})
    elif tag.name == "tg-emoji":
        if tag.argument.isdigit():
            entities.append({"type": "custom_emoji", **base, "custom_emoji_id": tag.argument})
    elif tag.name == "a":
        url = tag.argument or out.text()[tag.text_start :]
        link = _link_entity(url, users)
        if link:
            entities.append({**link, **base})
    elif tag.name == "pre":
        last = entities[-1] if entities else None
        if last and last["type"] == "code" and (last["offset"], last["length"]) == (offset, length):
            # <pre><code class="language-x">…</code></pre> is one pre entity with a language.
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", **base})
    elif tag.name == "code":
        last = entities[-1] if entities else None
        if (
            last
            and last["type"] == "pre"
            and (last["offset"], last["length"])
            == (
                offset,
                length,
            )
        ):
            if tag.argument:
                last["language"] = tag.argument
        else:
            entity = {"type": "code", **base}
            if tag.argument:
                # Remembered so an enclosing <pre> can become a pre with a language.
                entity["language"] = tag.argument
            entities.append(entity)


def _link_entity(url: str, users: UserLookup | None) -> Entity | None:
    """A text_link or text_mention for href, or None when Telegram would drop it."""
    url = url.strip()
    mention = _TG_USER_RE.match(url)
    if mention:
        user = users(int(mention.group(1))) if users else None
        return {"type": "text_mention", "user": user} if user else None
    normalized = normalize_url(url)
    return {"type": "text_link", "url": normalized} if normalized else None


def normalize_url(url: str) -> str | None:
    """Telegram-style link check: http(s)/tg/ton links kept, bare domains get http://."""
    if not url or any(c.isspace() for c in url):
        return None
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.startswith("tg:"):
            return url
        scheme, rest = "http", url
    scheme = scheme.lower()
    if scheme == "tg":
        return f"tg://{rest}"
    if scheme not in ("http", "https", "ton", "tonsite"):
        return None
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].split("@")[-1].split(":")[0]
    if not host or ("." not in host and host != "localhost"):
        return None
    if "/" not in rest and "?" not in rest and "#" not in rest:
        rest += "/"
    return f"{scheme}://{rest}"


def sort_entities(entities: list[Entity]) -> list[Entity]:
    """Telegram's order: by offset, longer (outer) first; internal hints dropped."""
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def trim_formatted(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Strip leading/trailing whitespace as Telegram does, keeping entities aligned."""
    stripped_left = text.lstrip(_WHITESPACE)
    shift = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip(_WHITESPACE)
    limit = utf16_len(result)
    fixed: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return result, fixed


def validate_entities(text: str, raw: Any) -> list[Entity]:
    """Check explicitly passed entities (the `entities` parameter)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("can't parse entities JSON object")
    total = utf16_len(text)
    checked: list[Entity] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise _cant_parse("entity type is not specified")
        offset, length = item.get("offset"), item.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 0:
            raise _cant_parse("wrong entity offset or length")
        if length == 0 or offset >= total:
            continue
        checked.append({**item, "length": min(length, total - offset)})
    return sort_entities(checked)


# --- MarkdownV2 -------------------------------------------------------------------------

_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_MARKERS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def parse_markdown_v2(source: str, users: UserLookup | None = None) -> tuple[str, list[Entity]]:
    """Parse MarkdownV2, including the reserved-character rule that trips many bots."""
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []  # marker, utf16 offset, byte position
    entities: list[Entity] = []
    quote: list[int] = []  # utf16 offset where the current blockquote started
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == ">" and (i == 0 or source[i - 1] == "\n"):
            # "> " at a line start quotes the line; consecutive quoted lines form one quote.
            if not quote:
                quote.append(out.offset)
            i += 1
            continue
        if char == "\n" and quote and not source.startswith(">", i + 1):
            _close_quote(quote, out, entities)
        if char == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
            out.add(source[i + 1])
            i += 2
            continue
        if char == "`":
            i = _md2_code(source, i, out, entities)
            continue
        if char == "[":
            stack.append(("[", out.offset, i))
            i += 1
            continue
        if char == "]" and stack and stack[-1][0] == "[":
            i = _md2_link(source, i, stack.pop(), out, entities, users)
            continue
        marker = source[i : i + 2] if source[i : i + 2] in ("__", "||") else char
        if marker in _MD2_MARKERS:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                if out.offset > start:
                    entities.append(
                        {
                            "type": _MD2_MARKERS[marker],
                            "offset": start,
                            "length": out.offset - start,
                        }
                    )
            else:
                stack.append((marker, out.offset, i))
            i += len(marker)
            continue
        if char in _MD2_RESERVED:
            raise _cant_parse(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(char)
        i += 1
    if quote:
        _close_quote(quote, out, entities)
    if stack:
        marker, _, position = stack[-1]
        kind = "TextUrl" if marker == "[" else _MD2_MARKERS[marker].capitalize()
        raise _cant_parse(
            f"Can't find end of {kind} entity at byte offset {_byte_offset(source, position)}"
        )
    return out.text(), sort_entities(entities)


def _close_quote(quote: list[int], out: _TextBuilder, entities: list[Entity]) -> None:
    """Emit the open MarkdownV2 blockquote."""
    start = quote.pop()
    if out.offset > start:
        entities.append({"type": "blockquote", "offset": start, "length": out.offset - start})


def _md2_code(source: str, i: int, out: _TextBuilder, entities: list[Entity]) -> int:
    """Parse `code` or ```pre``` starting at i; returns the index after it."""
    fence = "```" if source.startswith("```", i) else "`"
    body_start = i + len(fence)
    end = body_start
    body: list[str] = []
    while end < len(source) and not source.startswith(fence, end):
        if source[end] == "\\" and end + 1 < len(source) and source[end + 1] in "`\\":
            body.append(source[end + 1])
            end += 2
            continue
        body.append(source[end])
        end += 1
    if end >= len(source):
        kind = "Pre" if fence == "```" else "Code"
        raise _cant_parse(
            f"Can't find end of {kind} entity at byte offset {_byte_offset(source, i)}"
        )
    text = "".join(body)
    language = ""
    if fence == "```":
        first, newline, rest = text.partition("\n")
        if newline and first and not first[0].isspace():
            language, text = first, rest
    start = out.offset
    out.add(text)
    if out.offset > start:
        entity: Entity = {
            "type": "pre" if fence == "```" else "code",
            "offset": start,
            "length": out.offset - start,
        }
        if language:
            entity["language"] = language
        entities.append(entity)
    return end + len(fence)


def _md2_link(
    source: str,
    i: int,
    opened: tuple[str, int, int],
    out: _TextBuilder,
    entities: list[Entity],
    users: UserLookup | None,
) -> int:
    """Finish `[text](url)`; i points at `]`. Returns the index after `)`."""
    start = opened[1]
    if not source.startswith("(", i + 1):
        raise _cant_parse(
            f"Can't find end of TextUrl entity at byte offset {_byte_offset(source, opened[2])}"
        )
    end = source.find(")", i + 2)
    if end < 0:
        raise _cant_parse(f"Can't find end of a URL at byte offset {_byte_offset(source, i + 1)}")
    url = source[i + 2 : end].replace("\\)", ")").replace("\\\\", "\\")
    if out.offset > start:
        link = _link_entity(url, users)
        if link:
            entities.append({**link, "offset": start, "length": out.offset - start})
    return end + 1


# --- legacy Markdown --------------------------------------------------------------------

_MD_MARKERS = {"*": "bold", "_": "italic"}


def parse_markdown(source: str, users: UserLookup | None = None) -> tuple[str, list[Entity]]:
    """Parse legacy Markdown (*bold* _italic_ `code` ```pre``` [text](url))."""
    out = _TextBuilder()
    entities: list[Entity] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char in _MD_MARKERS:
            end = source.find(char, i + 1)
            if end < 0:
                raise _cant_parse(
                    "Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(source, i)}"
                )
            start = out.offset
            out.add(source[i + 1 : end])
            if out.offset > start:
                entities.append(
                    {"type": _MD_MARKERS[char], "offset": start, "length": out.offset - start}
                )
            i = end + 1
        elif char == "`":
            i = _md2_code(source, i, out, entities)
        elif char == "[":
            close = source.find("](", i)
            end = source.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise _cant_parse(
                    "Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(source, i)}"
                )
            start = out.offset
            out.add(source[i + 1 : close])
            link = _link_entity(source[close + 2 : end], users)
            if link and out.offset > start:
                entities.append({**link, "offset": start, "length": out.offset - start})
            i = end + 1
        else:
            out.add(char)
            i += 1
    return out.text(), sort_entities(entities)


def format_text(
    text: str,
    parse_mode: str | None,
    raw_entities: Any,
    users: UserLookup | None = None,
) -> tuple[str, list[Entity]]:
    """Plain text and entities for a message text/caption, trimmed like Telegram."""
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        plain, entities = parse_html(text, users)
    elif mode == "markdownv2":
        plain, entities = parse_markdown_v2(text, users)
    elif mode == "markdown":
        plain, entities = parse_markdown(text, users)
    elif mode:
        raise bad_request(f"unsupported parse_mode {parse_mode}")
    else:
        plain, entities = text, validate_entities(text, raw_entities)
    return trim_formatted(plain, entities)
