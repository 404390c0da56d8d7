"""SQL of the countdown (bot/migrations/0003_countdown.sql): release history, schedules, ledger.

Reads use the shared connection; every write is one ``store.transaction()``. Times are
UTC ISO-8601 text, calendar dates "YYYY-MM-DD" text.

Exactly once: a slot becomes a ``countdown_posts`` row (UNIQUE per guild and slot) in
the same transaction that moves the schedule on, *before* anything is sent; a slot
whose row exists is never claimed again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import aiosqlite

from bot.shards import EVERY_SHARD, Ownership
from bot.store import Store, from_db_time, to_db_time
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.slots import Cadence, PostingRule, Slot, milestone_on, parse_local_time
from cogs.countdown.window import ReleaseWindow

Mode = Literal["post", "edit"]
Occasion = Literal["scheduled", "milestone", "change"]

#: After this many failed posts in a row a schedule pauses instead of failing forever.
PAUSE_AFTER_FAILURES = 3


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else to_db_time(when)


def _day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


# ---------------------------------------------------------------------------
# The release record
# ---------------------------------------------------------------------------

_RECORD_COLUMNS = (
    "id, awaited, precision, start_date, end_date, label, confidence, source_title, source_url, "
    "source_date, origin, changed_by, recorded_at"
)


def _record(row: aiosqlite.Row) -> ReleaseRecord:
    return ReleaseRecord(
        id=int(row["id"]),
        awaited=row["awaited"],
        window=ReleaseWindow(
            precision=row["precision"],
            start=dt.date.fromisoformat(row["start_date"]),
            end=dt.date.fromisoformat(row["end_date"]),
            label=row["label"],
        ),
        confidence=row["confidence"],
        source_title=row["source_title"],
        source_url=row["source_url"],
        source_date=dt.date.fromisoformat(row["source_date"]),
        origin=row["origin"],
        changed_by=row["changed_by"],
        recorded_at=dt.datetime.fromisoformat(row["recorded_at"]),
    )


async def fetch_current_record(conn: aiosqlite.Connection) -> ReleaseRecord | None:
    rows = list(
        await conn.execute_fetchall(f"SELECT {_RECORD_COLUMNS} FROM countdown_release_history ORDER BY id DESC LIMIT 1")
    )
    return _record(rows[0]) if rows else None


async def fetch_record(conn: aiosqlite.Connection, record_id: int) -> ReleaseRecord | None:
    async with conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM countdown_release_history WHERE id = ?", (record_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else _record(row)


async def fetch_previous_record(conn: aiosqlite.Connection, record_id: int) -> ReleaseRecord | None:
    """The version a change replaced (for "was … now …" in announcements)."""
    async with conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM countdown_release_history WHERE id < ? ORDER BY id DESC LIMIT 1",
        (record_id,),
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else _record(row)


async def fetch_history(conn: aiosqlite.Connection, limit: int = 50) -> list[ReleaseRecord]:
    """Every change, newest first."""
    async with conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM countdown_release_history ORDER BY id DESC LIMIT ?", (limit,)
    ) as cursor:
        return [_record(row) for row in await cursor.fetchall()]


Reschedule = Callable[["Schedule", ReleaseRecord, dt.datetime, frozenset[dt.date]], Slot | None]
"""Given a schedule, the new record, now and the local days that already had their post:
the schedule's next slot (from slots.next_open_slot)."""


async def _insert_record(conn: aiosqlite.Connection, record: ReleaseRecord) -> int:
    cursor = await conn.execute(
        "INSERT INTO countdown_release_history (awaited, precision, start_date, end_date, label, confidence, "
        "source_title, source_url, source_date, origin, changed_by, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.awaited,
            record.window.precision,
            record.window.start.isoformat(),
            record.window.end.isoformat(),
            record.window.label,
            record.confidence,
            record.source_title,
            record.source_url,
            record.source_date.isoformat(),
            record.origin,
            record.changed_by,
            _iso(record.recorded_at),
        ),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


async def _reschedule_all(
    conn: aiosqlite.Connection, record: ReleaseRecord, now: dt.datetime, reschedule: Reschedule
) -> None:
    """Milestones and the last day depend on the record, so every next slot is recomputed."""
    schedules = await _fetch_schedules(conn, "1 = 1", ())
    posted = await posted_days(conn, [schedule.guild_id for schedule in schedules], now - POSTED_LOOKBACK)
    for schedule in schedules:
        slot = reschedule(schedule, record, now, posted.get(schedule.guild_id, frozenset()))
        await conn.execute(
            "UPDATE countdown_schedules SET next_due_at = ?, next_slot_date = ? WHERE guild_id = ?",
            (_iso(slot.due_at) if slot else None, slot.local_date.isoformat() if slot else None, schedule.guild_id),
        )


