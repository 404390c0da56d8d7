"""Release records and posting rules built by hand, for the countdown's and the store's tests."""

from __future__ import annotations

import datetime as dt

from cogs.countdown import repo
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.slots import PostingRule, Slot
from cogs.countdown.window import parse_window

NOW = dt.datetime(2026, 11, 25, 13, tzinfo=dt.UTC)

RULE = PostingRule(dt.time(13), "UTC", "daily")

SLOT = Slot(NOW, dt.date(2026, 11, 25), None)


def record_version(origin: str, window: str, source_date: dt.date) -> ReleaseRecord:
    return ReleaseRecord("Season 2", parse_window(window), "estimated", "src", None, source_date, origin, NOW)  # type: ignore[arg-type]


def keep(schedule: repo.Schedule, record: ReleaseRecord, at: dt.datetime, posted: frozenset[dt.date]) -> Slot | None:
    return schedule.next_slot(record.window.start)
