"""Typed text: blank means nothing visible, controls are dropped, quotes ping nobody."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.errors import Trusted, UserError
from bot.usertext import clean_text, fold_key, is_blank, quote_user_text
from tests.support.usertext import live_markup

RLO = "\u202e"
ZWSP = "\u200b"


def test_zero_width_only_text_is_blank() -> None:
    assert is_blank(ZWSP * 3)
    assert is_blank(f" {ZWSP}\u2060\ufeff ")
    assert is_blank("")
    assert not is_blank(f"{ZWSP}a")
    assert not is_blank("청산")


def test_cleaning_drops_bidi_controls_and_zero_width_spaces_but_keeps_joiners() -> None:
    assert clean_text(f"  {RLO}evil{ZWSP}  ") == "evil"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_text(family) == family


def test_text_that_looks_the_same_folds_to_the_same_key() -> None:
    assert fold_key("Yes") == fold_key(f"ye{ZWSP}s") == fold_key("ＹＥＳ")
    assert fold_key("Cheong  San") == fold_key("cheong san")
    assert fold_key("Yes") != fold_key("Yes!")


def test_a_quote_pings_nobody_shows_no_markdown_and_stays_short() -> None:
    quoted = quote_user_text(f"@everyone **hi** ||x|| <@&123456789012345678> {RLO}")
    assert "@everyone" not in quoted
    assert "<@&123456789012345678>" not in quoted
    assert "**" not in quoted.replace("\\*", "")
    assert RLO not in quoted
    assert len(quote_user_text("y" * 500)) <= 60


@given(st.text())
def test_any_quote_is_one_line_without_controls_or_live_mentions(text: str) -> None:
    quoted = quote_user_text(text)
    assert "\n" not in quoted
    assert RLO not in quoted
    assert "@everyone" not in quoted
    assert "@here" not in quoted
    assert len(quoted) <= 60 * 3  # escapes may add backslashes, never more than this


def test_a_quote_renders_no_timestamp_channel_or_command_but_reads_as_typed() -> None:
    typed = "<t:1767225600:R> <#1456074443980800007> </poll create:123> <:cheong:42> \\<t:1:F>"
    assert live_markup(typed) == ["<t:1767225600:R>", "<#1456074443980800007>", "</poll create:123>", "<:cheong:42>"]
    quoted = quote_user_text(typed, limit=200)
    assert live_markup(quoted) == []
    assert re.sub(r"\\(.)", r"\1", quoted) == typed, "unescaped, it is what the person typed"


#: Typed text holding markup Discord renders, after any backslashes or brackets a person may put first.
TYPED_MARKUP = st.builds(
    lambda lead, form, number, tail: lead + form.format(number) + tail,
    st.sampled_from(["", "\\", "\\\\", "<", "a "]),
    st.sampled_from(["<t:{}:R>", "<t:-{}>", "<#{}>", "</poll create:{}>", "<@&{}>", "<a:dance:{}>"]),
    st.integers(min_value=0, max_value=2**64),
    st.sampled_from(["", ">", "\\", " b"]),
)


@given(TYPED_MARKUP)
def test_no_quote_renders_markup_whatever_was_typed(text: str) -> None:
    assert live_markup(quote_user_text(text, limit=200)) == []


def test_user_errors_quote_user_text_and_keep_what_the_bot_built() -> None:
    error = UserError("polls.unknown_poll", value=f"@here {RLO}")
    assert "@here" not in error.values["value"]
    assert RLO not in error.values["value"]
    trusted = UserError("countdown.settings.not_text", channel=Trusted("<#123>"))
    assert trusted.values["channel"] == "<#123>"
