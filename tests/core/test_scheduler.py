"""The one dispatcher: one "now" per pass, no spinning, and back-off when a source is stuck."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.scheduler import ERROR_BACKOFF, STALL_BACKOFF, STALL_BACKOFF_MAX, STALL_WARN_AFTER, Scheduler
from tests.support.harness import FakeClock

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class TickingClock(FakeClock):
    """A clock that moves forward a little at every reading, as a real one does."""

    def __call__(self) -> datetime:
        self.advance(timedelta(milliseconds=3))
        return super().__call__()


class Source:
    """A feature's timed jobs: ``pending`` instants, each done once when run at or after it."""

    def __init__(self, name: str, clock: FakeClock, pending: list[datetime] | None = None) -> None:
        self.name = name
        self.clock = clock
        self.pending = sorted(pending or [])
        self.news = False
        self.runs: list[datetime] = []
        self.asked: list[datetime] = []
        self.stuck = False
        self.fail = False

    async def next_due(self, now: datetime) -> datetime | None:
        self.asked.append(now)
        if self.news or self.stuck:
            return now
        return self.pending[0] if self.pending else None

    async def run_due(self, now: datetime) -> None:
        self.runs.append(now)
        if self.fail:
            raise RuntimeError("the store is gone")
        self.news = False
        self.pending = [when for when in self.pending if when > now]


async def test_news_reported_as_due_now_runs_in_the_same_pass_even_when_the_clock_moves() -> None:
    clock = TickingClock(START)
    scheduler = Scheduler(clock)
    source = Source("countdown", clock, [START + timedelta(hours=3)])
    source.news = True
    scheduler.register(source)

    earliest = await scheduler.run_pending()

    assert len(source.runs) == 1  # with a later clock reading per source, "now" was never due
    assert earliest == START + timedelta(hours=3)


async def test_every_source_of_a_pass_sees_the_same_instant() -> None:
    clock = TickingClock(START)
    scheduler = Scheduler(clock)
    first, second = Source("a", clock, [START]), Source("b", clock, [START])
    scheduler.register(first)
    scheduler.register(second)

    await scheduler.run_pending()

    assert len({*first.asked, *second.asked, *first.runs, *second.runs}) == 1


async def test_a_source_that_stays_due_is_asked_again_later_and_later_and_then_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(START)
    scheduler = Scheduler(clock)
    source = Source("polls", clock)
    source.stuck = True
    scheduler.register(source)

    waits = []
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        for _ in range(STALL_WARN_AFTER + 3):
            earliest = await scheduler.run_pending()
            assert earliest is not None
            waits.append(earliest - clock.now())
            clock.set(earliest)

    assert waits[:3] == [STALL_BACKOFF, STALL_BACKOFF * 2, STALL_BACKOFF * 4]
    assert waits[-1] == STALL_BACKOFF_MAX
    assert all(later >= earlier for earlier, later in itertools.pairwise(waits))
    assert len(source.runs) == STALL_WARN_AFTER + 3  # asked each time its wait was over, never more
    assert "stay due" in caplog.text

    source.stuck = False
    assert await scheduler.run_pending() is None  # progress resets the wait
    source.pending = [clock.now()]
    source.stuck = True
    await scheduler.run_pending()
    assert await scheduler.run_pending() == clock.now() + STALL_BACKOFF


async def test_a_failing_source_backs_off_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(START)
    scheduler = Scheduler(clock)
    broken, fine = Source("broken", clock, [START]), Source("fine", clock, [START])
    broken.fail = True
    scheduler.register(broken)
    scheduler.register(fine)

    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        assert await scheduler.run_pending() == START + ERROR_BACKOFF
    assert fine.runs == [START]
    clock.advance(ERROR_BACKOFF / 2)
    await scheduler.run_pending()
    assert len(broken.runs) == 1  # not asked again during the back-off
    assert "scheduled jobs of broken failed" in caplog.text


async def test_the_dispatcher_sleeps_until_the_due_time_and_wakes_on_request() -> None:
    """On the loop's real time: idle means asleep, and news is handled at once, without spinning."""
    scheduler = Scheduler(lambda: datetime.now(UTC))
    source = Source("countdown", FakeClock(START), [datetime.now(UTC) + timedelta(seconds=0.3)])
    scheduler.register(source)
    scheduler.start()
    try:
        await asyncio.sleep(0.6)
        assert len(source.runs) == 1
        passes = scheduler.passes
        await asyncio.sleep(0.5)
        assert scheduler.passes == passes  # nothing due: no pass at all

        source.news = True
        scheduler.wake()
        await asyncio.sleep(0.3)
        assert len(source.runs) == 2
        assert scheduler.passes == passes + 1  # one pass handled the news; none since
    finally:
        await scheduler.stop()
