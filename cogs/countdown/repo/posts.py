"""The ledger (``countdown_posts``): one row per guild and slot, claimed before it is sent.

A claim writes the ledger and moves its schedule in one transaction; how a send went is
recorded on both, so these units of work take the schedules' own statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.shards import EVERY_SHARD, Ownership
from bot.store import ReadConnection, Store, dialect_insert
from bot.store.schema import countdown_posts as posts
from cogs.countdown.repo import schedules
from cogs.countdown.repo.schedules import Advance, Mode

Occasion = Literal["scheduled", "milestone", "change"]


@dataclass(frozen=True, slots=True)
class Claim:
    """A slot to claim: what to post where, under which nonce."""

    guild_id: int
    slot_key: str
    channel_id: int
    mode: Mode
    occasion: Occasion
    change_id: int
    nonce: str
    due_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PostJob:
    """A claimed slot on its way to Discord (first attempt or retry)."""

    claim: Claim
    claimed_at: dt.datetime
    attempts: int


#: Claim's fields, each the column of the same name; the first two are the key.
_CLAIM_COLUMNS = (
    posts.c.guild_id,
    posts.c.slot_key,
    posts.c.channel_id,
    posts.c.mode,
    posts.c.occasion,
    posts.c.change_id,
    posts.c.nonce,
    posts.c.due_at,
)
#: A job: its claim, when it was claimed and how many attempts were made.
_JOB_COLUMNS = (*_CLAIM_COLUMNS, posts.c.claimed_at, posts.c.attempts)


def _job(row: Row[Any]) -> PostJob:
    values = row._mapping
    claim = Claim(**{column.name: values[column] for column in _CLAIM_COLUMNS})
    return PostJob(claim, values[posts.c.claimed_at], int(values[posts.c.attempts]))


def _of_job(job: PostJob) -> tuple[Any, ...]:
    """Conditions selecting ``job``'s ledger row."""
    return posts.c.guild_id == job.claim.guild_id, posts.c.slot_key == job.claim.slot_key


async def _claim(conn: AsyncConnection, claim: Claim, now: dt.datetime) -> bool:
    """Insert the ledger row of ``claim``; False when the slot is already there (and did not fail)."""
    insert = dialect_insert(conn, posts).values(
        **{column.name: getattr(claim, column.name) for column in _CLAIM_COLUMNS},
        claimed_at=now,
        state="claimed",
        attempts=0,
    )
    excluded = insert.excluded
    # A slot that failed for good (Discord refused it: nothing was posted) may be claimed
    # again, e.g. after a moderator fixed the channel; any other state is never claimed twice.
    stmt = insert.on_conflict_do_update(
        index_elements=[posts.c.guild_id, posts.c.slot_key],
        set_={
            **{column.name: excluded[column.name] for column in _CLAIM_COLUMNS[2:]},
            "claimed_at": excluded.claimed_at,
            "state": "claimed",
            "attempts": 0,
            "retry_at": None,
            "message_id": None,
            "finished_at": None,
        },
        where=posts.c.state == "failed",
    )
    result = await conn.execute(stmt)
    return result.rowcount > 0


async def _take_retry(conn: AsyncConnection, guild_id: int, slot_key: str) -> PostJob | None:
    """The claimed slot waiting for a retry, now taken (None: sent, given up or taken meanwhile)."""
    row = (
        await conn.execute(
            update(posts)
            .where(
                posts.c.guild_id == guild_id,
                posts.c.slot_key == slot_key,
                posts.c.state == "claimed",
                posts.c.retry_at.is_not(None),
            )
            .values(retry_at=None)
            .returning(*_JOB_COLUMNS)
        )
    ).first()
    return None if row is None else _job(row)


async def claim_slots(
    store: Store,
    claims: Sequence[Claim],
    advances: Sequence[Advance],
    announced: Sequence[tuple[int, int]],
    retries: Sequence[tuple[int, str]],
    now: dt.datetime,
) -> list[PostJob]:
    """One transaction: insert ledger rows (a slot already there is not claimed again), move
    schedules on, mark news as announced, and take due retries; returns what to send.

    Every step is one statement whose condition is checked on the row it writes (the
    primary key and ``WHERE state = 'failed'`` for a claim, ``WHERE retry_at IS NOT NULL``
    for a retry, a CASE keeping the larger announced change), so none relies on a read made
    before it, whichever process runs beside this one.
    """
    jobs: list[PostJob] = []
    async with store.transaction() as conn:
        for claim in claims:
            if await _claim(conn, claim, now):
                jobs.append(PostJob(claim, now, 0))
        await schedules.move_schedules(conn, advances)
        await schedules.mark_announced(conn, announced)
        for guild_id, slot_key in retries:
            job = await _take_retry(conn, guild_id, slot_key)
            if job is not None:
                jobs.append(job)
    return jobs


#: How far back the ledger is read for days that already had their post: a zone change moves
#: "today" by at most a day, so two days cover every local day a next slot can fall on.
POSTED_LOOKBACK = dt.timedelta(days=2)

#: Regular slots' keys ("day:YYYY-MM-DD"). ``LIKE`` with no wildcard but the last one matches
#: the same keys in both databases (no other key starts with "day" in any case).
_DAY_PREFIX = "day:"


