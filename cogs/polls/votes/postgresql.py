"""PostgreSQL's vote path: the whole batch is one statement, the server-side function
``poll_apply_clicks`` (revisions 0006 and 0007), its own transaction, so a batch is one
round trip instead of six. The function locks the clicked polls' rows first (in id order,
so two batches never deadlock) and applies the rule of :mod:`cogs.polls.votes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.store import Store
from cogs.polls.rules import VoteChange, VoteTransition
from cogs.polls.votes.clicks import Click, ClickResult, ClickStatus

#: Straight on asyncpg (``Store.fetch_on_driver``): SQLAlchemy's statement layer would cost more than it.
_APPLY_ON_SERVER = "SELECT status, change, before, after FROM poll_apply_clicks($1, $2, $3, $4)"


async def apply_clicks(store: Store, clicks: Sequence[Click], now: datetime) -> list[ClickResult]:
    if not clicks:
        return []
    rows = await store.fetch_on_driver(
        _APPLY_ON_SERVER,
        [click.poll_id for click in clicks],
        [click.user_id for click in clicks],
        [click.option_index for click in clicks],
        now,
    )
    results: list[ClickResult] = []
    for click, row in zip(clicks, rows, strict=True):
        status = ClickStatus(row["status"])
        if status is not ClickStatus.APPLIED:
            results.append(ClickResult(status))
            continue
        transition = VoteTransition(
            change=VoteChange(row["change"]),
            clicked=click.option_index,
            before=tuple(row["before"]),
            after=tuple(row["after"]),
        )
        results.append(ClickResult(status, transition))
    return results
