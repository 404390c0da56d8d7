"""The polls feature's SQL (tables ``polls``, ``poll_options``, ``poll_votes``, ``poll_settings``
in :mod:`bot.store.schema`); nothing else touches them. The same statements run on SQLite
and PostgreSQL, but for one: the vote path.

Every write is one ``store.transaction()``. Clicks are applied in batches
(:func:`apply_clicks`): one transaction for all clicks that queued up while the
previous one ran, each click decided by the rule of :func:`cogs.polls.rules.decide_vote`,
in arrival order. On SQLite that is Python code on the store's own synchronous
connection; on PostgreSQL it is the server-side function ``poll_apply_clicks``
(revisions 0006 and 0007), so a batch is one round trip instead of six. The two are held to the
same results by ``tests/test_polls_store.py``, which runs every click test on both. The schema itself refuses a double vote, a vote beyond max_choices and
a vote on a closed poll, whatever this module does.
"""

from __future__ import annotations

import enum
import random
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.shards import EVERY_SHARD, Ownership
from bot.store import ReadConnection, Store, dialect_insert
from bot.store.precompiled import PrecompiledSqlite
from bot.store.schema import poll_options, poll_settings, poll_votes, polls
from cogs.polls.rules import PollSpec, VoteChange, VoteTransition, decide_vote
from cogs.polls.tally import Tally

#: How many polls an autocomplete shows (Discord's limit for choices).
CHOICES_LIMIT = 25
#: How many matching polls an autocomplete reads before keeping those the member may see.
CHOICES_SCAN = 100


class CloseReason(enum.Enum):
    DEADLINE = "deadline"
    COMMAND = "command"
    MESSAGE_DELETED = "message_deleted"


@dataclass(frozen=True, slots=True)
class Poll:
    """A poll as stored; options never change after creation."""

    id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    creator_id: int
    question: str
    options: tuple[str, ...]
    max_choices: int
    anonymous: bool
    hide_results: bool
    spoiler: bool
    created_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    close_reason: CloseReason | None
    announced: bool

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def results_visible(self) -> bool:
        """hide_results keeps counts back until the poll closes."""
        return not self.hide_results or not self.is_open


@dataclass(frozen=True, slots=True)
class PollSummary:
    """What an autocomplete choice needs (and its channel, for who may see it)."""

    id: int
    channel_id: int
    question: str
    is_open: bool


_POLL_COLUMNS = (
    polls.c.id,
    polls.c.guild_id,
    polls.c.channel_id,
    polls.c.message_id,
    polls.c.creator_id,
    polls.c.question,
    polls.c.max_choices,
    polls.c.anonymous,
    polls.c.hide_results,
    polls.c.spoiler,
    polls.c.created_at,
    polls.c.closes_at,
    polls.c.closed_at,
    polls.c.close_reason,
    polls.c.announced,
)

#: A poll members can see: its message was posted (until then the row is only being created).
_POSTED = polls.c.message_id.is_not(None)
_OPEN = polls.c.closed_at.is_(None)


def _poll_from_row(row: Row[tuple[object, ...]], options: Sequence[str]) -> Poll:
    m = row._mapping
    return Poll(
        id=m["id"],
        guild_id=m["guild_id"],
        channel_id=m["channel_id"],
        message_id=m["message_id"],
        creator_id=m["creator_id"],
        question=m["question"],
        options=tuple(options),
        max_choices=m["max_choices"],
        anonymous=m["anonymous"],
        hide_results=m["hide_results"],
        spoiler=m["spoiler"],
        created_at=m["created_at"],
        closes_at=m["closes_at"],
        closed_at=m["closed_at"],
        close_reason=CloseReason(m["close_reason"]) if m["close_reason"] else None,
        announced=m["announced"],
    )


async def _options_of(conn: ReadConnection, poll_ids: Iterable[int]) -> dict[int, list[str]]:
    """The option labels of several polls, in one statement."""
    rows = await conn.execute(
        select(poll_options.c.poll_id, poll_options.c.label)
        .where(poll_options.c.poll_id.in_(list(poll_ids)))
        .order_by(poll_options.c.poll_id, poll_options.c.option_index)
    )
    labels: dict[int, list[str]] = defaultdict(list)
    for poll_id, label in rows:
        labels[poll_id].append(label)
    return labels