async def posted_days(
    conn: ReadConnection, guild_ids: Sequence[int], since: dt.datetime
) -> dict[int, frozenset[dt.date]]:
    """Per guild, the local days from ``since`` on whose regular post is claimed, sent or
    abandoned (a post that failed for good, e.g. on missing permissions, may be tried again)."""
    if not guild_ids:
        return {}
    found: dict[int, set[dt.date]] = {}
    # Keys of one shape compare as their dates under any collation (the old upper bound
    # 'day;' did not: a PostgreSQL database with a linguistic collation ignores punctuation).
    first_key = f"{_DAY_PREFIX}{since.date().isoformat()}"
    for start in range(0, len(guild_ids), 500):
        chunk = list(guild_ids[start : start + 500])
        rows = await conn.execute(
            select(posts.c.guild_id, posts.c.slot_key).where(
                posts.c.guild_id.in_(chunk),
                posts.c.slot_key >= first_key,
                posts.c.slot_key.like(f"{_DAY_PREFIX}%"),
                posts.c.state.in_(("claimed", "sent", "abandoned")),
            )
        )
        for guild_id, slot_key in rows:
            found.setdefault(int(guild_id), set()).add(dt.date.fromisoformat(slot_key.removeprefix(_DAY_PREFIX)))
    return {guild_id: frozenset(days) for guild_id, days in found.items()}


async def due_retries(
    conn: ReadConnection, now: dt.datetime, limit: int, owned: Ownership = EVERY_SHARD
) -> list[PostJob]:
    """Claimed slots of owned guilds waiting to be sent again (after a transient error or a crash)."""
    rows = await conn.execute(
        select(*_JOB_COLUMNS)
        .where(
            posts.c.state == "claimed",
            posts.c.retry_at.is_not(None),
            posts.c.retry_at <= now,
            owned.clause(posts.c.guild_id),
        )
        .order_by(posts.c.retry_at)
        .limit(limit)
    )
    return [_job(row) for row in rows]


async def requeue_unfinished(store: Store, now: dt.datetime, owned: Ownership = EVERY_SHARD) -> int:
    """After a start: slots of owned guilds claimed by an earlier run that never reported back
    are retried now.

    They may or may not have reached Discord; resending under the same nonce is safe
    within Discord's de-duplication window, and the sender gives up after it.
    """
    async with store.transaction() as conn:
        result = await conn.execute(
            update(posts)
            .where(posts.c.state == "claimed", posts.c.retry_at.is_(None), owned.clause(posts.c.guild_id))
            .values(retry_at=now)
        )
        return result.rowcount


async def earliest_due(
    conn: ReadConnection, current_change_id: int, owned: Ownership = EVERY_SHARD
) -> tuple[dt.datetime | None, bool]:
    """Over owned guilds: the next regular slot or retry time, and whether some schedule has
    news to announce now."""
    next_retry = (
        select(func.min(posts.c.retry_at))
        .where(posts.c.state == "claimed", owned.clause(posts.c.guild_id))
        .scalar_subquery()
    )
    query = select(schedules.earliest_slot(owned), next_retry, schedules.some_news(current_change_id, owned))
    row = (await conn.execute(query)).one()
    times = [when for when in (row[0], row[1]) if when is not None]
    return (min(times) if times else None), bool(row[2])


async def mark_sent(store: Store, job: PostJob, *, message_id: int, kept_message: bool, now: dt.datetime) -> None:
    """The slot reached Discord: ledger row done, schedule's last post set, failures reset."""
    async with store.transaction() as conn:
        await conn.execute(
            update(posts)
            .where(*_of_job(job))
            .values(state="sent", message_id=message_id, finished_at=now, attempts=posts.c.attempts + 1, retry_at=None)
        )
        await schedules.record_post(
            conn, job.claim.guild_id, job.claim.channel_id, message_id, kept_message=kept_message, now=now
        )


async def mark_failed(
    store: Store,
    job: PostJob,
    *,
    state: Literal["failed", "abandoned"],
    error: str,
    detail: str | None,
    now: dt.datetime,
) -> bool:
    """The slot will not be posted: record why on the schedule; returns True if it is now paused."""
    async with store.transaction() as conn:
        await conn.execute(
            update(posts)
            .where(*_of_job(job))
            .values(state=state, finished_at=now, attempts=posts.c.attempts + 1, retry_at=None)
        )
        return await schedules.record_failure(conn, job.claim.guild_id, error, detail, now)


async def schedule_retry(
    store: Store, job: PostJob, *, retry_at: dt.datetime, error: str, detail: str | None, now: dt.datetime
) -> None:
    """A transient failure: try the same slot (same nonce) again at ``retry_at``."""
    async with store.transaction() as conn:
        await conn.execute(update(posts).where(*_of_job(job)).values(attempts=posts.c.attempts + 1, retry_at=retry_at))
        await schedules.record_error(conn, job.claim.guild_id, error, detail, now)


async def fetch_ledger(conn: ReadConnection, guild_id: int) -> list[tuple[str, str, int | None]]:
    """(slot_key, state, message_id) of a guild's slots, oldest first (for tests and support)."""
    rows = await conn.execute(
        select(posts.c.slot_key, posts.c.state, posts.c.message_id)
        .where(posts.c.guild_id == guild_id)
        .order_by(posts.c.claimed_at, posts.c.slot_key)
    )
    return [(row[0], row[1], row[2]) for row in rows]
