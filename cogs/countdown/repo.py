"""SQL of the countdown (tables in bot/store/schema.py): release history, schedules, ledger.

Reads take a connection from ``store.read()``; every write is one ``store.transaction()``.
The statements are SQLAlchemy Core, the same on SQLite and PostgreSQL; times are aware
UTC datetimes and calendar dates ``datetime.date`` on both.

Exactly once: a slot becomes a ``countdown_posts`` row (primary key per guild and slot)
in the same transaction that moves the schedule on, *before* anything is sent; a slot
whose row exists is never claimed again (unless it failed for good: nothing was posted).

Several processes may share one PostgreSQL database (READ COMMITTED). A guild's posts
are only written by the process that owns the guild, but any process may record a
release change; every read-then-write below is safe under that (see each function).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, and_, bindparam, case, exists, false, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.guilds import in_guild
from bot.shards import EVERY_SHARD, Ownership
from bot.store import ReadConnection, Store, dialect_insert
from bot.store.memo import Recalled
from bot.store.schema import countdown_posts as posts
from bot.store.schema import countdown_release_history as history
from bot.store.schema import countdown_schedules as schedules
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.slots import Cadence, PostingRule, Slot, milestone_on, parse_local_time
from cogs.countdown.window import ReleaseWindow

Mode = Literal["post", "edit"]
Occasion = Literal["scheduled", "milestone", "change"]

#: After this many failed posts in a row a schedule pauses instead of failing forever.
PAUSE_AFTER_FAILURES = 3

#: PostgreSQL advisory lock taken by every writer that reads the current release record and
#: writes schedules from it (any process may record a change). SQLite needs none: a write
#: transaction there (BEGIN IMMEDIATE) already excludes every other writer.
RECORD_LOCK_KEY = 0x68796F73616E_0003  # "hyosan", migration 0003


async def _lock_record_writers(conn: AsyncConnection) -> None:
    """Serialize, until this transaction ends, with every other writer of the record or of
    schedules computed from it; statements after this see what the last holder committed."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECORD_LOCK_KEY})


# ---------------------------------------------------------------------------
# The release record
# ---------------------------------------------------------------------------

_RECORD_COLUMNS = (
    history.c.id,
    history.c.awaited,
    history.c.precision,
    history.c.start_date,
    history.c.end_date,
    history.c.label,
    history.c.confidence,
    history.c.source_title,
    history.c.source_url,
    history.c.source_date,
    history.c.origin,
    history.c.changed_by,
    history.c.recorded_at,
)


def _record(row: Row[Any]) -> ReleaseRecord:
    return ReleaseRecord(
        id=int(row.id),
        awaited=row.awaited,
        window=ReleaseWindow(precision=row.precision, start=row.start_date, end=row.end_date, label=row.label),
        confidence=row.confidence,
        source_title=row.source_title,
        source_url=row.source_url,
        source_date=row.source_date,
        origin=row.origin,
        changed_by=row.changed_by,
        recorded_at=row.recorded_at,
    )


# Built once (building and keying a statement costs as much as running it).
_CURRENT_RECORD = select(*_RECORD_COLUMNS).order_by(history.c.id.desc()).limit(1)


async def fetch_current_record(conn: ReadConnection) -> ReleaseRecord | None:
    row = (await conn.execute(_CURRENT_RECORD)).first()
    return None if row is None else _record(row)


async def _current_record(conn: ReadConnection, _key: None) -> ReleaseRecord | None:
    return await fetch_current_record(conn)


#: The record as /countdown shows it, remembered by the store (``bot.store.memo``). Recording a
#: version forgets it; so does the scheduler when its own look finds a version another process
#: recorded (see ``Posts.next_due``), so no news goes out before /countdown shows it.
CURRENT_RECORD: Recalled[None, ReleaseRecord | None] = Recalled("current release record", _current_record)


