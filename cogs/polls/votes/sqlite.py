"""SQLite's vote path: the rule of :mod:`cogs.polls.votes` decided in Python
(:func:`cogs.polls.rules.decide_vote`) inside one transaction on the store's synchronous
connection (``Store.run_transaction``): the whole batch is one trip to the store's thread,
or, for a few clicks, no trip at all (run on the event loop's thread, never waiting there).

SQLite's BEGIN IMMEDIATE makes every writer of the file take turns, so what a batch reads
stays true until its commit. A batch costs one read and at most one statement per kind of
write, however many clicks it holds: only the net change per member is written (deletes
first, so the schema's max_choices trigger sees the final count).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, delete, func, insert, select, tuple_, update

from bot.store import Store
from bot.store.precompiled import PrecompiledSqlite
from bot.store.schema import poll_options, poll_votes, polls
from cogs.polls.rules import decide_vote
from cogs.polls.votes.clicks import Click, ClickResult, ClickStatus

#: A batch this small is applied on the event loop's own thread (~0.2 ms):
#: cheaper than the trip to the store's thread; bigger batches let the loop go on meanwhile.
SMALL_BATCH = 8


async def apply_clicks(store: Store, clicks: Sequence[Click], now: datetime) -> list[ClickResult]:
    if not clicks:
        return []
    return await store.run_transaction(partial(_apply_clicks, clicks=clicks, now=now), small=len(clicks) <= SMALL_BATCH)


@dataclass(frozen=True, slots=True)
class _PollState:
    max_choices: int
    option_count: int
    closed: bool


#: (poll_id, user_id): the member's choices in that poll.
_Choices = dict[tuple[int, int], set[int]]

#: A poll members can see: its message was posted (until then the row is only being created).
_POSTED = polls.c.message_id.is_not(None)

# The vote path's statements, built once (building and keying a statement costs more than
# running it on SQLite); the lists of ids are expanding parameters.
_option_count = select(func.count()).where(poll_options.c.poll_id == polls.c.id).correlate(polls).scalar_subquery()
#: Closed, or past its deadline though the scheduler has not closed it yet (SQLite: 0 or 1).
_closed_now = (polls.c.closed_at.is_not(None) | (polls.c.closes_at <= bindparam("now"))).label("closed")


def _click_state(votes_of_clicking: ColumnElement[bool], polls_clicked: ColumnElement[bool]) -> Select[Any]:
    """Each clicked poll that is posted (id, max_choices, closed now, option count) with the
    clicking members' votes there: one row per held vote, or one with no vote."""
    return (
        select(
            polls.c.id,
            polls.c.max_choices,
            _closed_now,
            _option_count.label("option_count"),
            poll_votes.c.user_id,
            poll_votes.c.option_index,
        )
        .select_from(polls.outerjoin(poll_votes, (poll_votes.c.poll_id == polls.c.id) & votes_of_clicking))
        .where(polls_clicked, _POSTED)
    )


_CLICK_STATE = _click_state(
    tuple_(poll_votes.c.poll_id, poll_votes.c.user_id).in_(bindparam("members", expanding=True)),
    polls.c.id.in_(bindparam("poll_ids", expanding=True)),
)
# One clicking member (the common case, a lone click): the same read without expanding lists,
# whose rendering into SQL at every execution cost more than running it.
_CLICK_STATE_ONE = _click_state(poll_votes.c.user_id == bindparam("user_id"), polls.c.id == bindparam("poll_id"))
# Fixed statements run once per row (executemany), so their SQL never changes with the batch.
_DELETE_VOTE = delete(poll_votes).where(
    poll_votes.c.poll_id == bindparam("p"),
    poll_votes.c.user_id == bindparam("u"),
    poll_votes.c.option_index == bindparam("o"),
)
_INSERT_VOTE = insert(poll_votes)
_BUMP_TALLY = update(polls).where(polls.c.id == bindparam("p")).values(tally_version=polls.c.tally_version + 1)
_RAW_CLICK_STATE_ONE = PrecompiledSqlite(_CLICK_STATE_ONE)
_RAW_DELETE_VOTE = PrecompiledSqlite(_DELETE_VOTE)
_RAW_INSERT_VOTE = PrecompiledSqlite(_INSERT_VOTE)
_RAW_BUMP_TALLY = PrecompiledSqlite(_BUMP_TALLY)


def _read_click_state(
    conn: Connection, raw: sqlite3.Connection, clicks: Sequence[Click], now: datetime
) -> tuple[dict[int, _PollState], _Choices]:
    """In one statement: every clicked poll that is posted, and what each clicking member holds there
    (one row per held vote, or one with no vote for a poll nobody in the batch holds a vote in).

    What is read here stays true until the commit (see the module's docstring). The schema's
    triggers refuse a vote that would break the rules whatever this code does; a batch
    refused so fails whole and the ballot box applies its clicks one by one.
    """
    members = sorted({(click.poll_id, click.user_id) for click in clicks})
    poll_ids = sorted({poll_id for poll_id, _ in members})
    states: dict[int, _PollState] = {}
    held: _Choices = {member: set() for member in members}
    rows: Iterable[Sequence[Any]]
    if len(members) == 1:
        [(poll_id, user_id)] = members
        rows = _RAW_CLICK_STATE_ONE.fetchall(raw, {"poll_id": poll_id, "user_id": user_id, "now": now})
    else:
        rows = conn.execute(_CLICK_STATE, {"members": members, "poll_ids": poll_ids, "now": now})
    for poll_id, max_choices, closed, option_count, user_id, option_index in rows:
        states[poll_id] = _PollState(max_choices, option_count, bool(closed))
        if user_id is not None:
            held[(poll_id, user_id)].add(option_index)
    return states, held


def _apply_clicks(conn: Connection, *, clicks: Sequence[Click], now: datetime) -> list[ClickResult]:
    """The batch, in the transaction ``conn`` holds. The statements whose text never
    changes run straight on the sqlite3 connection (``PrecompiledSqlite``); only a read of
    several members goes through SQLAlchemy, for its expanding lists."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection), "SQLite's vote path on another database"
    states, held = _read_click_state(conn, raw, clicks, now)
    before = {member: frozenset(choices) for member, choices in held.items()}

    results: list[ClickResult] = []
    for click in clicks:
        poll = states.get(click.poll_id)
        if poll is None:
            results.append(ClickResult(ClickStatus.UNKNOWN_POLL))
        elif poll.closed:
            results.append(ClickResult(ClickStatus.CLOSED))
        elif not 0 <= click.option_index < poll.option_count:
            results.append(ClickResult(ClickStatus.UNKNOWN_OPTION))
        else:
            member = (click.poll_id, click.user_id)
            transition = decide_vote(held[member], click.option_index, poll.max_choices)
            held[member] = set(transition.after)
            results.append(ClickResult(ClickStatus.APPLIED, transition))

    removed = [{"p": p, "u": u, "o": i} for (p, u), choices in held.items() for i in sorted(before[(p, u)] - choices)]
    added = [
        {"poll_id": p, "user_id": u, "option_index": i, "voted_at": now}
        for (p, u), choices in held.items()
        for i in sorted(choices - before[(p, u)])
    ]
    if removed:
        _RAW_DELETE_VOTE.executemany(raw, removed)
    if added:
        _RAW_INSERT_VOTE.executemany(raw, added)
    changed = sorted({poll_id for (poll_id, user_id), choices in held.items() if choices != before[(poll_id, user_id)]})
    if changed:
        _RAW_BUMP_TALLY.executemany(raw, [{"p": poll_id} for poll_id in changed])
    return results