async def record_change(store: Store, record: ReleaseRecord, now: dt.datetime, reschedule: Reschedule) -> ReleaseRecord:
    """Add a version of the record and move every schedule to match, in one transaction."""
    async with store.transaction() as conn:
        record_id = await _insert_record(conn, record)
        stored = replace(record, id=record_id)
        await _reschedule_all(conn, stored, now, reschedule)
    return stored


async def seed_from_pack(
    store: Store,
    candidate: ReleaseRecord,
    now: dt.datetime,
    reschedule: Reschedule,
    replaces: Callable[[ReleaseRecord | None, ReleaseRecord], bool],
) -> ReleaseRecord | None:
    """Make the pack's entry current if ``replaces`` says so; returns it when it became current."""
    async with store.transaction() as conn:
        current = await fetch_current_record(conn)
        if not replaces(current, candidate):
            return None
        record_id = await _insert_record(conn, candidate)
        stored = replace(candidate, id=record_id)
        if current is not None:
            await _reschedule_all(conn, stored, now, reschedule)
        else:
            # The first record is no news: schedules (if any) have nothing to announce.
            await conn.execute("UPDATE countdown_schedules SET announced_change_id = ?", (record_id,))
    return stored


# ---------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    """One guild's countdown posts and how the last ones went."""

    guild_id: int
    channel_id: int
    rule: PostingRule
    mode: Mode
    next_due_at: dt.datetime | None
    next_slot_date: dt.date | None
    message_id: int | None
    announced_change_id: int
    last_post_at: dt.datetime | None
    last_post_message_id: int | None
    last_error: str | None
    last_error_detail: str | None
    last_error_at: dt.datetime | None
    consecutive_failures: int
    paused: bool

    def next_slot(self, release_start: dt.date | None) -> Slot | None:
        if self.next_due_at is None or self.next_slot_date is None:
            return None
        return Slot(self.next_due_at, self.next_slot_date, milestone_on(self.next_slot_date, release_start))


_SCHEDULE_COLUMNS = (
    "guild_id, channel_id, local_time, timezone, cadence, weekday, mode, next_due_at, next_slot_date, "
    "message_id, announced_change_id, last_post_at, last_post_message_id, last_error, last_error_detail, "
    "last_error_at, consecutive_failures, paused"
)


def _schedule(row: aiosqlite.Row) -> Schedule:
    cadence: Cadence = row["cadence"]
    return Schedule(
        guild_id=int(row["guild_id"]),
        channel_id=int(row["channel_id"]),
        rule=PostingRule(
            at=parse_local_time(row["local_time"]),
            zone=row["timezone"],
            cadence=cadence,
            weekday=int(row["weekday"]),
        ),
        mode=row["mode"],
        next_due_at=from_db_time(row["next_due_at"]),
        next_slot_date=_day(row["next_slot_date"]),
        message_id=row["message_id"],
        announced_change_id=int(row["announced_change_id"]),
        last_post_at=from_db_time(row["last_post_at"]),
        last_post_message_id=row["last_post_message_id"],
        last_error=row["last_error"],
        last_error_detail=row["last_error_detail"],
        last_error_at=from_db_time(row["last_error_at"]),
        consecutive_failures=int(row["consecutive_failures"]),
        paused=bool(row["paused"]),
    )


async def _fetch_schedules(
    conn: aiosqlite.Connection, where: str, params: Sequence[object], limit: int = -1
) -> list[Schedule]:
    rows = await conn.execute_fetchall(
        f"SELECT {_SCHEDULE_COLUMNS} FROM countdown_schedules WHERE {where} LIMIT ?", (*params, limit)
    )
    return [_schedule(row) for row in rows]


async def fetch_schedule(conn: aiosqlite.Connection, guild_id: int) -> Schedule | None:
    found = await _fetch_schedules(conn, "guild_id = ?", (guild_id,))
    return found[0] if found else None