async def current_record(store: Store) -> ReleaseRecord | None:
    return await store.recall(CURRENT_RECORD, None)


async def fetch_record(conn: ReadConnection, record_id: int) -> ReleaseRecord | None:
    row = (await conn.execute(select(*_RECORD_COLUMNS).where(history.c.id == record_id))).first()
    return None if row is None else _record(row)


async def fetch_previous_record(conn: ReadConnection, record_id: int) -> ReleaseRecord | None:
    """The version a change replaced (for "was … now …" in announcements)."""
    row = (
        await conn.execute(
            select(*_RECORD_COLUMNS).where(history.c.id < record_id).order_by(history.c.id.desc()).limit(1)
        )
    ).first()
    return None if row is None else _record(row)


async def fetch_history(conn: ReadConnection, limit: int = 50) -> list[ReleaseRecord]:
    """Every change, newest first."""
    rows = await conn.execute(select(*_RECORD_COLUMNS).order_by(history.c.id.desc()).limit(limit))
    return [_record(row) for row in rows]


Reschedule = Callable[["Schedule", ReleaseRecord, dt.datetime, frozenset[dt.date]], Slot | None]
"""Given a schedule, the new record, now and the local days that already had their post:
the schedule's next slot (from slots.next_open_slot)."""


async def _insert_record(conn: AsyncConnection, record: ReleaseRecord) -> int:
    result = await conn.execute(
        history.insert()
        .values(
            awaited=record.awaited,
            precision=record.window.precision,
            start_date=record.window.start,
            end_date=record.window.end,
            label=record.window.label,
            confidence=record.confidence,
            source_title=record.source_title,
            source_url=record.source_url,
            source_date=record.source_date,
            origin=record.origin,
            changed_by=record.changed_by,
            recorded_at=record.recorded_at,
        )
        .returning(history.c.id)
    )
    return int(result.scalar_one())


def _slot_values(slot: Slot | None) -> dict[str, object]:
    return {"next_due_at": slot.due_at if slot else None, "next_slot_date": slot.local_date if slot else None}


#: Executemany: move the schedule of ``guild`` to the slot ``due`` (UTC) on the local day ``day``.
_MOVE_SCHEDULE = (
    update(schedules)
    .where(schedules.c.guild_id == bindparam("guild"))
    .values(
        next_due_at=bindparam("due", type_=schedules.c.next_due_at.type),
        next_slot_date=bindparam("day", type_=schedules.c.next_slot_date.type),
    )
)


async def _reschedule_all(
    conn: AsyncConnection, record: ReleaseRecord, now: dt.datetime, reschedule: Reschedule
) -> None:
    """Milestones and the last day depend on the record, so every next slot is recomputed.

    Called under the record lock, so the schedules read here are the committed ones: a
    schedule saved meanwhile (which takes the same lock) is either seen or saved after us
    against this record.
    """
    found = await _fetch_schedules(conn, None)
    posted = await posted_days(conn, [schedule.guild_id for schedule in found], now - POSTED_LOOKBACK)
    moves = []
    for schedule in found:
        slot = reschedule(schedule, record, now, posted.get(schedule.guild_id, frozenset()))
        moves.append(
            {"guild": schedule.guild_id, "due": slot.due_at if slot else None, "day": slot.local_date if slot else None}
        )
    if moves:
        await conn.execute(_MOVE_SCHEDULE, moves)


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
    async with store.transaction(CURRENT_RECORD.every()) as conn:
        await _lock_record_writers(conn)
        current = await fetch_current_record(conn)
        if current is not None:
            record = replace(record, awaited=current.awaited)
            if current.same_claim(record):
                return None
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
    """Make the pack's entry current if ``replaces`` says so; returns it when it became current.

    Every process seeds at start; under the record lock the second one reads the first
    one's record and leaves it (no duplicate version, no announcement of a non-change).
    """
    async with store.transaction(CURRENT_RECORD.every()) as conn:
        await _lock_record_writers(conn)
        current = await fetch_current_record(conn)
        if not replaces(current, candidate):
            return None
        record_id = await _insert_record(conn, candidate)
        stored = replace(candidate, id=record_id)
        if current is not None:
            await _reschedule_all(conn, stored, now, reschedule)
        else:
            # The first record is no news: schedules (if any) have nothing to announce.
            await conn.execute(update(schedules).values(announced_change_id=record_id))
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
    schedules.c.guild_id,
    schedules.c.channel_id,
    schedules.c.local_time,
    schedules.c.timezone,
    schedules.c.cadence,
    schedules.c.weekday,
    schedules.c.mode,
    schedules.c.next_due_at,
    schedules.c.next_slot_date,
    schedules.c.message_id,
    schedules.c.announced_change_id,
    schedules.c.last_post_at,
    schedules.c.last_post_message_id,
    schedules.c.last_error,
    schedules.c.last_error_detail,
    schedules.c.last_error_at,
    schedules.c.consecutive_failures,
    schedules.c.paused,
)


