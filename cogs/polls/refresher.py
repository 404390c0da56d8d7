"""Coalescing tally refresher: a poll's message is edited at most once per interval.

Clicks only mark their poll dirty. The first change after a quiet spell is shown at
once; changes during the following interval are folded into one edit at its end.
Each edit renders the tally read from the store at that moment, so whatever the
coalescing, the last edit shows the exact count. Real (monotonic) time, not the
bot's clock: the limit protects Discord's message-edit rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import discord

log = logging.getLogger(__name__)

#: Seconds between two edits of one poll's message (Discord allows about 5 edits per 5 s per channel).
REFRESH_INTERVAL = 5.0

#: How many failed edits in a row are retried before the refresher waits for the next vote.
MAX_RETRIES = 5

RefreshPoll = Callable[[int], Awaitable[None]]


class TallyRefresher:
    """Per poll: a dirty flag and at most one task that edits when the interval allows."""

    def __init__(self, refresh: RefreshPoll, *, interval: float = REFRESH_INTERVAL) -> None:
        self._refresh = refresh
        self.interval = interval
        self._dirty: set[int] = set()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._last_edit: dict[int, float] = {}
        self._refreshing: set[int] = set()
        self._failures: dict[int, int] = {}

    def mark_dirty(self, poll_id: int) -> None:
        """A vote changed: make sure an edit will follow (cheap; called on the click path)."""
        self._dirty.add(poll_id)
        if poll_id not in self._tasks:
            self._tasks[poll_id] = asyncio.create_task(
                self._refresh_while_dirty(poll_id), name=f"poll-refresh-{poll_id}"
            )

    def _retry_later(self, poll_id: int) -> None:
        """A failed edit (Discord 5xx, a network error) is tried again after the interval,
        a few times, so the message catches up without waiting for another vote."""
        failures = self._failures.get(poll_id, 0) + 1
        if failures > MAX_RETRIES:
            self._failures.pop(poll_id, None)
            log.warning("giving up refreshing poll %d after %d failed edits", poll_id, MAX_RETRIES)
            return
        self._failures[poll_id] = failures
        self._dirty.add(poll_id)

    def pending(self, poll_id: int) -> bool:
        return poll_id in self._tasks

    async def _refresh_while_dirty(self, poll_id: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            while poll_id in self._dirty:
                wait = self._last_edit.get(poll_id, float("-inf")) + self.interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._dirty.discard(poll_id)
                self._refreshing.add(poll_id)
                try:
                    await self._refresh(poll_id)
                except (discord.NotFound, discord.Forbidden) as exc:
                    # The message is gone or out of reach: another try cannot help.
                    log.info("the message of poll %d cannot be edited: %s", poll_id, exc)
                    self._failures.pop(poll_id, None)
                except Exception:
                    log.exception("refreshing the message of poll %d failed", poll_id)
                    self._retry_later(poll_id)
                else:
                    self._failures.pop(poll_id, None)
                finally:
                    self._refreshing.discard(poll_id)
                self._last_edit[poll_id] = loop.time()
        finally:
            self._tasks.pop(poll_id, None)

    async def _stop(self, task: asyncio.Task[None], poll_id: int) -> None:
        """Cancel a task that only sleeps; let one that is refreshing finish (it may hold a transaction)."""
        if task is asyncio.current_task():
            return
        if poll_id not in self._refreshing:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def forget(self, poll_id: int) -> None:
        """The poll closed: drop its pending edit and wait out one in flight, so the closing
        edit that follows is the last one."""
        self._dirty.discard(poll_id)
        task = self._tasks.get(poll_id)
        if task is not None:
            await self._stop(task, poll_id)
        self._last_edit.pop(poll_id, None)
        self._failures.pop(poll_id, None)

    async def close(self) -> None:
        self._dirty.clear()
        for poll_id, task in list(self._tasks.items()):
            await self._stop(task, poll_id)
        self._tasks.clear()
