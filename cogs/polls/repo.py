"""The polls feature's SQL (tables ``polls``, ``poll_options``, ``poll_votes``, ``poll_settings``
in :mod:`bot.store.schema`); nothing else touches them. The same statements run on SQLite
and PostgreSQL; the vote path, where each database has its own fastest way, is
:mod:`cogs.polls.votes` (its :func:`~cogs.polls.votes.apply_clicks` is this module's too).

Every write is one ``store.transaction()``. The schema itself refuses a double vote, a vote
beyond max_choices and a vote on a closed poll, whatever this module does.
"""

from __future__ import annotations

import enum
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.shards import EVERY_SHARD, Ownership
from bot.store import ReadConnection, Store, dialect_insert
from bot.store.schema import poll_options, poll_settings, poll_votes, polls
from cogs.polls.rules import PollSpec
from cogs.polls.tally import Tally
from cogs.polls.votes import Click as Click
from cogs.polls.votes import ClickResult as ClickResult
from cogs.polls.votes import ClickStatus as ClickStatus
from cogs.polls.votes import apply_clicks as apply_clicks

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