def _schedule(row: Row[Any]) -> Schedule:
    cadence: Cadence = row.cadence
    return Schedule(
        guild_id=int(row.guild_id),
        channel_id=int(row.channel_id),
        rule=PostingRule(
            at=parse_local_time(row.local_time), zone=row.timezone, cadence=cadence, weekday=int(row.weekday)
        ),
        mode=row.mode,
        next_due_at=row.next_due_at,
        next_slot_date=row.next_slot_date,
        message_id=row.message_id,
        announced_change_id=int(row.announced_change_id),
        last_post_at=row.last_post_at,
        last_post_message_id=row.last_post_message_id,
        last_error=row.last_error,
        last_error_detail=row.last_error_detail,
        last_error_at=row.last_error_at,
        consecutive_failures=int(row.consecutive_failures),
        paused=bool(row.paused),
    )


async def _fetch_schedules(
    conn: ReadConnection,
    where: ColumnElement[bool] | None,
    order_by: Sequence[ColumnElement[Any]] = (),
    limit: int | None = None,
) -> list[Schedule]:
    query = select(*_SCHEDULE_COLUMNS)
    if where is not None:
        query = query.where(where)
    query = query.order_by(*order_by).limit(limit)
    return [_schedule(row) for row in await conn.execute(query)]


#: Not paused (a boolean compared portably: ``= false`` in PostgreSQL, ``= 0`` in SQLite).
#: A schedule that posts: not paused, and in a guild the bot is in (a departed guild's is kept, idle).
_ACTIVE = and_(schedules.c.paused == false(), in_guild(schedules.c.guild_id))


_SCHEDULE_OF_GUILD = select(*_SCHEDULE_COLUMNS).where(schedules.c.guild_id == bindparam("guild_id"))


async def fetch_schedule(conn: ReadConnection, guild_id: int) -> Schedule | None:
    row = (await conn.execute(_SCHEDULE_OF_GUILD, {"guild_id": guild_id})).first()
    return None if row is None else _schedule(row)


_ZONE_OF_GUILD = select(schedules.c.timezone).where(schedules.c.guild_id == bindparam("guild_id"))


async def fetch_schedule_zone(conn: ReadConnection, guild_id: int) -> str | None:
    """The zone of a guild's schedule (None: it has none)."""
    zone = await conn.scalar(_ZONE_OF_GUILD, {"guild_id": guild_id})
    return None if zone is None else str(zone)


