"""CSV exports of a poll: every vote with its voter, or, for anonymous polls, only the counts.

Cells that a spreadsheet would read as a formula are prefixed with an apostrophe,
because option labels are whatever a member typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from cogs.polls.repo import Ballot, Poll
from cogs.polls.tally import Tally, whole_percentages

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def ballots_csv(poll: Poll, ballots: Iterable[Ballot]) -> bytes:
    """One row per vote: who chose which option when (never called for anonymous polls)."""
    if poll.anonymous:
        raise PermissionError("an anonymous poll's export holds only counts")
    return _to_csv(
        ("poll_id", "user_id", "option_number", "option", "voted_at"),
        (
            (
                poll.id,
                ballot.user_id,
                ballot.option_index + 1,
                spreadsheet_safe(poll.options[ballot.option_index]),
                ballot.voted_at.isoformat(),
            )
            for ballot in ballots
        ),
    )


def counts_csv(poll: Poll, tally: Tally) -> bytes:
    """One row per option: its count and share; nothing about who voted."""
    percents = whole_percentages(tally.counts)
    return _to_csv(
        ("poll_id", "option_number", "option", "votes", "percent"),
        (
            (poll.id, index + 1, spreadsheet_safe(label), tally.counts[index], percents[index])
            for index, label in enumerate(poll.options)
        ),
    )


def export_filename(poll: Poll, *, counts: bool) -> str:
    """``counts``: the file holds only counts (an anonymous poll, or voters forgotten)."""
    kind = "counts" if counts else "votes"
    return f"poll-{poll.id}-{kind}.csv"