async def save_schedule(
    store: Store,
    *,
    guild_id: int,
    channel_id: int,
    rule: PostingRule,
    mode: Mode,
    slot: Slot | None,
    current_change_id: int,
    by: int,
    now: dt.datetime,
) -> None:
    """Set (or reset) a guild's schedule: failures and pause are cleared, nothing old is announced.

    The edit-mode message is kept only while the channel and mode stay the same.
    """
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO countdown_schedules (guild_id, channel_id, local_time, timezone, cadence, weekday, mode, "
            "next_due_at, next_slot_date, announced_change_id, updated_by, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET "
            "message_id = CASE WHEN channel_id = excluded.channel_id AND mode = excluded.mode "
            "THEN message_id END, "
            "channel_id = excluded.channel_id, local_time = excluded.local_time, timezone = excluded.timezone, "
            "cadence = excluded.cadence, weekday = excluded.weekday, mode = excluded.mode, "
            "next_due_at = excluded.next_due_at, next_slot_date = excluded.next_slot_date, "
            "announced_change_id = excluded.announced_change_id, last_error = NULL, last_error_detail = NULL, "
            "last_error_at = NULL, consecutive_failures = 0, paused = 0, "
            "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            (
                guild_id,
                channel_id,
                rule.at.strftime("%H:%M"),
                rule.zone,
                rule.cadence,
                rule.weekday,
                mode,
                _iso(slot.due_at) if slot else None,
                slot.local_date.isoformat() if slot else None,
                current_change_id,
                by,
                _iso(now),
            ),
        )


async def delete_schedule(store: Store, guild_id: int) -> bool:
    """Stop a guild's posts; the ledger stays so a slot already posted is not posted again."""
    async with store.transaction() as conn:
        cursor = await conn.execute("DELETE FROM countdown_schedules WHERE guild_id = ?", (guild_id,))
        return cursor.rowcount > 0


async def count_active_schedules(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT count(*) FROM countdown_schedules WHERE paused = 0") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def due_schedules(
    conn: aiosqlite.Connection, now: dt.datetime, limit: int, owned: Ownership = EVERY_SHARD
) -> list[Schedule]:
    """Active schedules of owned guilds whose regular slot has come, earliest first."""
    mine, shard_params = owned.sql_filter()
    return await _fetch_schedules(
        conn,
        f"paused = 0 AND next_due_at IS NOT NULL AND next_due_at <= ? AND {mine} ORDER BY next_due_at",
        (_iso(now), *shard_params),
        limit,
    )


async def schedules_with_news(
    conn: aiosqlite.Connection, current_change_id: int, limit: int, owned: Ownership = EVERY_SHARD
) -> list[Schedule]:
    """Active schedules of owned guilds that have not announced the current record yet."""
    mine, shard_params = owned.sql_filter()
    return await _fetch_schedules(
        conn,
        f"paused = 0 AND announced_change_id < ? AND {mine} ORDER BY guild_id",
        (current_change_id, *shard_params),
        limit,
    )


# ---------------------------------------------------------------------------
# The ledger
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """A slot to claim: what to post where, under which nonce."""

    guild_id: int
    slot_key: str
    channel_id: int
    mode: Mode
    occasion: Occasion
    change_id: int
    nonce: str
    due_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Advance:
    """Where a schedule moves when its due slot is claimed or skipped."""

    guild_id: int
    next_slot: Slot | None


@dataclass(frozen=True, slots=True)
class PostJob:
    """A claimed slot on its way to Discord (first attempt or retry)."""

    claim: Claim
    claimed_at: dt.datetime
    attempts: int


def _claim(row: aiosqlite.Row) -> Claim:
    return Claim(
        guild_id=int(row["guild_id"]),
        slot_key=row["slot_key"],
        channel_id=int(row["channel_id"]),
        mode=row["mode"],
        occasion=row["occasion"],
        change_id=int(row["change_id"]),
        nonce=row["nonce"],
        due_at=dt.datetime.fromisoformat(row["due_at"]),
    )


