"""Guild ids on a chosen shard."""

from __future__ import annotations

#: Divisible by every shard count from 1 to 16, so guild_on() lands where it says.
BASE_MS = 720_720 * 100


def guild_on(shard_id: int, shard_count: int, n: int = 0) -> int:
    """A guild id (snowflake) whose timestamp puts it on ``shard_id``."""
    return ((BASE_MS + shard_id + n * shard_count) << 22) | 0x1234
