"""A release change in one transaction: a new version of the record, and every schedule moved
to match it (milestones and the last day depend on the record)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import Store
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.repo import history, posts, schedules
from cogs.countdown.repo.schedules import Advance, Schedule
from cogs.countdown.slots import Slot

Reschedule = Callable[[Schedule, ReleaseRecord, dt.datetime, frozenset[dt.date]], Slot | None]
"""Given a schedule, the new record, now and the local days that already had their post:
the schedule's next slot (from slots.next_open_slot)."""


async def _reschedule_all(
    conn: AsyncConnection, record: ReleaseRecord, now: dt.datetime, reschedule: Reschedule
) -> None:
    """Every next slot recomputed under ``record``.

    Called under the record lock, so the schedules read here are the committed ones: a
    schedule saved meanwhile (which takes the same lock) is either seen or saved after us
    against this record.
    """
    found = await schedules.fetch_schedules(conn)
    posted = await posts.posted_days(conn, [schedule.guild_id for schedule in found], now - posts.POSTED_LOOKBACK)
    await schedules.move_schedules(
        conn,
        [
            Advance(schedule.guild_id, reschedule(schedule, record, now, posted.get(schedule.guild_id, frozenset())))
            for schedule in found
        ],
    )


async def record_change(
    store: Store, record: ReleaseRecord, now: dt.datetime, reschedule: Reschedule
) -> ReleaseRecord | None:
    """Add a version of the record and move every schedule to match, in one transaction;
    None (nothing written) when the current version already says the same.

    What is awaited stays the current version's (an update changes the window, its
    confidence and its source; only the pack changes what is awaited, see
    :func:`seed_from_pack`): ``record.awaited`` counts only when there is no version yet.
    Under the record lock: two changes recorded at once by two processes are applied one
    after the other, so the schedules end up computed from the newest record, and the same
    change recorded twice at once is one version.
    """
    async with store.transaction(history.CURRENT_RECORD.every()) as conn:
        await history.lock_record_writers(conn)
        current = await history.fetch_current_record(conn)
        if current is not None:
            record = replace(record, awaited=current.awaited)
            if current.same_claim(record):
                return None
        stored = replace(record, id=await history.insert_record(conn, record))
        await _reschedule_all(conn, stored, now, reschedule)
    return stored


async def seed_from_pack(
    store: Store,
    candidate: ReleaseRecord,
    now: dt.datetime,
    reschedule: Reschedule,
    replaces: Callable[[ReleaseRecord | None, ReleaseRecord], bool],
) -> ReleaseRecord | None:
    """Make the pack's entry current if ``replaces`` says so; returns it when it became current.

    Every process seeds at start; under the record lock the second one reads the first
    one's record and leaves it (no duplicate version, no announcement of a non-change).
    """
    async with store.transaction(history.CURRENT_RECORD.every()) as conn:
        await history.lock_record_writers(conn)
        current = await history.fetch_current_record(conn)
        if not replaces(current, candidate):
            return None
        stored = replace(candidate, id=await history.insert_record(conn, candidate))
        if current is not None:
            await _reschedule_all(conn, stored, now, reschedule)
        else:
            # The first record is no news: schedules (if any) have nothing to announce.
            await schedules.mark_all_announced(conn, stored.id)
    return stored
