"""The one scheduler: a single dispatcher task for every timed job of every feature.

Due times live in the features' own tables (a countdown schedule's next slot, a
poll's deadline). A feature registers a :class:`DueSource` that can say when its
next job is due and run what is due. The dispatcher sleeps until the earliest due
time of all sources and is woken early by :meth:`Scheduler.wake` when a schedule
changes (the RoboDanny reminder model, without per-guild polling loops).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: The longest the dispatcher sleeps without looking again (guards against clock jumps).
MAX_SLEEP = timedelta(minutes=10)
#: After a source raised, it is asked again no sooner than this.
ERROR_BACKOFF = timedelta(seconds=30)
#: The shortest sleep, so a source whose due time does not move cannot spin the loop.
MIN_SLEEP = timedelta(milliseconds=50)


class DueSource(Protocol):
    """A feature's timed jobs, as the dispatcher sees them."""

    name: str

    async def next_due(self) -> datetime | None:
        """The earliest aware UTC time at which something is due, or None."""
        ...

    async def run_due(self, now: datetime) -> None:
        """Do everything due at or before ``now`` (idempotently: it may be asked twice)."""
        ...


class Scheduler:
    """Sleeps until the next due time of any source; ``wake()`` makes it look again."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._sources: dict[str, DueSource] = {}
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._backoff_until: dict[str, datetime] = {}

    def register(self, source: DueSource) -> None:
        self._sources[source.name] = source
        self.wake()

    def unregister(self, name: str) -> None:
        self._sources.pop(name, None)

    def wake(self) -> None:
        """A due time changed: look at the sources again now."""
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._dispatch_forever(), name="scheduler-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_pending(self) -> datetime | None:
        """Run every source that is due now; return the next due time of all sources."""
        now = self._clock()
        earliest: datetime | None = None
        for source in list(self._sources.values()):
            if self._backoff_until.get(source.name, now) > now:
                due: datetime | None = self._backoff_until[source.name]
            else:
                try:
                    due = await source.next_due()
                    # Read the clock after asking: a source may answer "due now" with the clock it
                    # read itself, a moment after ``now`` above (a real clock moves; a test's does not).
                    now = max(now, self._clock())
                    if due is not None and due <= now:
                        await source.run_due(now)
                        due = await source.next_due()
                    self._backoff_until.pop(source.name, None)
                except Exception:
                    log.exception("scheduled jobs of %s failed; retrying in %s", source.name, ERROR_BACKOFF)
                    due = now + ERROR_BACKOFF
                    self._backoff_until[source.name] = due
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        return earliest

    async def _dispatch_forever(self) -> None:
        while True:
            self._wakeup.clear()
            earliest = await self.run_pending()
            now = self._clock()
            delay = MAX_SLEEP if earliest is None else min(max(earliest - now, MIN_SLEEP), MAX_SLEEP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay.total_seconds())
