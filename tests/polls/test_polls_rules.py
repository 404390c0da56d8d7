"""The poll rules without Discord: what a poll may be, what a click does, how it is counted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.i18n import Counted
from cogs.polls.rules import (
    InvalidPoll,
    VoteChange,
    build_poll_spec,
    decide_vote,
    parse_duration,
    parse_options,
    parse_question,
)
from cogs.polls.tally import Tally, draw_bar, option_results, whole_percentages, winning_options


def refusal(call, *args, **kwargs) -> InvalidPoll:
    with pytest.raises(InvalidPoll) as caught:
        call(*args, **kwargs)
    return caught.value


# -- questions and options ------------------------------------------------------------


def test_a_question_is_trimmed_and_kept_as_typed() -> None:
    assert parse_question("  Who returns in season 2?  ") == "Who returns in season 2?"


@pytest.mark.parametrize(
    ("question", "key"),
    [
        ("   ", "polls.invalid.question_empty"),
        ("x" * 257, "polls.invalid.question_too_long"),
        ("Hey @everyone, who returns?", "polls.invalid.question_mention"),
        ("@HERE vote now", "polls.invalid.question_mention"),
        ("Does ||Cheong-san|| return?", "polls.invalid.question_bars"),
    ],
)
def test_bad_questions_are_refused(question: str, key: str) -> None:
    assert refusal(parse_question, question).key == key


def test_a_question_of_256_characters_is_fine() -> None:
    assert len(parse_question("q" * 256)) == 256


def test_options_are_split_on_bars_and_trimmed_and_inner_whitespace_collapsed() -> None:
    assert parse_options(" On-jo |Su-hyeok|  Nam\n ra ") == ("On-jo", "Su-hyeok", "Nam ra")


@pytest.mark.parametrize(
    ("options", "key", "values"),
    [
        ("Only one", "polls.invalid.too_few_options", {"minimum": Counted("units.options", 2)}),
        (
            " | ".join(str(n) for n in range(21)),
            "polls.invalid.too_many_options",
            {"maximum": 20, "count": Counted("units.options", 21)},
        ),
        ("Yes | | No", "polls.invalid.option_empty", {"number": 2}),
        ("Yes | No |", "polls.invalid.option_empty", {"number": 3}),
        (
            "Yes | " + "n" * 81,
            "polls.invalid.option_too_long",
            {"number": 2, "limit": Counted("units.characters", 80), "length": Counted("units.characters", 81)},
        ),
        ("Yes | No | YES", "polls.invalid.option_duplicate", {"number": 3, "first": 1, "option": "YES"}),
        ("Straße | STRASSE", "polls.invalid.option_duplicate", {"number": 2, "first": 1, "option": "STRASSE"}),
        ("Yes | @everyone", "polls.invalid.option_mention", {"number": 2}),
    ],
)
def test_bad_options_are_refused_naming_the_option(options: str, key: str, values: dict[str, object]) -> None:
    error = refusal(parse_options, options)
    assert error.key == key
    assert error.values == values


def test_twenty_options_of_eighty_characters_are_fine() -> None:
    options = parse_options(" | ".join(f"{n:02d}" + "x" * 78 for n in range(20)))
    assert len(options) == 20
    assert all(len(o) == 80 for o in options)


# -- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("1d 12h", timedelta(days=1, hours=12)),
        (" 2 Hours ", timedelta(hours=2)),
        ("31d", timedelta(days=31)),
        ("", None),
        (None, None),
    ],
)
def test_durations(text: str | None, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("0m", "polls.invalid.duration_zero"),
        ("0d 0h", "polls.invalid.duration_zero"),
        ("40d", "polls.invalid.duration_too_long"),
        ("31d 1m", "polls.invalid.duration_too_long"),
        ("5w", "polls.invalid.duration_too_long"),
        ("soon", "polls.invalid.duration_unknown"),
        ("2", "polls.invalid.duration_unknown"),
        ("-1h", "polls.invalid.duration_unknown"),
        ("1.5h", "polls.invalid.duration_unknown"),
    ],
)
def test_bad_durations_are_refused(text: str, key: str) -> None:
    assert refusal(parse_duration, text).key == key


def test_max_choices_must_fit_the_options() -> None:
    assert refusal(build_poll_spec, question="Q", options="a | b", max_choices=0).key == "polls.invalid.max_choices_low"
    error = refusal(build_poll_spec, question="Q", options="a | b", max_choices=3)
    assert error.key == "polls.invalid.max_choices_high"
    assert error.values == {"value": "3", "count": Counted("units.options", 2)}
    spec = build_poll_spec(question="Q", options="a | b", max_choices=2, anonymous=True)
    assert spec.max_choices == 2
    assert spec.anonymous
    assert spec.duration is None


# -- the click rule ----------------------------------------------------------------------


def test_a_click_votes_then_retracts() -> None:
    voted = decide_vote((), 1, 1)
    assert (voted.change, voted.after) == (VoteChange.VOTED, (1,))
    retracted = decide_vote(voted.after, 1, 1)
    assert (retracted.change, retracted.after, retracted.removed) == (VoteChange.RETRACTED, (), (1,))


def test_with_one_choice_a_click_elsewhere_moves_the_vote() -> None:
    moved = decide_vote((0,), 2, 1)
    assert (moved.change, moved.before, moved.after) == (VoteChange.MOVED, (0,), (2,))
    assert (moved.added, moved.removed) == ((2,), (0,))


def test_with_several_choices_one_more_than_allowed_is_refused() -> None:
    assert decide_vote((0,), 2, 2).after == (0, 2)
    refused = decide_vote((0, 2), 1, 2)
    assert (refused.change, refused.after) == (VoteChange.REFUSED_LIMIT, (0, 2))
    assert decide_vote((0, 2), 2, 2).after == (0,)


@given(
    max_choices=st.integers(1, 20),
    clicks=st.lists(st.integers(0, 19), max_size=60),
)
def test_no_sequence_of_clicks_holds_more_than_max_choices_or_an_option_twice(
    max_choices: int, clicks: list[int]
) -> None:
    held: tuple[int, ...] = ()
    for clicked in clicks:
        transition = decide_vote(held, clicked, max_choices)
        assert transition.before == held
        held = transition.after
        assert len(held) <= max_choices
        assert len(set(held)) == len(held)
        assert list(held) == sorted(held)


# -- counting ------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=20))
def test_whole_percentages_add_up_to_100_and_stay_within_one_of_the_exact_share(counts: list[int]) -> None:
    percents = whole_percentages(counts)
    total = sum(counts)
    if total == 0:
        assert set(percents) == {0}
        return
    assert sum(percents) == 100
    for count, percent in zip(counts, percents, strict=True):
        assert abs(percent - count * 100 / total) < 1


def test_bars_show_any_vote_and_fill_for_all() -> None:
    assert draw_bar(0, 10) == "░" * 12
    assert draw_bar(1, 1000) == "█" + "░" * 11
    assert draw_bar(10, 10) == "█" * 12
    assert draw_bar(0, 0) == "░" * 12


def test_winners_are_every_option_with_the_top_count_and_nobody_without_votes() -> None:
    assert winning_options([3, 5, 5]) == {1, 2}
    assert winning_options([0, 0]) == frozenset()
    results = option_results(("a", "b"), Tally((1, 3), voters=4))
    assert [(r.count, r.percent, r.winner) for r in results] == [(1, 25, False), (3, 75, True)]
