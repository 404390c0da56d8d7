"""Group commit for clicks: a burst of votes costs a few transactions, not one each.

A click waits here until the transaction holding it has COMMITTED; only then does
the button answer, so an acknowledged vote survives a kill of the process. Clicks
that arrive while a transaction runs wait for the next one, which takes them all:
an idle poll gets a transaction per click (written by the click's own task), a burst
gets one per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from bot.store import Store
from cogs.polls.votes import Click, ClickResult, apply_clicks

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: Most clicks in one transaction (keeps the statement's parameter list small).
MAX_BATCH = 500
#: A click is written on its own only this long (seconds) after the last write ended. Under
#: load, clicks closer together than that queue and share a transaction: on SQLite a lone
#: click's own transaction never yields to the loop, so without this pause every click of
#: a storm was its own transaction (throughput 0.72x -> 0.66x of the bare button).
LONE_AFTER = 0.002


class BallotBoxClosed(RuntimeError):
    """The cog is unloading; the click was not recorded."""


class BallotBox:
    """Queues clicks and writes them in batches, each click answered after its commit."""

    def __init__(self, store: Store, clock: Clock, *, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._clock = clock
        self._max_batch = max_batch
        self._queue: list[tuple[Click, asyncio.Future[ClickResult]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._direct = False  # a lone click is being written by its own task (see cast)
        self._last_write_ended = float("-inf")  # loop time
        self._closed = False

    async def cast(self, click: Click) -> ClickResult:
        """Record one click; returns once it is committed (or raises if it could not be)."""
        if self._closed:
            raise BallotBoxClosed
        loop = asyncio.get_running_loop()
        idle = loop.time() - self._last_write_ended >= LONE_AFTER
        if idle and not self._direct and not self._queue and (self._writer is None or self._writer.done()):
            # A lone click (nothing queued, nothing being written, nothing written just
            # now): written by the clicking task itself, without the hand-over to the writer
            # task and back. Clicks arriving meanwhile, or right after, queue for the writer,
            # so a burst is still written in batches.
            self._direct = True
            try:
                [result] = await apply_clicks(self._store, [click], self._clock())
            finally:
                self._direct = False
                self._last_write_ended = loop.time()
            return result
        future: asyncio.Future[ClickResult] = asyncio.get_running_loop().create_future()
        self._queue.append((click, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches(), name="polls-ballot-box")
        return await future

    async def _write_batches(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: len(batch)]
            try:
                results = await apply_clicks(self._store, [click for click, _ in batch], self._clock())
            except asyncio.CancelledError:
                self._fail(batch, BallotBoxClosed())
                raise
            except Exception:
                # One bad click must not cost the others their votes: retry them one by one.
                log.warning("a batch of %d clicks failed; retrying them one by one", len(batch), exc_info=True)
                await self._write_one_by_one(batch)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
            self._last_write_ended = asyncio.get_running_loop().time()

    async def _write_one_by_one(self, batch: list[tuple[Click, asyncio.Future[ClickResult]]]) -> None:
        for position, (click, future) in enumerate(batch):
            try:
                [result] = await apply_clicks(self._store, [click], self._clock())
            except asyncio.CancelledError:
                self._fail(batch[position:], BallotBoxClosed())
                raise
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

    @staticmethod
    def _fail(batch: list[tuple[Click, asyncio.Future[ClickResult]]], error: Exception) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        """Finish the batch being written, refuse the rest (their clicks were not acknowledged)."""
        self._closed = True
        waiting, self._queue = self._queue, []
        self._fail(waiting, BallotBoxClosed())
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
            self._writer = None