async def claim_slots(
    store: Store,
    claims: Sequence[Claim],
    advances: Sequence[Advance],
    announced: Sequence[tuple[int, int]],
    retries: Sequence[tuple[int, str]],
    now: dt.datetime,
) -> list[PostJob]:
    """One transaction: insert ledger rows (a slot already there is not claimed again), move
    schedules on, mark news as announced, and take due retries; returns what to send."""
    jobs: list[PostJob] = []
    async with store.transaction() as conn:
        for claim in claims:
            cursor = await conn.execute(
                "INSERT INTO countdown_posts (guild_id, slot_key, channel_id, mode, occasion, change_id, nonce, "
                "due_at, claimed_at, state, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'claimed', 0) "
                # A slot that failed for good (Discord refused it: nothing was posted) may be claimed
                # again, e.g. after a moderator fixed the channel; any other state is never claimed twice.
                "ON CONFLICT (guild_id, slot_key) DO UPDATE SET channel_id = excluded.channel_id, "
                "mode = excluded.mode, occasion = excluded.occasion, change_id = excluded.change_id, "
                "nonce = excluded.nonce, due_at = excluded.due_at, claimed_at = excluded.claimed_at, "
                "state = 'claimed', attempts = 0, retry_at = NULL, message_id = NULL, finished_at = NULL "
                "WHERE countdown_posts.state = 'failed'",
                (
                    claim.guild_id,
                    claim.slot_key,
                    claim.channel_id,
                    claim.mode,
                    claim.occasion,
                    claim.change_id,
                    claim.nonce,
                    _iso(claim.due_at),
                    _iso(now),
                ),
            )
            if cursor.rowcount > 0:
                jobs.append(PostJob(claim, now, 0))
        for advance in advances:
            slot = advance.next_slot
            await conn.execute(
                "UPDATE countdown_schedules SET next_due_at = ?, next_slot_date = ? WHERE guild_id = ?",
                (_iso(slot.due_at) if slot else None, slot.local_date.isoformat() if slot else None, advance.guild_id),
            )
        await conn.executemany(
            "UPDATE countdown_schedules SET announced_change_id = max(announced_change_id, ?) WHERE guild_id = ?",
            [(change_id, guild_id) for guild_id, change_id in announced],
        )
        for guild_id, slot_key in retries:
            async with conn.execute(
                "UPDATE countdown_posts SET retry_at = NULL WHERE guild_id = ? AND slot_key = ? "
                "AND state = 'claimed' AND retry_at IS NOT NULL RETURNING *",
                (guild_id, slot_key),
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None:
                jobs.append(PostJob(_claim(row), dt.datetime.fromisoformat(row["claimed_at"]), int(row["attempts"])))
    return jobs


#: How far back the ledger is read for days that already had their post: a zone change moves
#: "today" by at most a day, so two days cover every local day a next slot can fall on.
POSTED_LOOKBACK = dt.timedelta(days=2)


async def posted_days(
    conn: aiosqlite.Connection, guild_ids: Sequence[int], since: dt.datetime
) -> dict[int, frozenset[dt.date]]:
    """Per guild, the local days from ``since`` on whose regular post is claimed, sent or
    abandoned (a post that failed for good, e.g. on missing permissions, may be tried again)."""
    if not guild_ids:
        return {}
    found: dict[int, set[dt.date]] = {}
    first_key = f"day:{since.date().isoformat()}"
    for start in range(0, len(guild_ids), 500):
        chunk = list(guild_ids[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        async with conn.execute(
            f"SELECT guild_id, slot_key FROM countdown_posts WHERE guild_id IN ({marks}) "
            "AND slot_key >= ? AND slot_key < 'day;' AND state IN ('claimed', 'sent', 'abandoned')",
            (*chunk, first_key),
        ) as cursor:
            for guild_id, slot_key in await cursor.fetchall():
                found.setdefault(int(guild_id), set()).add(dt.date.fromisoformat(slot_key.removeprefix("day:")))
    return {guild_id: frozenset(days) for guild_id, days in found.items()}


async def due_retries(
    conn: aiosqlite.Connection, now: dt.datetime, limit: int, owned: Ownership = EVERY_SHARD
) -> list[PostJob]:
    """Claimed slots of owned guilds waiting to be sent again (after a transient error or a crash)."""
    mine, shard_params = owned.sql_filter()
    async with conn.execute(
        "SELECT * FROM countdown_posts WHERE state = 'claimed' AND retry_at IS NOT NULL AND retry_at <= ? "
        f"AND {mine} ORDER BY retry_at LIMIT ?",
        (_iso(now), *shard_params, limit),
    ) as cursor:
        rows = await cursor.fetchall()
    return [PostJob(_claim(row), dt.datetime.fromisoformat(row["claimed_at"]), int(row["attempts"])) for row in rows]


async def requeue_unfinished(store: Store, now: dt.datetime, owned: Ownership = EVERY_SHARD) -> int:
    """After a start: slots of owned guilds claimed by an earlier run that never reported back
    are retried now.

    They may or may not have reached Discord; resending under the same nonce is safe
    within Discord's de-duplication window, and the sender gives up after it.
    """
    mine, shard_params = owned.sql_filter()
    async with store.transaction() as conn:
        cursor = await conn.execute(
            f"UPDATE countdown_posts SET retry_at = ? WHERE state = 'claimed' AND retry_at IS NULL AND {mine}",
            (_iso(now), *shard_params),
        )
        return cursor.rowcount


async def earliest_due(
    conn: aiosqlite.Connection, current_change_id: int, owned: Ownership = EVERY_SHARD
) -> tuple[dt.datetime | None, bool]:
    """Over owned guilds: the next regular slot or retry time, and whether some schedule has
    news to announce now."""
    mine, shard_params = owned.sql_filter()
    async with conn.execute(
        f"SELECT (SELECT min(next_due_at) FROM countdown_schedules WHERE paused = 0 AND {mine}), "
        f"(SELECT min(retry_at) FROM countdown_posts WHERE state = 'claimed' AND {mine}), "
        f"EXISTS (SELECT 1 FROM countdown_schedules WHERE paused = 0 AND announced_change_id < ? AND {mine})",
        (*shard_params, *shard_params, current_change_id, *shard_params),
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    times = [dt.datetime.fromisoformat(text) for text in (row[0], row[1]) if text]
    return (min(times) if times else None), bool(row[2])


async def mark_sent(store: Store, job: PostJob, *, message_id: int, kept_message: bool, now: dt.datetime) -> None:
    """The slot reached Discord: ledger row done, schedule's last post set, failures reset."""
    claim = job.claim
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE countdown_posts SET state = 'sent', message_id = ?, finished_at = ?, attempts = attempts + 1, "
            "retry_at = NULL WHERE guild_id = ? AND slot_key = ?",
            (message_id, _iso(now), claim.guild_id, claim.slot_key),
        )
        await conn.execute(
            "UPDATE countdown_schedules SET last_post_at = ?, last_post_message_id = ?, consecutive_failures = 0, "
            "last_error = NULL, last_error_detail = NULL, last_error_at = NULL, "
            "message_id = CASE WHEN ? THEN ? ELSE message_id END "
            "WHERE guild_id = ? AND channel_id = ?",
            (_iso(now), message_id, kept_message, message_id, claim.guild_id, claim.channel_id),
        )


async def mark_failed(
    store: Store,
    job: PostJob,
    *,
    state: Literal["failed", "abandoned"],
    error: str,
    detail: str | None,
    now: dt.datetime,
) -> bool:
    """The slot will not be posted: record why on the schedule; returns True if it is now paused."""
    claim = job.claim
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE countdown_posts SET state = ?, finished_at = ?, attempts = attempts + 1, retry_at = NULL "
            "WHERE guild_id = ? AND slot_key = ?",
            (state, _iso(now), claim.guild_id, claim.slot_key),
        )
        async with conn.execute(
            "UPDATE countdown_schedules SET last_error = ?, last_error_detail = ?, last_error_at = ?, "
            "consecutive_failures = consecutive_failures + 1, "
            "paused = (consecutive_failures + 1 >= ?) "
            "WHERE guild_id = ? RETURNING paused",
            (error, detail, _iso(now), PAUSE_AFTER_FAILURES, claim.guild_id),
        ) as cursor:
            row = await cursor.fetchone()
    return bool(row and row[0])


async def schedule_retry(
    store: Store, job: PostJob, *, retry_at: dt.datetime, error: str, detail: str | None, now: dt.datetime
) -> None:
    """A transient failure: try the same slot (same nonce) again at ``retry_at``."""
    claim = job.claim
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE countdown_posts SET attempts = attempts + 1, retry_at = ? WHERE guild_id = ? AND slot_key = ?",
            (_iso(retry_at), claim.guild_id, claim.slot_key),
        )
        await conn.execute(
            "UPDATE countdown_schedules SET last_error = ?, last_error_detail = ?, last_error_at = ? "
            "WHERE guild_id = ?",
            (error, detail, _iso(now), claim.guild_id),
        )


async def fetch_ledger(conn: aiosqlite.Connection, guild_id: int) -> list[tuple[str, str, int | None]]:
    """(slot_key, state, message_id) of a guild's slots, oldest first (for tests and support)."""
    async with conn.execute(
        "SELECT slot_key, state, message_id FROM countdown_posts WHERE guild_id = ? ORDER BY claimed_at, slot_key",
        (guild_id,),
    ) as cursor:
        return [(row[0], row[1], row[2]) for row in await cursor.fetchall()]
