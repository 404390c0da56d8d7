"""The one scheduler: a single dispatcher task for every timed job of every feature.

Due times live in the features' own tables (a countdown schedule's next slot, a
poll's deadline). A feature registers a :class:`DueSource` that can say when its
next job is due and run what is due. The dispatcher sleeps until the earliest due
time of all sources and is woken early by :meth:`Scheduler.wake` when a schedule
changes (the RoboDanny reminder model, without per-guild polling loops).

One pass has one notion of "now": the dispatcher reads the clock once and hands
that instant to every ``next_due`` and ``run_due`` of the pass, so a source can say
"due now" by answering with ``now`` itself, and nothing is compared with a later
clock reading that would make it look not due yet.
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
#: A source still due right after it ran is asked again after this, doubling each pass it
#: stays so (up to STALL_BACKOFF_MAX): work in progress elsewhere finishes, and a source that
#: cannot make progress is logged instead of spinning the loop.
STALL_BACKOFF = timedelta(milliseconds=50)
STALL_BACKOFF_MAX = timedelta(seconds=5)
#: Passes in a row a source may stay due after running before that is logged as a warning.
STALL_WARN_AFTER = 8


class DueSource(Protocol):
    """A feature's timed jobs, as the dispatcher sees them."""

    name: str

    async def next_due(self, now: datetime) -> datetime | None:
        """The earliest aware UTC time at which something is due, or None.

        ``now`` is the pass's instant: anything due at once is reported as ``now`` (or earlier).
        """
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
        self._stalled: dict[str, int] = {}
        #: Passes made since start (each logged at DEBUG): what "how often does it wake" counts.
        self.passes = 0
        #: Passes finished since start: a pass numbered above ``passes`` at some moment has
        #: begun after it once ``passes_done`` exceeds that number (what tests wait on).
        self.passes_done = 0
        #: The earliest due time the last pass found, and the due time of each source still due
        #: after it ran (backed off meanwhile): what :meth:`lag` measures against.
        self.next_due: datetime | None = None
        self._still_due: dict[str, datetime] = {}

    def register(self, source: DueSource) -> None:
        self._sources[source.name] = source
        self.wake()

    def unregister(self, name: str) -> None:
        self._sources.pop(name, None)
        self._backoff_until.pop(name, None)
        self._stalled.pop(name, None)
        self._still_due.pop(name, None)

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

    def lag(self, now: datetime) -> timedelta:
        """How far ``now`` is past the earliest due item (zero when nothing is overdue)."""
        due = [*self._still_due.values(), *([self.next_due] if self.next_due is not None else [])]
        return max(now - min(due), timedelta(0)) if due else timedelta(0)

    async def run_pending(self) -> datetime | None:
        """One pass: run every source that is due now; return the next due time of all sources."""
        now = self._clock()
        self.passes += 1
        earliest: datetime | None = None
        try:
            for source in list(self._sources.values()):
                due = await self._run_source(source, now)
                if due is not None and (earliest is None or due < earliest):
                    earliest = due
        finally:
            self.passes_done += 1
        log.debug("scheduler pass %d at %s: next due %s", self.passes, now.isoformat(), earliest)
        return earliest

    async def _run_source(self, source: DueSource, now: datetime) -> datetime | None:
        backoff = self._backoff_until.get(source.name)
        if backoff is not None and backoff > now:
            return backoff
        try:
            due = await source.next_due(now)
            if due is None or due > now:
                self._backoff_until.pop(source.name, None)
                self._stalled.pop(source.name, None)
                self._still_due.pop(source.name, None)
                return due
            await source.run_due(now)
            due = await source.next_due(now)
        except Exception:
            log.exception("scheduled jobs of %s failed; retrying in %s", source.name, ERROR_BACKOFF)
            self._backoff_until[source.name] = now + ERROR_BACKOFF
            self._stalled.pop(source.name, None)
            return now + ERROR_BACKOFF
        if due is None or due > now:
            self._backoff_until.pop(source.name, None)
            self._stalled.pop(source.name, None)
            self._still_due.pop(source.name, None)
            return due
        # Still due after running: more than one pass holds, or work under way elsewhere.
        self._still_due[source.name] = due
        stalls = self._stalled.get(source.name, 0) + 1
        self._stalled[source.name] = stalls
        wait = min(STALL_BACKOFF * (2 ** (stalls - 1)), STALL_BACKOFF_MAX)
        if stalls == STALL_WARN_AFTER:
            log.warning("scheduled jobs of %s stay due after %d runs; asking again every %s", source.name, stalls, wait)
        self._backoff_until[source.name] = now + wait
        return now + wait

    async def _dispatch_forever(self) -> None:
        while True:
            self._wakeup.clear()
            earliest = self.next_due = await self.run_pending()
            delay = MAX_SLEEP if earliest is None else min(max(earliest - self._clock(), timedelta(0)), MAX_SLEEP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay.total_seconds())
