"""Which shard a guild is on, which guilds this process owns, and when a shard may IDENTIFY.

Discord puts guild G on shard ``(G >> 22) % shard_count``. A process runs the shards in
``SHARD_IDS`` (all of them by default) and does the per-guild timed work (countdown posts,
release news, poll deadlines) only for guilds on those shards, so that processes running
disjoint shard sets never both do one guild's work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, literal, true

#: Discord allows one IDENTIFY per rate-limit bucket every this many seconds.
IDENTIFY_INTERVAL = 5.0


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
        self._next_allowed[bucket] = start + IDENTIFY_INTERVAL
        return start - now

    async def wait_turn(self, shard_id: int) -> None:
        delay = self.reserve(shard_id)
        if delay > 0:
            await asyncio.sleep(delay)