#: The zone /countdown counts days in, remembered by the store; written by save_schedule and
#: delete_schedule only (the other writes of a schedule move its slots, never its zone).
SCHEDULE_ZONE: Recalled[int, str | None] = Recalled("countdown schedule zone", fetch_schedule_zone)


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
) -> bool:
    """Set (or reset) a guild's schedule: failures and pause are cleared, nothing old is announced.

    The edit-mode message is kept only while the channel and mode stay the same. ``slot``
    was planned against record ``current_change_id``; if a newer record was committed
    since (by any process), nothing is saved and False comes back: plan again. Under the
    record lock, so a change recorded at the same time either waits for this schedule
    and reschedules it, or committed first and is seen here.
    """
    stmt = dialect_insert(store, schedules).values(
        guild_id=guild_id,
        channel_id=channel_id,
        local_time=rule.at.strftime("%H:%M"),
        timezone=rule.zone,
        cadence=rule.cadence,
        weekday=rule.weekday,
        mode=mode,
        announced_change_id=current_change_id,
        updated_by=by,
        updated_at=now,
        **_slot_values(slot),
    )
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[schedules.c.guild_id],
        set_={
            "message_id": case(
                (
                    and_(schedules.c.channel_id == excluded.channel_id, schedules.c.mode == excluded.mode),
                    schedules.c.message_id,
                ),
                else_=None,
            ),
            "channel_id": excluded.channel_id,
            "local_time": excluded.local_time,
            "timezone": excluded.timezone,
            "cadence": excluded.cadence,
            "weekday": excluded.weekday,
            "mode": excluded.mode,
            "next_due_at": excluded.next_due_at,
            "next_slot_date": excluded.next_slot_date,
            "announced_change_id": excluded.announced_change_id,
            "last_error": None,
            "last_error_detail": None,
            "last_error_at": None,
            "consecutive_failures": 0,
            "paused": False,
            "updated_by": excluded.updated_by,
            "updated_at": excluded.updated_at,
        },
    )
    async with store.transaction(SCHEDULE_ZONE.of(guild_id)) as conn:
        await _lock_record_writers(conn)
        latest = (await conn.execute(select(func.max(history.c.id)))).scalar_one()
        if latest is not None and latest > current_change_id:
            return False
        await conn.execute(stmt)
    return True


async def delete_schedule(store: Store, guild_id: int) -> bool:
    """Stop a guild's posts; the ledger stays so a slot already posted is not posted again."""
    async with store.transaction(SCHEDULE_ZONE.of(guild_id)) as conn:
        result = await conn.execute(schedules.delete().where(schedules.c.guild_id == guild_id))
        return result.rowcount > 0


async def count_active_schedules(conn: ReadConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(schedules).where(_ACTIVE))).scalar_one())


async def due_schedules(
    conn: ReadConnection, now: dt.datetime, limit: int, owned: Ownership = EVERY_SHARD
) -> list[Schedule]:
    """Active schedules of owned guilds whose regular slot has come, earliest first."""
    return await _fetch_schedules(
        conn,
        and_(
            _ACTIVE,
            schedules.c.next_due_at.is_not(None),
            schedules.c.next_due_at <= now,
            owned.clause(schedules.c.guild_id),
        ),
        (schedules.c.next_due_at,),
        limit,
    )


