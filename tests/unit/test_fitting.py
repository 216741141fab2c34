"""Fitting people's text into Telegram's message and caption limits."""

from __future__ import annotations

from bot.fitting import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    cell,
    columns,
    fit_caption,
    fit_lines,
    fit_some,
    shorten,
    split_lines,
    visible_length,
)


def test_length_is_counted_as_telegram_counts_it():
    assert visible_length("<b>Plan</b> &amp; log") == len("Plan & log")
    assert visible_length("🗓 a") == 4  # an emoji outside the BMP is two UTF-16 units
    assert visible_length("<b>x</b>", html=False) == 8


def test_short_text_is_left_alone():
    assert shorten("Visit Harbor", 20) == "Visit Harbor"
    assert fit_lines(["a", "b"]) == "a\nb"


def test_shortened_text_ends_in_an_ellipsis_within_the_limit():
    cut = shorten("x" * 50, 10)
    assert cut == "x" * 9 + "…"


def test_cut_html_closes_its_tags_and_keeps_entities_whole():
    cut = shorten("<b>" + "&amp;" * 30 + "</b>", 10, html=True)
    assert cut == "<b>" + "&amp;" * 9 + "…</b>"
    link = shorten('<a href="https://x.example/very/long">' + "m" * 40 + "</a> tail", 12,
                   html=True)
    assert link.endswith("…</a>") and visible_length(link) == 12


def test_emoji_is_never_cut_in_half():
    cut = shorten("🗓" * 10, 6)
    assert cut == "🗓" * 2 + "…"


def test_long_lines_are_shortened_so_every_line_stays():
    lines = ["<b>Plan for Friday</b>", *[f"{n}. " + "w" * 1000 for n in range(1, 31)], "Save?"]
    text = fit_lines(lines)
    assert visible_length(text) <= TEXT_LIMIT
    shown = text.split("\n")
    assert shown[0] == "<b>Plan for Friday</b>" and shown[-1] == "Save?"
    assert len(shown) == 32 and all(line.startswith(f"{n}. ") for n, line in
                                    enumerate(shown[1:-1], start=1))


def test_too_many_lines_are_cut_at_the_end_with_an_ellipsis():
    text = fit_lines(["y" * 200] * 500)
    assert visible_length(text) <= TEXT_LIMIT
    assert text.endswith("\n…")


def test_caption_fits_1024_characters():
    caption = fit_caption("Carol · Harbor <Logistics> " + "z" * 3000)
    assert visible_length(caption, html=False) <= CAPTION_LIMIT
    assert caption.startswith("Carol · Harbor <Logistics>")
    assert fit_caption(None) is None


def test_split_lines_makes_messages_each_within_the_limit():
    messages = split_lines(["q" * 1000] * 9 + ["r" * 5000])
    assert all(visible_length(m) <= TEXT_LIMIT for m in messages)
    assert len(messages) == 4
    assert "".join(messages).count("q" * 1000) == 9


def test_a_note_of_several_lines_in_italics_is_cut_as_one_piece():
    lines = ["<b>Day</b>", "<i>" + "\n".join(["note " * 100] * 12) + "</i>", "end"]
    text = fit_lines(lines)
    assert visible_length(text) <= TEXT_LIMIT
    assert text.count("<i>") == text.count("</i>") == 1
    assert text.endswith("</i>\nend")


def test_split_keeps_each_part_whole_and_the_separator_between():
    parts = ["<b>East · travel</b>\n▓▓▓░ " + "t" * 900 for _ in range(10)]
    messages = split_lines(parts, separator="\n\n")
    assert all(visible_length(m) <= TEXT_LIMIT for m in messages)
    assert sum(m.count("<b>East · travel</b>\n▓▓▓░") for m in messages) == 10
    assert all(not m.startswith("\n") for m in messages)


def test_a_table_cell_counts_wide_characters_twice():
    assert columns("East") == 4 and columns("华东区") == 6 and columns("") == 0
    assert cell("East", 6) == "East  "
    assert cell("华东区", 8) == "华东区  "


def test_a_long_label_is_cut_to_its_cell_with_an_ellipsis():
    shown = cell("Negotiation and contract", 12)
    assert columns(shown) == 12 and shown.rstrip().endswith("…")
    wide = cell("华东区销售一部", 8)
    assert columns(wide) == 8 and wide.rstrip().endswith("…")


def more(n: int) -> str:
    return f"… and {n} more"


def test_a_list_that_fits_is_shown_whole_without_a_count():
    assert fit_some(["a", "b"], more, head=["Head"], footer=["Total 2"]) == \
        "Head\na\nb\nTotal 2"


def test_a_list_too_long_keeps_whole_items_and_counts_the_rest():
    items = [f"<b>{n:04d}</b> Representative of the East Region field sales" for n in range(600)]
    text = fit_some(items, more, head=["Head"], footer=["", "Planned 0/600"])
    assert visible_length(text) <= TEXT_LIMIT
    lines = text.split("\n")
    shown = lines[1:-3]
    assert lines[0] == "Head" and lines[-2:] == ["", "Planned 0/600"]
    assert shown == items[:len(shown)]
    assert lines[-3] == more(600 - len(shown))
    assert len(shown) > 50
