"""The one way an owner's release change is recorded: ``/release update`` and the release
watch's "Record as …" buttons both call :func:`record_release`.

A new version of the record and every schedule moved to match it (one transaction,
:func:`repo.record_change`), then the scheduler woken: the scheduled servers get the news
through the post ledger, once each.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cogs.countdown import repo
from cogs.countdown.planning import next_slot_for
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.window import Confidence, ReleaseWindow

if TYPE_CHECKING:
    from bot.client import HyosanBot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recorded:
    """The version now current, and how many servers with countdown posts hear of it."""

    record: ReleaseRecord
    servers: int


def owner_record(
    bot: HyosanBot,
    window: ReleaseWindow,
    confidence: Confidence,
    *,
    source_title: str | None,
    source_url: str | None,
    source_date: dt.date,
    by: int,
    now: dt.datetime,
) -> ReleaseRecord:
    """An owner's version of the record (what is awaited stays the current version's, see record_change)."""
    return ReleaseRecord(
        awaited=bot.pack.release.awaited,
        window=window,
        confidence=confidence,
        source_title=source_title,
        source_url=source_url,
        source_date=source_date,
        origin="owner",
        recorded_at=now,
        changed_by=by,
    )


async def record_release(bot: HyosanBot, record: ReleaseRecord, now: dt.datetime) -> Recorded | None:
    """Record ``record`` and announce it to every scheduled server; None when the current
    version already says the same (nothing written, nothing announced)."""
    stored = await repo.record_change(bot.store, record, now, next_slot_for)
    if stored is None:
        return None
    bot.scheduler.wake()
    async with bot.store.read() as conn:
        servers = await repo.count_active_schedules(conn)
    log.info("release record changed by %s to %s (%s)", record.changed_by, stored.window, stored.confidence)
    return Recorded(stored, servers)
