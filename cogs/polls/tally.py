"""Counting a poll: per-option counts, whole-number shares that add up to 100, bars, winners.

Shares are of all votes cast (with several choices a member casts several votes),
so the bars of one poll always add up to the same length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BAR_WIDTH = 12
BAR_FULL = "█"
BAR_EMPTY = "░"


@dataclass(frozen=True, slots=True)
class OptionResult:
    """One option's line in a tally."""

    index: int
    label: str
    count: int
    percent: int
    bar: str
    winner: bool


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts of one poll; ``voters`` is the number of distinct members who hold a vote."""

    counts: tuple[int, ...]
    voters: int

    @property
    def votes(self) -> int:
        return sum(self.counts)

    @classmethod
    def empty(cls, option_count: int) -> Tally:
        return cls((0,) * option_count, 0)

    @classmethod
    def from_rows(cls, option_count: int, rows: Iterable[tuple[int, int]], voters: int) -> Tally:
        """From (option_index, count) rows; options nobody chose count zero."""
        counts = [0] * option_count
        for index, count in rows:
            if 0 <= index < option_count:
                counts[index] = count
        return cls(tuple(counts), voters)


def whole_percentages(counts: Sequence[int]) -> tuple[int, ...]:
    """Shares in whole percent that add up to exactly 100 (largest remainders get the rounding)."""
    total = sum(counts)
    if total <= 0:
        return tuple(0 for _ in counts)
    exact = [count * 100 / total for count in counts]
    floors = [int(value) for value in exact]
    missing = 100 - sum(floors)
    by_remainder = sorted(range(len(counts)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in by_remainder[:missing]:
        floors[i] += 1
    return tuple(floors)


def draw_bar(count: int, total: int, width: int = BAR_WIDTH) -> str:
    """A text bar; any vote shows at least one block, so "some" never looks like "none"."""
    if total <= 0 or count <= 0:
        return BAR_EMPTY * width
    filled = max(1, round(width * count / total))
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def winning_options(counts: Sequence[int]) -> frozenset[int]:
    """Every option with the top count (a tie has several winners); none without votes."""
    top = max(counts, default=0)
    if top <= 0:
        return frozenset()
    return frozenset(i for i, count in enumerate(counts) if count == top)


def option_results(labels: Sequence[str], tally: Tally) -> tuple[OptionResult, ...]:
    """The lines of a results table, in option order."""
    percents = whole_percentages(tally.counts)
    winners = winning_options(tally.counts)
    total = tally.votes
    return tuple(
        OptionResult(
            index=i,
            label=label,
            count=tally.counts[i],
            percent=percents[i],
            bar=draw_bar(tally.counts[i], total),
            winner=i in winners,
        )
        for i, label in enumerate(labels)
    )
