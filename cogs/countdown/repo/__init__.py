"""SQL of the countdown (tables in bot/store/schema.py), one module per table: the release
record's versions (``history``), the guilds' schedules (``schedules``) and the ledger of
posts (``posts``); ``changes`` records a release change across them.

Reads take a connection from ``store.read()``; every write is one ``store.transaction()``.
The statements are SQLAlchemy Core, the same on SQLite and PostgreSQL; times are aware
UTC datetimes and calendar dates ``datetime.date`` on both. Nothing here decides what is
due: ``cogs.countdown.planning`` does, from what these functions read.

Exactly once: a slot becomes a ``countdown_posts`` row (primary key per guild and slot)
in the same transaction that moves the schedule on, *before* anything is sent; a slot
whose row exists is never claimed again (unless it failed for good: nothing was posted).

Several processes may share one PostgreSQL database (READ COMMITTED). A guild's posts
are only written by the process that owns the guild, but any process may record a
release change; every read-then-write here is safe under that (see each function).
"""

from __future__ import annotations

from cogs.countdown.repo.changes import Reschedule, record_change, seed_from_pack
from cogs.countdown.repo.events import EventRow, fetch_event
from cogs.countdown.repo.events import reset_failed as reset_failed_event
from cogs.countdown.repo.history import (
    CURRENT_RECORD,
    RECORD_LOCK_KEY,
    current_record,
    fetch_current_record,
    fetch_history,
    fetch_previous_record,
    fetch_record,
)
from cogs.countdown.repo.options import NOTIFY_ROLE, Options, fetch_options, save_events, save_notify_role
from cogs.countdown.repo.posts import (
    POSTED_LOOKBACK,
    Claim,
    Occasion,
    PostJob,
    claim_slots,
    due_retries,
    earliest_due,
    fetch_ledger,
    mark_failed,
    mark_sent,
    posted_days,
    requeue_unfinished,
    schedule_retry,
)
from cogs.countdown.repo.schedules import (
    MODES,
    PAUSE_AFTER_FAILURES,
    SCHEDULE_ZONE,
    Advance,
    Mode,
    Schedule,
    count_active_schedules,
    delete_schedule,
    due_schedules,
    fetch_schedule,
    fetch_schedule_zone,
    save_schedule,
    schedules_with_news,
)

__all__ = [
    "CURRENT_RECORD",
    "MODES",
    "NOTIFY_ROLE",
    "PAUSE_AFTER_FAILURES",
    "POSTED_LOOKBACK",
    "RECORD_LOCK_KEY",
    "SCHEDULE_ZONE",
    "Advance",
    "Claim",
    "EventRow",
    "Mode",
    "Occasion",
    "Options",
    "PostJob",
    "Reschedule",
    "Schedule",
    "claim_slots",
    "count_active_schedules",
    "current_record",
    "delete_schedule",
    "due_retries",
    "due_schedules",
    "earliest_due",
    "fetch_current_record",
    "fetch_event",
    "fetch_history",
    "fetch_ledger",
    "fetch_options",
    "fetch_previous_record",
    "fetch_record",
    "fetch_schedule",
    "fetch_schedule_zone",
    "mark_failed",
    "mark_sent",
    "posted_days",
    "record_change",
    "requeue_unfinished",
    "reset_failed_event",
    "save_events",
    "save_notify_role",
    "save_schedule",
    "schedule_retry",
    "schedules_with_news",
    "seed_from_pack",
]