async def schedules_with_news(
    conn: ReadConnection, current_change_id: int, limit: int, owned: Ownership = EVERY_SHARD
) -> list[Schedule]:
    """Active schedules of owned guilds that have not announced the current record yet."""
    return await _fetch_schedules(
        conn,
        and_(_ACTIVE, schedules.c.announced_change_id < current_change_id, owned.clause(schedules.c.guild_id)),
        (schedules.c.guild_id,),
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
    """Where a schedule moves when its due slot is claimed or skipped.

    ``moves_from`` is the slot the schedule was read as due with: the move is made only if
    the schedule still has it, so a schedule saved or rescheduled since (a new rule, or a
    release change recorded by any process) keeps its newer slot.
    """

    guild_id: int
    next_slot: Slot | None
    moves_from: Slot | None = None


@dataclass(frozen=True, slots=True)
class PostJob:
    """A claimed slot on its way to Discord (first attempt or retry)."""

    claim: Claim
    claimed_at: dt.datetime
    attempts: int


def _claim(row: Row[Any]) -> Claim:
    return Claim(
        guild_id=int(row.guild_id),
        slot_key=row.slot_key,
        channel_id=int(row.channel_id),
        mode=row.mode,
        occasion=row.occasion,
        change_id=int(row.change_id),
        nonce=row.nonce,
        due_at=row.due_at,
    )


#: Executemany: :data:`_MOVE_SCHEDULE`, only while the schedule still has the slot ``was_due``/``was_day``.
_MOVE_SCHEDULE_FROM = _MOVE_SCHEDULE.where(
    schedules.c.next_due_at == bindparam("was_due", type_=schedules.c.next_due_at.type),
    schedules.c.next_slot_date == bindparam("was_day", type_=schedules.c.next_slot_date.type),
)


def _move(advance: Advance) -> dict[str, object]:
    slot, seen = advance.next_slot, advance.moves_from
    values: dict[str, object] = {
        "guild": advance.guild_id,
        "due": slot.due_at if slot else None,
        "day": slot.local_date if slot else None,
    }
    if seen is not None:
        values.update(was_due=seen.due_at, was_day=seen.local_date)
    return values


def _job(row: Row[Any]) -> PostJob:
    return PostJob(_claim(row), row.claimed_at, int(row.attempts))


async def claim_slots(
    store: Store,
    claims: Sequence[Claim],
    advances: Sequence[Advance],
    announced: Sequence[tuple[int, int]],
    retries: Sequence[tuple[int, str]],
    now: dt.datetime,
) -> list[PostJob]:
    """One transaction: insert ledger rows (a slot already there is not claimed again), move
    schedules on, mark news as announced, and take due retries; returns what to send.

    Every step is one statement whose condition is checked on the row it writes (the
    primary key and ``WHERE state = 'failed'`` for a claim, ``WHERE retry_at IS NOT NULL``
    for a retry, a CASE keeping the larger announced change), so none relies on a read made
    before it, whichever process runs beside this one.
    """
    jobs: list[PostJob] = []
    async with store.transaction() as conn:
        for claim in claims:
            insert = dialect_insert(conn, posts).values(
                guild_id=claim.guild_id,
                slot_key=claim.slot_key,
                channel_id=claim.channel_id,
                mode=claim.mode,
                occasion=claim.occasion,
                change_id=claim.change_id,
                nonce=claim.nonce,
                due_at=claim.due_at,
                claimed_at=now,
                state="claimed",
                attempts=0,
            )
            excluded = insert.excluded
            # A slot that failed for good (Discord refused it: nothing was posted) may be claimed
            # again, e.g. after a moderator fixed the channel; any other state is never claimed twice.
            stmt = insert.on_conflict_do_update(
                index_elements=[posts.c.guild_id, posts.c.slot_key],
                set_={
                    "channel_id": excluded.channel_id,
                    "mode": excluded.mode,
                    "occasion": excluded.occasion,
                    "change_id": excluded.change_id,
                    "nonce": excluded.nonce,
                    "due_at": excluded.due_at,
                    "claimed_at": excluded.claimed_at,
                    "state": "claimed",
                    "attempts": 0,
                    "retry_at": None,
                    "message_id": None,
                    "finished_at": None,
                },
                where=posts.c.state == "failed",
            )
            result = await conn.execute(stmt)
            if result.rowcount > 0:
                jobs.append(PostJob(claim, now, 0))
        unchecked = [advance for advance in advances if advance.moves_from is None]
        if unchecked:
            await conn.execute(_MOVE_SCHEDULE, [_move(advance) for advance in unchecked])
        checked = [advance for advance in advances if advance.moves_from is not None]
        if checked:
            await conn.execute(_MOVE_SCHEDULE_FROM, [_move(advance) for advance in checked])
        if announced:
            change = bindparam("change", type_=schedules.c.announced_change_id.type)
            await conn.execute(
                update(schedules)
                .where(schedules.c.guild_id == bindparam("guild"))
                .values(
                    # max(announced, change) without SQLite's max()/PostgreSQL's greatest().
                    announced_change_id=case(
                        (schedules.c.announced_change_id < change, change), else_=schedules.c.announced_change_id
                    )
                ),
                [{"guild": guild_id, "change": change_id} for guild_id, change_id in announced],
            )
        for guild_id, slot_key in retries:
            row = (
                await conn.execute(
                    update(posts)
                    .where(
                        posts.c.guild_id == guild_id,
                        posts.c.slot_key == slot_key,
                        posts.c.state == "claimed",
                        posts.c.retry_at.is_not(None),
                    )
                    .values(retry_at=None)
                    .returning(*posts.c)
                )
            ).first()
            if row is not None:
                jobs.append(_job(row))
    return jobs


#: How far back the ledger is read for days that already had their post: a zone change moves
#: "today" by at most a day, so two days cover every local day a next slot can fall on.
POSTED_LOOKBACK = dt.timedelta(days=2)

#: Regular slots' keys ("day:YYYY-MM-DD"). ``LIKE`` with no wildcard but the last one matches
#: the same keys in both databases (no other key starts with "day" in any case).
_DAY_PREFIX = "day:"


async def posted_days(
    conn: ReadConnection, guild_ids: Sequence[int], since: dt.datetime
) -> dict[int, frozenset[dt.date]]:
    """Per guild, the local days from ``since`` on whose regular post is claimed, sent or
    abandoned (a post that failed for good, e.g. on missing permissions, may be tried again)."""
    if not guild_ids:
        return {}
    found: dict[int, set[dt.date]] = {}
    # Keys of one shape compare as their dates under any collation (the old upper bound
    # 'day;' did not: a PostgreSQL database with a linguistic collation ignores punctuation).
    first_key = f"{_DAY_PREFIX}{since.date().isoformat()}"
    for start in range(0, len(guild_ids), 500):
        chunk = list(guild_ids[start : start + 500])
        rows = await conn.execute(
            select(posts.c.guild_id, posts.c.slot_key).where(
                posts.c.guild_id.in_(chunk),
                posts.c.slot_key >= first_key,
                posts.c.slot_key.like(f"{_DAY_PREFIX}%"),
                posts.c.state.in_(("claimed", "sent", "abandoned")),
            )
        )
        for guild_id, slot_key in rows:
            found.setdefault(int(guild_id), set()).add(dt.date.fromisoformat(slot_key.removeprefix(_DAY_PREFIX)))
    return {guild_id: frozenset(days) for guild_id, days in found.items()}


async def due_retries(
    conn: ReadConnection, now: dt.datetime, limit: int, owned: Ownership = EVERY_SHARD
) -> list[PostJob]:
    """Claimed slots of owned guilds waiting to be sent again (after a transient error or a crash)."""
    rows = await conn.execute(
        select(*posts.c)
        .where(
            posts.c.state == "claimed",
            posts.c.retry_at.is_not(None),
            posts.c.retry_at <= now,
            owned.clause(posts.c.guild_id),
        )
        .order_by(posts.c.retry_at)
        .limit(limit)
    )
    return [_job(row) for row in rows]


async def requeue_unfinished(store: Store, now: dt.datetime, owned: Ownership = EVERY_SHARD) -> int:
    """After a start: slots of owned guilds claimed by an earlier run that never reported back
    are retried now.

    They may or may not have reached Discord; resending under the same nonce is safe
    within Discord's de-duplication window, and the sender gives up after it.
    """
    async with store.transaction() as conn:
        result = await conn.execute(
            update(posts)
            .where(posts.c.state == "claimed", posts.c.retry_at.is_(None), owned.clause(posts.c.guild_id))
            .values(retry_at=now)
        )
        return result.rowcount


async def earliest_due(
    conn: ReadConnection, current_change_id: int, owned: Ownership = EVERY_SHARD
) -> tuple[dt.datetime | None, bool]:
    """Over owned guilds: the next regular slot or retry time, and whether some schedule has
    news to announce now."""
    mine = owned.clause(schedules.c.guild_id)
    next_slot = select(func.min(schedules.c.next_due_at)).where(_ACTIVE, mine).scalar_subquery()
    next_retry = (
        select(func.min(posts.c.retry_at))
        .where(posts.c.state == "claimed", owned.clause(posts.c.guild_id))
        .scalar_subquery()
    )
    news = exists().where(_ACTIVE, schedules.c.announced_change_id < current_change_id, mine)
    row = (await conn.execute(select(next_slot, next_retry, news))).one()
    times = [when for when in (row[0], row[1]) if when is not None]
    return (min(times) if times else None), bool(row[2])


async def mark_sent(store: Store, job: PostJob, *, message_id: int, kept_message: bool, now: dt.datetime) -> None:
    """The slot reached Discord: ledger row done, schedule's last post set, failures reset."""
    claim = job.claim
    kept: dict[str, object] = {"message_id": message_id} if kept_message else {}
    async with store.transaction() as conn:
        await conn.execute(
            update(posts)
            .where(posts.c.guild_id == claim.guild_id, posts.c.slot_key == claim.slot_key)
            .values(state="sent", message_id=message_id, finished_at=now, attempts=posts.c.attempts + 1, retry_at=None)
        )
        await conn.execute(
            update(schedules)
            .where(schedules.c.guild_id == claim.guild_id, schedules.c.channel_id == claim.channel_id)
            .values(
                last_post_at=now,
                last_post_message_id=message_id,
                consecutive_failures=0,
                last_error=None,
                last_error_detail=None,
                last_error_at=None,
                **kept,
            )
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
    """The slot will not be posted: record why on the schedule; returns True if it is now paused.

    The count and the pause are one UPDATE on the schedule row (no read before it)."""
    claim = job.claim
    async with store.transaction() as conn:
        await conn.execute(
            update(posts)
            .where(posts.c.guild_id == claim.guild_id, posts.c.slot_key == claim.slot_key)
            .values(state=state, finished_at=now, attempts=posts.c.attempts + 1, retry_at=None)
        )
        row = (
            await conn.execute(
                update(schedules)
                .where(schedules.c.guild_id == claim.guild_id)
                .values(
                    last_error=error,
                    last_error_detail=detail,
                    last_error_at=now,
                    consecutive_failures=schedules.c.consecutive_failures + 1,
                    paused=schedules.c.consecutive_failures + 1 >= PAUSE_AFTER_FAILURES,
                )
                .returning(schedules.c.paused)
            )
        ).first()
    return bool(row and row[0])


async def schedule_retry(
    store: Store, job: PostJob, *, retry_at: dt.datetime, error: str, detail: str | None, now: dt.datetime
) -> None:
    """A transient failure: try the same slot (same nonce) again at ``retry_at``."""
    claim = job.claim
    async with store.transaction() as conn:
        await conn.execute(
            update(posts)
            .where(posts.c.guild_id == claim.guild_id, posts.c.slot_key == claim.slot_key)
            .values(attempts=posts.c.attempts + 1, retry_at=retry_at)
        )
        await conn.execute(
            update(schedules)
            .where(schedules.c.guild_id == claim.guild_id)
            .values(last_error=error, last_error_detail=detail, last_error_at=now)
        )


async def fetch_ledger(conn: AsyncConnection, guild_id: int) -> list[tuple[str, str, int | None]]:
    """(slot_key, state, message_id) of a guild's slots, oldest first (for tests and support)."""
    rows = await conn.execute(
        select(posts.c.slot_key, posts.c.state, posts.c.message_id)
        .where(posts.c.guild_id == guild_id)
        .order_by(posts.c.claimed_at, posts.c.slot_key)
    )
    return [(row[0], row[1], row[2]) for row in rows]