# -- creating -------------------------------------------------------------------


class TooManyOpenPolls(Exception):
    """The guild already has as many open polls as it may have."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} open polls per guild")
        self.limit = limit


#: The first key of the advisory lock that makes a guild's poll creations take turns on
#: PostgreSQL (``pg_advisory_xact_lock(int, int)``; the second is the guild id folded to 31 bits).
CREATE_LOCK_CLASS = 0x4859504C  # "HYPL"


async def create_poll(
    store: Store,
    *,
    guild_id: int,
    channel_id: int,
    creator_id: int,
    spec: PollSpec,
    now: datetime,
    open_limit: int | None = None,
) -> Poll:
    """Store a poll and its options, not yet attached to a message (so not yet visible anywhere).

    With ``open_limit``, refuses (:class:`TooManyOpenPolls`) when the guild already has that
    many open polls, those being created included. The count and the insert are one
    transaction that a guild's creations take in turns (SQLite: every writer does;
    PostgreSQL: an advisory lock per guild), so concurrent creations cannot pass the limit.
    """
    closes_at = now + spec.duration if spec.duration is not None else None
    async with store.transaction() as conn:
        if open_limit is not None:
            if not store.is_sqlite:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:cls, :key)"),
                    {"cls": CREATE_LOCK_CLASS, "key": guild_id & 0x7FFFFFFF},
                )
            count = await conn.scalar(
                select(func.count()).select_from(polls).where(polls.c.guild_id == guild_id, _OPEN)
            )
            if int(count or 0) >= open_limit:
                raise TooManyOpenPolls(open_limit)
        row = (
            await conn.execute(
                insert(polls)
                .values(
                    guild_id=guild_id,
                    channel_id=channel_id,
                    creator_id=creator_id,
                    question=spec.question,
                    max_choices=spec.max_choices,
                    anonymous=spec.anonymous,
                    hide_results=spec.hide_results,
                    spoiler=spec.spoiler,
                    created_at=now,
                    closes_at=closes_at,
                )
                .returning(*_POLL_COLUMNS)
            )
        ).one()
        await conn.execute(
            insert(poll_options),
            [{"poll_id": row.id, "option_index": index, "label": label} for index, label in enumerate(spec.options)],
        )
    return _poll_from_row(row, spec.options)


async def attach_message(store: Store, poll_id: int, message_id: int) -> bool:
    """The poll's message is posted: from now on the poll exists for members (False: it is gone)."""
    async with store.transaction() as conn:
        result = await conn.execute(update(polls).where(polls.c.id == poll_id).values(message_id=message_id))
        return result.rowcount == 1


async def discard_unposted_poll(store: Store, poll_id: int) -> None:
    """Posting the message failed: remove the poll so nothing half-created remains."""
    async with store.transaction() as conn:
        await conn.execute(delete(polls).where(polls.c.id == poll_id, polls.c.message_id.is_(None)))


async def discard_all_unposted_polls(store: Store, owned: Ownership = EVERY_SHARD) -> int:
    """At start-up: polls whose creation was cut short by a crash never reached anyone.

    Only in guilds of this process's shards: a guild's ``/poll create`` comes through the
    process that owns it, and another process may be creating one of its own right now.
    """
    async with store.transaction() as conn:
        result = await conn.execute(delete(polls).where(polls.c.message_id.is_(None), owned.clause(polls.c.guild_id)))
        return result.rowcount


# -- reading --------------------------------------------------------------------


async def fetch_poll(conn: ReadConnection, poll_id: int) -> Poll | None:
    row = (await conn.execute(select(*_POLL_COLUMNS).where(polls.c.id == poll_id))).first()
    if row is None:
        return None
    options = await _options_of(conn, [poll_id])
    return _poll_from_row(row, options[poll_id])


async def fetch_guild_poll(conn: ReadConnection, guild_id: int, poll_id: int) -> Poll | None:
    """A posted poll of this guild, or None (another guild's id is as good as unknown)."""
    poll = await fetch_poll(conn, poll_id)
    if poll is None or poll.guild_id != guild_id or poll.message_id is None:
        return None
    return poll


