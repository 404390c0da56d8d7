"""The spoiler renderer: whatever the text, nothing of it shows outside the bars.

``discord_display`` is a small model of how Discord's markdown finds escapes, code
spans and spoilers (the spoiler rule is a plain non-greedy ``||(.+?)||`` that does not
know about escapes or code), so the tests judge output the way a reader would see it.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.i18n import t
from bot.spoilers import (
    FIELD_VALUE_LIMIT,
    MESSAGE_LIMIT,
    escape_markdown_strict,
    join_lines_within,
    render_spoiler,
    spoiler_field,
    wrap_spoiler,
)
from bot.spoilers.render import ELLIPSIS, ZERO_WIDTH_SPACE, fit_label, render_label
from tests.support.spoilers import discord_display


def normalised(text: str) -> str:
    """What the reader should see of ``text``: Discord shows \\r\\n as \\n; the pads are invisible."""
    return re.sub(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]", "\n", text).replace(ZERO_WIDTH_SPACE, "")


def assert_shows(displayed: str, text: str) -> None:
    """The spoiler shows the whole text, or a prefix of it followed by "…" when it was cut."""
    displayed = displayed.replace(ZERO_WIDTH_SPACE, "")
    expected = normalised(text)
    if displayed != expected:
        assert displayed.endswith(ELLIPSIS), (displayed, expected)
        assert expected.startswith(displayed[: -len(ELLIPSIS)]), (displayed, expected)


MARKDOWNY = st.text(alphabet=st.sampled_from(list("|`\\*_~>#-+[]():@<.1 \n\raé\u200b")), max_size=300)
ANY_TEXT = st.one_of(st.text(max_size=300), MARKDOWNY)


@settings(max_examples=400, deadline=None)
@given(label=ANY_TEXT.filter(lambda s: s.strip()), text=ANY_TEXT, limit=st.integers(60, MESSAGE_LIMIT))
@example(label="season 1 ending", text="a|", limit=MESSAGE_LIMIT)
@example(label="x|", text="|", limit=MESSAGE_LIMIT)
@example(label="x", text="`code || with bars`", limit=MESSAGE_LIMIT)
@example(label="x", text="a\\", limit=MESSAGE_LIMIT)
@example(label="x", text="\\|" * 50, limit=80)
def test_nothing_of_the_text_shows_outside_the_bars(label: str, text: str, limit: int) -> None:
    rendered = render_spoiler(label, text, openly=False, locale=None, limit=limit)

    shown, spoilers = discord_display(rendered)
    frame_shown, frame_spoilers = discord_display(
        t("spoilers.fact_hidden", None, label=fit_label(label, openly=False, locale=None, limit=limit), spoiler="")
    )
    assert frame_spoilers == []
    assert shown == frame_shown  # only the label frame is visible, not one character more
    assert len(spoilers) == 1
    inner_shown, inner_spoilers = discord_display(spoilers[0])
    assert inner_spoilers == []
    assert_shows(inner_shown, text)
    assert len(rendered) <= limit


@settings(max_examples=200, deadline=None)
@given(text=ANY_TEXT, limit=st.integers(5, FIELD_VALUE_LIMIT))
def test_a_wrapped_text_is_one_balanced_spoiler_within_its_limit(text: str, limit: int) -> None:
    wrapped = wrap_spoiler(text, limit=limit)
    shown, spoilers = discord_display(wrapped)
    assert shown == ""
    assert len(spoilers) == 1
    assert_shows(discord_display(spoilers[0])[0], text)
    assert len(wrapped) <= limit


@settings(max_examples=200, deadline=None)
@given(label=ANY_TEXT.filter(lambda s: s.strip()), text=ANY_TEXT)
def test_in_a_spoiler_channel_the_same_fact_shows_without_bars(label: str, text: str) -> None:
    rendered = render_spoiler(label, text, openly=True, locale=None)
    shown, spoilers = discord_display(rendered)
    assert spoilers == []
    assert "||" not in rendered.replace("\\|", "")
    frame = discord_display(t("spoilers.fact_open", None, label=render_label(label), text=""))[0]
    assert shown.startswith(frame)
    assert_shows(shown[len(frame) :], text)


def test_a_fact_outside_spoiler_channels_has_a_visible_label_and_hidden_text() -> None:
    rendered = render_spoiler("season 1 ending", "Escaped the school.", openly=False, locale=None)
    assert rendered == "Spoiler, season 1 ending: ||Escaped the school.||"


def test_inside_spoiler_channels_the_fact_has_no_bars() -> None:
    rendered = render_spoiler("season 1 ending", "Escaped the school.", openly=True, locale=None)
    assert rendered == "season 1 ending: Escaped the school."


def test_bars_in_the_text_cannot_close_the_spoiler_early() -> None:
    rendered = render_spoiler("x", "before || after", openly=False, locale=None)
    assert rendered == "Spoiler, x: ||before \\|\\| after||"


def test_bars_inside_a_code_span_are_neutralised() -> None:
    shown, spoilers = discord_display(render_spoiler("x", "see `a || b` here", openly=False, locale=None))
    assert shown == "Spoiler, x: "
    assert discord_display(spoilers[0])[0] == "see `a || b` here"


def test_a_text_ending_in_a_bar_does_not_merge_with_the_closing_bars() -> None:
    rendered = wrap_spoiler("a|")
    assert rendered == "||a\\|" + ZERO_WIDTH_SPACE + "||"


def test_links_and_mentions_are_inert() -> None:
    escaped = escape_markdown_strict("https://example.com [x](https://e.com) <@1> @everyone")
    assert "https://" not in escaped  # "https\://" does not autolink or unfurl
    assert "\\[x\\]\\(" in escaped
    assert "\\<\\@1\\>" in escaped
    assert "\\@everyone" in escaped


def test_block_markdown_at_a_line_start_is_escaped() -> None:
    escaped = escape_markdown_strict("# heading\n> quote\n- item\n1. first\n-# small")
    assert escaped.splitlines() == ["\\# heading", "\\> quote", "\\- item", "1\\. first", "\\-\\# small"]


def test_a_long_text_is_cut_inside_the_bars_and_keeps_escapes_whole() -> None:
    rendered = render_spoiler("x", "|" * 5000, openly=False, locale=None, limit=100)
    assert len(rendered) <= 100
    assert rendered.endswith(ELLIPSIS + "||")
    body = rendered.removeprefix("Spoiler, x: ||").removesuffix(ELLIPSIS + "||")
    assert body.replace(ZERO_WIDTH_SPACE, "") == "\\|" * (len(body.replace(ZERO_WIDTH_SPACE, "")) // 2)


def test_a_field_puts_only_the_label_in_its_name() -> None:
    hidden = spoiler_field("webtoon ending", "Survives.", openly=False, locale=None)
    assert (hidden.name, hidden.value) == ("Spoiler, webtoon ending", "||Survives.||")
    shown = spoiler_field("webtoon ending", "Survives.", openly=True, locale=None)
    assert (shown.name, shown.value) == ("webtoon ending", "Survives.")


def test_a_field_value_stays_within_discords_limit() -> None:
    field = spoiler_field("x", "y" * 5000, openly=False, locale=None)
    assert len(field.value) <= FIELD_VALUE_LIMIT
    assert field.value.startswith("||")
    assert field.value.endswith("||")


def test_lines_are_dropped_whole_never_cut() -> None:
    lines = ["Spoiler, a: ||one||", "Spoiler, b: ||two||", "Spoiler, c: ||three||"]
    joined = join_lines_within(lines, 45, more=lambda count: f"…and {count} more.")
    assert joined == "Spoiler, a: ||one||\n…and 2 more."
    assert join_lines_within(lines, 1000, more=lambda count: f"…and {count} more.") == "\n".join(lines)
