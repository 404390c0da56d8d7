"""Discord's global limit, shared between processes: this process's share and the pacer.

Discord allows a bot 50 requests per second across all its processes (interaction
answers excepted). Each process paces its bulk sends (countdown posts, poll results and
tally edits) through one :class:`RequestPacer` at its share of :data:`REST_PER_SECOND`:
by default the share of the shards it runs (shards 0-1 of 4: half), or ``REST_RATE_SHARE``
when the operator sets it (processes with unequal guild counts, or a REST proxy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Requests per second the bot's paced sends may use in all: under Discord's global 50/s,
#: leaving room for the unpaced few (command sync, single replies to commands).
REST_PER_SECOND = 47.0


@dataclass(frozen=True, slots=True)
class RestShare:
    """The fraction of :data:`REST_PER_SECOND` one process takes, and why."""

    fraction: float
    explicit: bool
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None

    @property
    def per_second(self) -> float:
        return REST_PER_SECOND * self.fraction

    def describe(self) -> str:
        """One line for the log and ``python -m bot check``."""
        rate = f"{self.per_second:g} requests/s for paced sends"
        if self.explicit:
            return f"{rate} (REST_RATE_SHARE={self.fraction:g} of {REST_PER_SECOND:g}/s)"
        if self.shard_ids is None:
            return f"{rate} (all of {REST_PER_SECOND:g}/s: this process runs every shard)"
        return (
            f"{rate} ({len(self.shard_ids)}/{self.shard_count} of {REST_PER_SECOND:g}/s: "
            f"the share of this process's shards)"
        )


def rest_share(explicit: float | None, shard_count: int | None, shard_ids: Iterable[int] | None) -> RestShare:
    """``explicit`` (REST_RATE_SHARE) if set, else the fraction of the bot's shards this process runs.

    ``shard_ids=None`` is every shard, hence the whole budget whatever the count.
    """
    ids = tuple(sorted(set(shard_ids))) if shard_ids is not None else None
    if explicit is not None:
        if not 0 < explicit <= 1:
            raise ValueError("the share of the global limit must be within (0, 1]")
        return RestShare(explicit, True, shard_count, ids)
    if ids is None:
        return RestShare(1.0, False, shard_count, None)
    if not shard_count or not ids or any(not 0 <= shard < shard_count for shard in ids):
        raise ValueError(f"shard ids {ids} are not shards of {shard_count}")
    return RestShare(len(ids) / shard_count, False, shard_count, ids)


class RequestPacer:
    """Spaces request starts evenly at ``per_second`` (no bursts), across all its callers.

    With no burst allowance any one-second window holds at most ``per_second + 1``
    starts, which stays under Discord's global limit. Real time, not the bot's clock:
    the limit is Discord's.

    Turns are taken one at a time and spaced from when each really began: should the event
    loop stall (a busy process on a busy machine), the sends waiting behind it go out one
    interval apart afterwards, not together (booked in advance, they used to wake at once
    and put 60+ requests into one second between two processes).

    ``global_clear`` returns an event that is clear while the HTTP client waits out a
    global 429. A turn that comes during that wait is not used: the caller books a fresh
    one afterwards, so the sends held back go out paced, not all at once (which, with
    other processes sending meanwhile, would only meet the next 429).
    """

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] | None = None,
        *,
        global_clear: Callable[[], asyncio.Event | None] | None = None,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self._clock = clock
        self._global_clear = global_clear
        self._next_start = 0.0
        self._turns = asyncio.Lock()

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def reserve(self) -> float:
        """Book the next start; returns how long the caller must wait for it."""
        now = self._now()
        start = max(now, self._next_start)
        self._next_start = start + self.interval
        return start - now

    async def wait_turn(self) -> None:
        async with self._turns:
            while True:
                delay = self.reserve()
                if delay > 0:
                    await asyncio.sleep(delay)
                clear = self._global_clear() if self._global_clear else None
                if clear is None or clear.is_set():
                    self._next_start = max(self._next_start, self._now() + self.interval)
                    return
                await clear.wait()
