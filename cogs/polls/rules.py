"""What a poll may be and what a click does: plain values in, plain values out.

Everything a member types into ``/poll create`` is checked here before anything is
written, so a refused poll leaves nothing behind; the vote rule is the one the
store applies inside its transaction, so the tests here describe the real thing.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.i18n import Counted
from bot.usertext import clean_text, fold_key, is_blank

QUESTION_MAX = 256
OPTIONS_MIN = 2
OPTIONS_MAX = 20
OPTION_MAX = 80
OPTION_SEPARATOR = "|"
DURATION_MAX = timedelta(days=31)

_UNITS: dict[str, timedelta] = {
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "mins": timedelta(minutes=1),
    "minute": timedelta(minutes=1),
    "minutes": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "hour": timedelta(hours=1),
    "hours": timedelta(hours=1),
    "d": timedelta(days=1),
    "day": timedelta(days=1),
    "days": timedelta(days=1),
    "w": timedelta(weeks=1),
    "week": timedelta(weeks=1),
    "weeks": timedelta(weeks=1),
}
_DURATION_PART = re.compile(r"\s*(\d{1,6})\s*([a-z]+)\s*")
# Mass mentions do not ping (allowed_mentions is none) but read as if they did.
_MASS_MENTION = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_SPOILER_BARS = "||"


class InvalidPoll(ValueError):
    """A member's input that cannot become a poll; ``key`` names the catalog text."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class PollSpec:
    """A validated poll, ready to be stored and posted."""

    question: str
    options: tuple[str, ...]
    duration: timedelta | None
    max_choices: int
    anonymous: bool
    hide_results: bool
    spoiler: bool


def parse_question(text: str) -> str:
    """Trimmed, 1-256 characters, no mass mention, no spoiler bars (the poll renders its own)."""
    question = clean_text(text)
    if is_blank(question):
        raise InvalidPoll("polls.invalid.question_empty")
    if len(question) > QUESTION_MAX:
        raise InvalidPoll(
            "polls.invalid.question_too_long",
            limit=Counted("units.characters", QUESTION_MAX),
            length=Counted("units.characters", len(question)),
        )
    if _MASS_MENTION.search(question):
        raise InvalidPoll("polls.invalid.question_mention")
    if _SPOILER_BARS in question:
        raise InvalidPoll("polls.invalid.question_bars")
    return question


def parse_options(text: str) -> tuple[str, ...]:
    """ "A | B | C" into trimmed options: 2-20, each 1-80 characters, unique as seen on screen.

    Runs of whitespace (newlines too) become one space, so an option is always one line.
    """
    options = tuple(" ".join(clean_text(part).split()) for part in text.split(OPTION_SEPARATOR))
    if len(options) < OPTIONS_MIN:
        raise InvalidPoll("polls.invalid.too_few_options", minimum=Counted("units.options", OPTIONS_MIN))
    if len(options) > OPTIONS_MAX:
        raise InvalidPoll(
            "polls.invalid.too_many_options", maximum=OPTIONS_MAX, count=Counted("units.options", len(options))
        )
    seen: dict[str, int] = {}
    for number, option in enumerate(options, start=1):
        if is_blank(option):
            raise InvalidPoll("polls.invalid.option_empty", number=number)
        if len(option) > OPTION_MAX:
            raise InvalidPoll(
                "polls.invalid.option_too_long",
                number=number,
                limit=Counted("units.characters", OPTION_MAX),
                length=Counted("units.characters", len(option)),
            )
        if _MASS_MENTION.search(option):
            raise InvalidPoll("polls.invalid.option_mention", number=number)
        folded = fold_key(option)  # "Yes", "yes" and "Ye\u200bs" look the same on screen
        if folded in seen:
            raise InvalidPoll("polls.invalid.option_duplicate", number=number, first=seen[folded], option=option)
        seen[folded] = number
    return options


def parse_duration(text: str | None) -> timedelta | None:
    """ "30m", "2h", "3d", "1w" (or "1d 12h"), more than zero and at most 31 days; None: no deadline.

    Parsing stops at the first part that takes the sum past the maximum, so any input
    costs at most a few parts' work beyond it and never overflows.
    """
    if text is None or not text.strip():
        return None
    raw = text.strip().lower()
    total = timedelta()
    position = 0
    while position < len(raw):
        match = _DURATION_PART.match(raw, position)
        if match is None or match.group(2) not in _UNITS:
            raise InvalidPoll("polls.invalid.duration_unknown", value=text.strip()[:32])
        total += int(match.group(1)) * _UNITS[match.group(2)]
        if total > DURATION_MAX:  # stop here: adding on would only overflow timedelta
            raise InvalidPoll("polls.invalid.duration_too_long", days=Counted("units.days", DURATION_MAX.days))
        position = match.end()
    if total <= timedelta():
        raise InvalidPoll("polls.invalid.duration_zero")
    if total > DURATION_MAX:
        raise InvalidPoll("polls.invalid.duration_too_long", days=Counted("units.days", DURATION_MAX.days))
    return total


def check_max_choices(max_choices: int, option_count: int) -> int:
    """At least 1 and at most the number of options."""
    if max_choices < 1:
        raise InvalidPoll("polls.invalid.max_choices_low")
    if max_choices > option_count:
        raise InvalidPoll(
            "polls.invalid.max_choices_high", value=str(max_choices), count=Counted("units.options", option_count)
        )
    return max_choices


def build_poll_spec(
    *,
    question: str,
    options: str,
    duration: str | None = None,
    max_choices: int = 1,
    anonymous: bool = False,
    hide_results: bool = False,
    spoiler: bool = False,
) -> PollSpec:
    """Check every input of ``/poll create``; the first problem found is raised."""
    checked_question = parse_question(question)
    checked_options = parse_options(options)
    return PollSpec(
        question=checked_question,
        options=checked_options,
        duration=parse_duration(duration),
        max_choices=check_max_choices(max_choices, len(checked_options)),
        anonymous=anonymous,
        hide_results=hide_results,
        spoiler=spoiler,
    )


class VoteChange(enum.Enum):
    """What one click on an option did."""

    VOTED = "voted"
    RETRACTED = "retracted"
    MOVED = "moved"
    REFUSED_LIMIT = "refused_limit"


@dataclass(frozen=True, slots=True)
class VoteTransition:
    """A member's choices before and after one click (option indexes, ascending)."""

    change: VoteChange
    clicked: int
    before: tuple[int, ...]
    after: tuple[int, ...]

    @property
    def added(self) -> tuple[int, ...]:
        return tuple(i for i in self.after if i not in self.before)

    @property
    def removed(self) -> tuple[int, ...]:
        return tuple(i for i in self.before if i not in self.after)


def decide_vote(current: Iterable[int], clicked: int, max_choices: int) -> VoteTransition:
    """The click rule: a chosen option is retracted; a free slot takes the vote; with one
    choice allowed the vote moves; with several allowed and none free, it is refused."""
    before = tuple(sorted(set(current)))
    if clicked in before:
        change, after = VoteChange.RETRACTED, tuple(i for i in before if i != clicked)
    elif len(before) < max_choices:
        change, after = VoteChange.VOTED, tuple(sorted((*before, clicked)))
    elif max_choices == 1:
        change, after = VoteChange.MOVED, (clicked,)
    else:
        change, after = VoteChange.REFUSED_LIMIT, before
    return VoteTransition(change=change, clicked=clicked, before=before, after=after)
