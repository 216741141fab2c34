"""Telegram-HTML and MarkdownV2 parsing: plain text, UTF-16 entities and Telegram's errors."""

from __future__ import annotations

import pytest

from standin.errors import ApiError
from standin.formatting import format_text, parse_html, parse_markdown_v2


def spans(entities: list[dict]) -> list[tuple[str, int, int]]:
    """(type, offset, length) triples."""
    return [(e["type"], e["offset"], e["length"]) for e in entities]


def test_nested_tags_and_utf16_offsets() -> None:
    text, entities = parse_html("👋 <b>Hi <i>Ана</i></b> <u>x</u>")
    assert text == "👋 Hi Ана x"
    # The emoji is two UTF-16 code units, so everything after it shifts by 2.
    assert spans(entities) == [("bold", 3, 6), ("italic", 6, 3), ("underline", 10, 1)]


def test_all_supported_tags() -> None:
    source = (
        "<strong>a</strong><em>b</em><ins>c</ins><s>d</s><strike>e</strike><del>f</del>"
        '<tg-spoiler>g</tg-spoiler><span class="tg-spoiler">h</span><code>i</code>'
        '<blockquote expandable>j</blockquote><tg-emoji emoji-id="5368324170671202286">k</tg-emoji>'
    )
    text, entities = parse_html(source)
    assert text == "abcdefghijk"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "code",
        "expandable_blockquote",
        "custom_emoji",
    ]


def test_character_references_and_literal_ampersands() -> None:
    text, _ = parse_html("&lt;b&gt; &amp; &quot;q&quot; &#128512; &#x41; &nbsp; AT&T")
    # Unknown named references such as &nbsp; stay literal, as on Telegram.
    assert text == '<b> & "q" 😀 A &nbsp; AT&T'


def test_links_and_mentions() -> None:
    users = {42: {"id": 42, "is_bot": False, "first_name": "Bob"}}
    text, entities = parse_html(
        '<a href="example.com">site</a> <a href="tg://user?id=42">Bob</a> '
        '<a href="javascript:alert(1)">x</a> <a>https://t.me/x</a>',
        users.get,
    )
    assert text == "site Bob x https://t.me/x"
    assert entities[0] == {
        "type": "text_link",
        "offset": 0,
        "length": 4,
        "url": "http://example.com/",
    }
    assert entities[1]["type"] == "text_mention" and entities[1]["user"]["id"] == 42
    # Unusable links are dropped silently; an <a> without href links to its own text.
    assert [e["type"] for e in entities] == ["text_link", "text_mention", "text_link"]
    assert entities[2]["url"] == "https://t.me/x"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("é<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="x"', "Unclosed start tag at byte offset 0"),
        (
            "<a href>x</a>",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
    ],
)
def test_html_errors_match_telegram(source: str, reason: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_html(source)
    assert caught.value.code == 400
    assert caught.value.description == f"Bad Request: can't parse entities: {reason}"


def test_trimming_keeps_entities_aligned() -> None:
    text, entities = format_text("\n  <b>bold</b> tail  \n", "HTML", None)
    assert text == "bold tail"
    assert spans(entities) == [("bold", 0, 4)]


def test_explicit_entities_without_parse_mode() -> None:
    text, entities = format_text("hello", None, [{"type": "bold", "offset": 0, "length": 99}])
    assert text == "hello" and spans(entities) == [("bold", 0, 5)]
    with pytest.raises(ApiError, match="unsupported parse_mode"):
        format_text("x", "BBCode", None)


def test_markdown_v2() -> None:
    text, entities = parse_markdown_v2(
        "*bold* _it_ __under__ ~gone~ ||secret|| `co\\`de` [link](https://example.com) 5\\.0"
    )
    assert text == "bold it under gone secret co`de link 5.0"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    pre_text, pre = parse_markdown_v2("```python\nprint(1)\n```")
    assert pre_text == "print(1)\n" and pre[0]["language"] == "python"
    quoted, quote = parse_markdown_v2(">Call ACME\n>before noon\nthanks")
    assert quoted == "Call ACME\nbefore noon\nthanks"
    assert spans(quote) == [("blockquote", 0, 21)]
    with pytest.raises(ApiError, match=r"Character '!' is reserved"):
        parse_markdown_v2("Done!")
    with pytest.raises(ApiError, match="Can't find end of Bold entity at byte offset 0"):
        parse_markdown_v2("*open")
