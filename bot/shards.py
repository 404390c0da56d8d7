"""Which shard a guild is on, which guilds this process owns, and when a shard may IDENTIFY.

Discord puts guild G on shard ``(G >> 22) % shard_count``. A process runs the shards in
``SHARD_IDS`` (all of them by default) and does the per-guild timed work (countdown posts,
release news, poll deadlines) only for guilds on those shards, so that processes running
disjoint shard sets never both do one guild's work.

IDENTIFY pacing holds for the whole bot, across its processes: :class:`IdentifyGate` spaces
the shards of one process, and on a PostgreSQL store :class:`SharedIdentifyTurns` makes
the processes take turns per bucket (an advisory lock and the time of the last turn).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Integer, literal, text, true
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.state import read_state, write_state

if TYPE_CHECKING:
    from bot.store import Store

#: Discord allows one IDENTIFY per rate-limit bucket every this many seconds.
IDENTIFY_INTERVAL = 5.0
#: Added to each turn: the IDENTIFY leaves a moment after its turn is given, and Discord
#: measures the 5 s between arrivals, so turns given exactly 5 s apart could arrive closer.
IDENTIFY_MARGIN = 0.25
#: From one IDENTIFY turn of a bucket to the next.
IDENTIFY_SPACING = IDENTIFY_INTERVAL + IDENTIFY_MARGIN


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends guild ``guild_id`` on (its formula, from the snowflake's timestamp)."""
    if shard_count < 1:
        raise ValueError("shard_count must be at least 1")
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class Ownership:
    """The guilds whose timed work this process does: those on its shards.

    ``shard_ids=None`` means every shard (the default, and the only choice while one
    process owns the whole bot); then no guild is filtered out and no SQL is added.
    """

    shard_count: int | None = None
    shard_ids: frozenset[int] | None = None

    @classmethod
    def of(cls, shard_count: int | None, shard_ids: Iterable[int] | None) -> Ownership:
        if shard_ids is None:
            return cls(shard_count, None)
        if shard_count is None:
            raise ValueError("shard ids need a shard count")
        ids = frozenset(shard_ids)
        if any(not 0 <= shard < shard_count for shard in ids):
            raise ValueError(f"shard ids must be within 0..{shard_count - 1}")
        return cls(shard_count, None if ids == frozenset(range(shard_count)) else ids)

    @property
    def owns_every_shard(self) -> bool:
        return self.shard_ids is None

    def owns_shard(self, shard_id: int) -> bool:
        return self.shard_ids is None or shard_id in self.shard_ids

    def owns(self, guild_id: int) -> bool:
        """Whether this process does guild ``guild_id``'s timed work."""
        if self.shard_ids is None:
            return True
        assert self.shard_count is not None
        return shard_of(guild_id, self.shard_count) in self.shard_ids

    def clause(self, column: ColumnElement[int]) -> ColumnElement[bool]:
        """A condition true for rows of owned guilds: ``(id >> 22) % n IN (...)``, the same
        integer arithmetic in SQLite and PostgreSQL (bigint)."""
        if self.shard_ids is None:
            return true()
        assert self.shard_count is not None
        # PostgreSQL shifts a bigint by an integer only (there is no bigint >> bigint).
        return (column.op(">>")(literal(22, Integer())) % self.shard_count).in_(sorted(self.shard_ids))


#: The ownership of a process that runs every shard.
EVERY_SHARD = Ownership()


class IdentifyGate:
    """Spaces IDENTIFYs as Discord requires: one per bucket (``shard_id % max_concurrency``)
    every :data:`IDENTIFY_INTERVAL` seconds, so shards in different buckets start at once.

    discord.py's own hook sleeps 5 s before every IDENTIFY but the first, whatever
    ``max_concurrency`` Discord granted.
    """

    def __init__(self, max_concurrency: int, clock: Callable[[], float] | None = None) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self._clock = clock
        self._next_allowed: dict[int, float] = {}

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def reserve(self, shard_id: int) -> float:
        """Book this shard's IDENTIFY; returns how long it must wait first."""
        bucket = shard_id % self.max_concurrency
        now = self._now()
        start = max(now, self._next_allowed.get(bucket, now))
        self._next_allowed[bucket] = start + IDENTIFY_SPACING
        return start - now

    async def wait_turn(self, shard_id: int) -> None:
        delay = self.reserve(shard_id)
        if delay > 0:
            await asyncio.sleep(delay)


#: The first key of the advisory lock below (``pg_advisory_xact_lock(int, int)``; the second
#: is the bucket), so it cannot collide with single-key locks another program might take.
IDENTIFY_LOCK_CLASS = 0x48594944  # "HYID"
#: bot_state key of a bucket's last IDENTIFY turn (the database's clock, ISO 8601).
IDENTIFY_TURN_KEY = "identify_turn:{bucket}"


class SharedIdentifyTurns:
    """Identify pacing across every process on one PostgreSQL store.

    Each bucket's last turn is a time in ``bot_state``, on the database's clock (the one
    clock every process and machine shares). Taking a turn is one transaction: take the
    bucket's advisory lock (the next process of that bucket queues behind it), wait until
    :data:`IDENTIFY_SPACING` after the last turn, write the new time, commit; the IDENTIFY
    follows at once. A process that crashes right after its IDENTIFY leaves its time
    behind, so its restart waits its turn too; its lock ends with its connection.
    """

    def __init__(self, store: Store, spacing: float = IDENTIFY_SPACING) -> None:
        self._store = store
        self._spacing = dt.timedelta(seconds=spacing)

    async def wait_turn(self, bucket: int) -> float:
        """Wait for ``bucket``'s turn; returns how long that took (seconds, for the log)."""
        key = IDENTIFY_TURN_KEY.format(bucket=bucket)
        async with self._store.transaction() as conn:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:cls, :bucket)"), {"cls": IDENTIFY_LOCK_CLASS, "bucket": bucket}
            )
            now = await _database_now(conn)
            last = await read_state(conn, key)
            wait = 0.0
            if last is not None:
                wait = (dt.datetime.fromisoformat(last) + self._spacing - now).total_seconds()
                if wait > 0:
                    await asyncio.sleep(wait)
            await write_state(conn, key, (await _database_now(conn)).isoformat())
        return max(wait, 0.0)


async def _database_now(conn: AsyncConnection) -> dt.datetime:
    now = await conn.scalar(text("SELECT clock_timestamp()"))
    assert isinstance(now, dt.datetime)
    return now
