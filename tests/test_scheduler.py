"""The one scheduler with a clock that moves, as the real one does (the preview found this)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.scheduler import Scheduler


class TickingClock:
    """Every reading is a millisecond later than the one before."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


class NewsSource:
    """Like countdown news: due "now", answered with the clock the source reads itself."""

    name = "news"

    def __init__(self, clock: TickingClock) -> None:
        self.clock = clock
        self.pending = True
        self.ran_at: list[datetime] = []

    async def next_due(self) -> datetime | None:
        return self.clock() if self.pending else None

    async def run_due(self, now: datetime) -> None:
        self.ran_at.append(now)
        self.pending = False


async def test_a_job_due_now_by_the_sources_own_clock_runs_at_once() -> None:
    clock = TickingClock()
    scheduler = Scheduler(clock)
    source = NewsSource(clock)
    scheduler.register(source)
    assert await scheduler.run_pending() is None
    assert len(source.ran_at) == 1