def _like_pattern(fragment: str) -> str:
    """``%fragment%`` with the fragment's own wildcards escaped (ESCAPE '\\')."""
    return "%" + fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def find_guild_polls(
    conn: ReadConnection, guild_id: int, search: str, *, open_only: bool, limit: int = CHOICES_SCAN
) -> list[PollSummary]:
    """Polls of a guild for autocomplete, newest first, matching a question fragment
    (ignoring case, on either database) or an id (``12`` or ``#12``); the caller keeps
    those the member may see."""
    fragment = search.strip()
    matches = polls.c.question.ilike(_like_pattern(fragment), escape="\\") | (
        cast(polls.c.id, String) == fragment.lstrip("#")
    )
    query = (
        select(polls.c.id, polls.c.channel_id, polls.c.question, polls.c.closed_at)
        .where(polls.c.guild_id == guild_id, _POSTED, matches)
        .order_by(polls.c.id.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(_OPEN)
    rows = await conn.execute(query)
    return [PollSummary(row.id, row.channel_id, row.question, row.closed_at is None) for row in rows]


async def list_open_polls(conn: ReadConnection, guild_id: int, *, limit: int) -> list[Poll]:
    rows = (
        await conn.execute(
            select(*_POLL_COLUMNS)
            .where(polls.c.guild_id == guild_id, _OPEN, _POSTED)
            .order_by(polls.c.id.desc())
            .limit(limit)
        )
    ).all()
    if not rows:
        return []
    options = await _options_of(conn, [row.id for row in rows])
    return [_poll_from_row(row, options[row.id]) for row in rows]


async def count_open_polls(conn: AsyncConnection, guild_id: int) -> int:
    count = await conn.scalar(
        select(func.count()).select_from(polls).where(polls.c.guild_id == guild_id, _OPEN, _POSTED)
    )
    return int(count or 0)


#: Markers of the two extra rows :func:`read_tally` reads beside the per-option counts.
_VOTERS, _VERSION = -1, -2


async def read_tally(store: Store, poll_id: int, option_count: int) -> tuple[Tally, int]:
    """The exact counts and the tally version they belong to.

    One statement, so counts and version come from the same committed state.
    """
    of_poll = poll_votes.c.poll_id == poll_id
    query = union_all(
        select(poll_votes.c.option_index, func.count()).where(of_poll).group_by(poll_votes.c.option_index),
        select(literal(_VOTERS), func.count(poll_votes.c.user_id.distinct())).where(of_poll),
        select(literal(_VERSION), polls.c.tally_version).where(polls.c.id == poll_id),
    )
    async with store.read() as conn:
        rows = (await conn.execute(query)).all()
    values = [(int(index), int(value)) for index, value in rows]
    special = {index: value for index, value in values if index < 0}
    counts = [(index, value) for index, value in values if index >= 0]
    return Tally.from_rows(option_count, counts, special.get(_VOTERS, 0)), special.get(_VERSION, 0)


async def member_choices(conn: AsyncConnection, poll_id: int, user_id: int) -> tuple[int, ...]:
    rows = await conn.execute(
        select(poll_votes.c.option_index)
        .where(poll_votes.c.poll_id == poll_id, poll_votes.c.user_id == user_id)
        .order_by(poll_votes.c.option_index)
    )
    return tuple(int(index) for index in rows.scalars())


@dataclass(frozen=True, slots=True)
class Ballot:
    """One stored vote, for the export of a poll that is not anonymous."""

    user_id: int
    option_index: int
    voted_at: datetime


async def fetch_ballots(conn: ReadConnection, poll: Poll) -> list[Ballot]:
    """Who voted for what; refuses anonymous polls, whose voters never leave the store."""
    if poll.anonymous:
        raise PermissionError("the voters of an anonymous poll are never read out")
    rows = await conn.execute(
        select(poll_votes.c.user_id, poll_votes.c.option_index, poll_votes.c.voted_at)
        .where(poll_votes.c.poll_id == poll.id)
        .order_by(poll_votes.c.voted_at, poll_votes.c.user_id, poll_votes.c.option_index)
    )
    return [Ballot(row.user_id, row.option_index, row.voted_at) for row in rows]


# -- voting ---------------------------------------------------------------------


class ClickStatus(enum.Enum):
    APPLIED = "applied"  # the transition says what happened (a refusal over the limit included)
    CLOSED = "closed"
    UNKNOWN_POLL = "unknown_poll"
    UNKNOWN_OPTION = "unknown_option"


@dataclass(frozen=True, slots=True)
class Click:
    poll_id: int
    user_id: int
    option_index: int


@dataclass(frozen=True, slots=True)
class ClickResult:
    status: ClickStatus
    transition: VoteTransition | None = None


@dataclass(frozen=True, slots=True)
class _PollState:
    max_choices: int
    option_count: int
    closed: bool


#: (poll_id, user_id): the member's choices in that poll.
_Choices = dict[tuple[int, int], set[int]]


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

    SQLite only: its BEGIN IMMEDIATE makes every writer of the file take turns, so what is
    read here stays true until the commit. (PostgreSQL runs ``poll_apply_clicks``, which
    locks the clicked polls' rows first.) The schema's triggers refuse a vote that would
    break the rules whatever this code does; a batch refused so fails whole and the ballot
    box applies its clicks one by one.
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


async def apply_clicks(store: Store, clicks: Sequence[Click], now: datetime) -> list[ClickResult]:
    """Apply clicks in order in ONE transaction; the results are committed when this returns.

    A batch costs one read and at most one statement per kind of write, however many
    clicks it holds: only the net change per member is written (deletes first, so the
    schema's max_choices trigger sees the final count), and every poll whose votes
    changed gets its tally_version bumped so a stale message is noticed even after a crash.
    """
    if not clicks:
        return []
    if not store.is_sqlite:
        return await _apply_clicks_on_server(store, clicks, now)
    # Synchronous inside: on SQLite the whole batch is one trip to the store's thread, or,
    # for a few clicks, no trip at all (run on the event loop's thread, never waiting there).
    return await store.run_transaction(partial(_apply_clicks, clicks=clicks, now=now), small=len(clicks) <= SMALL_BATCH)


#: A batch this small is applied on the event loop's own thread on SQLite (~0.2 ms):
#: cheaper than the trip to the store's thread; bigger batches let the loop go on meanwhile.
SMALL_BATCH = 8


#: PostgreSQL: the whole batch in one statement, its own transaction (see revisions 0006 and 0007).
_APPLY_ON_SERVER = "SELECT status, change, before, after FROM poll_apply_clicks($1, $2, $3, $4)"


async def _apply_clicks_on_server(store: Store, clicks: Sequence[Click], now: datetime) -> list[ClickResult]:
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


def _apply_clicks(conn: Connection, *, clicks: Sequence[Click], now: datetime) -> list[ClickResult]:
    """SQLite's batch, in the transaction ``conn`` holds. The statements whose text never
    changes run straight on the sqlite3 connection (``PrecompiledSqlite``); only a read of
    several members goes through SQLAlchemy, for its expanding lists."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection), "PostgreSQL runs poll_apply_clicks instead"
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


# -- refreshing and closing -----------------------------------------------------


async def mark_rendered(store: Store, poll_id: int, version: int) -> None:
    """The message now shows the tally of ``version`` (never moves backwards)."""
    async with store.transaction() as conn:
        await conn.execute(
            update(polls)
            .where(polls.c.id == poll_id, polls.c.rendered_version < version)
            .values(rendered_version=version)
        )


async def stale_open_polls(conn: ReadConnection, owned: Ownership = EVERY_SHARD) -> list[int]:
    """Open polls of owned guilds whose message shows an older tally than the store (after a crash)."""
    rows = await conn.execute(
        select(polls.c.id)
        .where(
            _OPEN,
            _POSTED,
            polls.c.tally_version != polls.c.rendered_version,
            owned.clause(polls.c.guild_id),
        )
        .order_by(polls.c.id)
    )
    return list(rows.scalars())


async def close_poll(store: Store, poll_id: int, now: datetime, reason: CloseReason) -> bool:
    """Close an open poll; False when it was already closed (a second close changes nothing).

    An anonymous poll forgets its voters in the same transaction (:func:`_forget_voters`).
    """
    async with store.transaction() as conn:
        rows = await conn.execute(
            update(polls)
            .where(polls.c.id == poll_id, _OPEN, _POSTED)
            .values(closed_at=now, close_reason=reason.value)
            .returning(polls.c.anonymous)
        )
        closed = rows.first()
        if closed is not None and closed.anonymous:
            await _forget_voters(conn, [poll_id], now)
        return closed is not None


async def close_expired_polls(store: Store, now: datetime, owned: Ownership = EVERY_SHARD) -> list[int]:
    """Close every open poll of an owned guild whose deadline is at or before ``now``; returns their ids."""
    async with store.transaction() as conn:
        rows = await conn.execute(
            update(polls)
            .where(
                _OPEN,
                _POSTED,
                polls.c.closes_at.is_not(None),
                polls.c.closes_at <= now,
                owned.clause(polls.c.guild_id),
            )
            .values(closed_at=polls.c.closes_at, close_reason=CloseReason.DEADLINE.value)
            .returning(polls.c.id, polls.c.anonymous)
        )
        closed = rows.all()
        await _forget_voters(conn, [row.id for row in closed if row.anonymous], now)
        return sorted(row.id for row in closed)


# -- forgetting voters ----------------------------------------------------------
#
# A closed poll's tally is read from its vote rows, so forgetting who voted keeps the rows
# and replaces each voter's id with a stand-in: -1, -2, ... per poll, in random order,
# and every vote's time with the poll's close time. The counts per option and the number
# of voters stay exact; who voted, and when, is gone. Discord ids are positive, so a stand-in
# never matches a member. (The schema's vote triggers check inserts only.)

#: A vote row whose voter is still known.
_KNOWN_VOTER = poll_votes.c.user_id > 0


async def _forget_voters(conn: AsyncConnection, poll_ids: Sequence[int], now: datetime) -> int:
    """Replace the voters of these polls by stand-ins; returns how many votes were changed."""
    if not poll_ids:
        return 0
    rows = (
        await conn.execute(
            select(poll_votes.c.poll_id, poll_votes.c.user_id)
            .where(poll_votes.c.poll_id.in_(list(poll_ids)), _KNOWN_VOTER)
            .distinct()
        )
    ).all()
    voters: dict[int, list[int]] = defaultdict(list)
    for poll_id, user_id in rows:
        voters[poll_id].append(user_id)
    changes = []
    shuffle = random.SystemRandom().shuffle
    for poll_id, user_ids in voters.items():
        shuffle(user_ids)
        taken = await conn.scalar(select(func.min(poll_votes.c.user_id)).where(poll_votes.c.poll_id == poll_id))
        first = min(int(taken or 0), 0) - 1
        changes += [{"p": poll_id, "u": user_id, "n": first - n} for n, user_id in enumerate(user_ids)]
    if changes:
        await conn.execute(
            update(poll_votes)
            .where(poll_votes.c.poll_id == bindparam("p"), poll_votes.c.user_id == bindparam("u"))
            .values(user_id=bindparam("n"), voted_at=now),
            changes,
        )
    return len(changes)


def _forget_due(cutoff: datetime) -> ColumnElement[bool]:
    """Closed polls whose voters are to be forgotten: anonymous ones at once, others once
    they closed at or before ``cutoff`` (now minus the retention)."""
    return polls.c.closed_at.is_not(None) & (
        (polls.c.anonymous == True) | (polls.c.closed_at <= cutoff)  # noqa: E712 (SQL, not Python)
    )


def _has_known_voter() -> ColumnElement[bool]:
    return (
        select(poll_votes.c.poll_id).where(poll_votes.c.poll_id == polls.c.id, _KNOWN_VOTER).correlate(polls).exists()
    )


async def next_forgetting(
    conn: ReadConnection, retention: timedelta, owned: Ownership = EVERY_SHARD
) -> datetime | None:
    """Over owned guilds: when the voters of a closed poll are next due to be forgotten
    (an anonymous poll's at its close: those closed before this rule existed)."""
    anonymous = polls.c.anonymous == True  # noqa: E712 (SQL, not Python)
    remembered = polls.c.closed_at.is_not(None) & owned.clause(polls.c.guild_id) & _has_known_voter()
    kept: datetime | None = await conn.scalar(select(func.min(polls.c.closed_at)).where(remembered, ~anonymous))
    at_once: datetime | None = await conn.scalar(select(func.min(polls.c.closed_at)).where(remembered, anonymous))
    due = [when for when in (kept + retention if kept is not None else None, at_once) if when is not None]
    return min(due) if due else None


#: Polls whose voters one pass forgets at most (the next pass follows at once).
FORGET_BATCH = 100


async def forget_expired_voters(
    store: Store, now: datetime, retention: timedelta, owned: Ownership = EVERY_SHARD
) -> list[int]:
    """Forget the voters of owned guilds' polls closed ``retention`` ago (anonymous ones: at
    once); their tallies stay. Returns the polls changed (at most :data:`FORGET_BATCH`)."""
    async with store.transaction() as conn:
        due = (
            await conn.execute(
                select(polls.c.id)
                .where(_forget_due(now - retention), owned.clause(polls.c.guild_id), _has_known_voter())
                .order_by(polls.c.closed_at, polls.c.id)
                .limit(FORGET_BATCH)
            )
        ).scalars()
        poll_ids = list(due)
        await _forget_voters(conn, poll_ids, now)
    return poll_ids


def counts_only(poll: Poll, now: datetime, retention: timedelta) -> bool:
    """Whether the poll's export holds only counts: it is anonymous, or it closed
    ``retention`` ago and its voters are forgotten (or about to be)."""
    return poll.anonymous or (poll.closed_at is not None and poll.closed_at <= now - retention)


#: A closed poll whose final edit and results post are still to be done.
_UNANNOUNCED = polls.c.closed_at.is_not(None) & (polls.c.announced == False)  # noqa: E712 (SQL, not Python)


async def unannounced_polls(conn: ReadConnection, owned: Ownership = EVERY_SHARD) -> list[int]:
    """Closed polls of owned guilds whose final message edit and results post are still to be done."""
    rows = await conn.execute(
        select(polls.c.id).where(_UNANNOUNCED, owned.clause(polls.c.guild_id)).order_by(polls.c.closed_at, polls.c.id)
    )
    return list(rows.scalars())


async def mark_announced(store: Store, poll_id: int) -> None:
    async with store.transaction() as conn:
        await conn.execute(
            update(polls).where(polls.c.id == poll_id, polls.c.closed_at.is_not(None)).values(announced=True)
        )


async def next_poll_job(conn: ReadConnection, owned: Ownership = EVERY_SHARD) -> datetime | None:
    """Over owned guilds: the earliest deadline of an open poll, or the close time of a poll
    not yet announced."""
    mine = owned.clause(polls.c.guild_id)
    due = union_all(
        select(func.min(polls.c.closes_at).label("due")).where(_OPEN, _POSTED, polls.c.closes_at.is_not(None), mine),
        select(func.min(polls.c.closed_at)).where(_UNANNOUNCED, mine),
    ).subquery()
    earliest: datetime | None = await conn.scalar(select(func.min(due.c.due)))
    return earliest


# -- settings -------------------------------------------------------------------


async def fetch_creator_role(conn: ReadConnection, guild_id: int) -> int | None:
    role_id: int | None = await conn.scalar(
        select(poll_settings.c.creator_role_id).where(poll_settings.c.guild_id == guild_id)
    )
    return role_id


async def set_creator_role(store: Store, guild_id: int, role_id: int | None) -> None:
    """Restrict poll creation to a role, or lift the restriction with None."""
    async with store.transaction() as conn:
        if role_id is None:
            await conn.execute(delete(poll_settings).where(poll_settings.c.guild_id == guild_id))
        else:
            upsert = dialect_insert(conn, poll_settings).values(guild_id=guild_id, creator_role_id=role_id)
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[poll_settings.c.guild_id],
                    set_={"creator_role_id": upsert.excluded.creator_role_id},
                )
            )
