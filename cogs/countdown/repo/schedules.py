"""Each guild's countdown schedule (``countdown_schedules``): where, when, and how the last
posts went."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Exists,
    Row,
    RowMapping,
    ScalarSelect,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.guilds import in_guild
from bot.shards import EVERY_SHARD, Ownership
from bot.store import ReadConnection, Store, dialect_insert
from bot.store.memo import Recalled
from bot.store.schema import countdown_schedules as schedules
from cogs.countdown.repo import history
from cogs.countdown.slots import PostingRule, Slot, milestone_on, parse_local_time

Mode = Literal["post", "edit"]
MODES: tuple[Mode, ...] = ("post", "edit")

#: After this many failed posts in a row a schedule pauses instead of failing forever.
PAUSE_AFTER_FAILURES = 3


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


#: Schedule's fields but its rule, each the column of the same name.
_FIELD_COLUMNS = (
    schedules.c.guild_id,
    schedules.c.channel_id,
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
#: The rule's columns: local time ("HH:MM"), zone, cadence and weekday.
_RULE_COLUMNS = (schedules.c.local_time, schedules.c.timezone, schedules.c.cadence, schedules.c.weekday)
_COLUMNS = (*_FIELD_COLUMNS, *_RULE_COLUMNS)


def _rule(values: RowMapping) -> PostingRule:
    local_time, zone, cadence, weekday = (values[column] for column in _RULE_COLUMNS)
    return PostingRule(at=parse_local_time(local_time), zone=zone, cadence=cadence, weekday=int(weekday))


def _rule_values(rule: PostingRule) -> dict[str, object]:
    row = (rule.at.strftime("%H:%M"), rule.zone, rule.cadence, rule.weekday)
    return {column.name: value for column, value in zip(_RULE_COLUMNS, row, strict=True)}


def _schedule(row: Row[Any]) -> Schedule:
    values = row._mapping
    return Schedule(rule=_rule(values), **{column.name: values[column] for column in _FIELD_COLUMNS})


def _slot_values(slot: Slot | None) -> dict[str, object]:
    return {"next_due_at": slot.due_at if slot else None, "next_slot_date": slot.local_date if slot else None}


#: What a post that went through (or a schedule set again) clears.
_NO_ERRORS: dict[str, object] = {
    "last_error": None,
    "last_error_detail": None,
    "last_error_at": None,
    "consecutive_failures": 0,
}


async def fetch_schedules(
    conn: ReadConnection,
    where: ColumnElement[bool] | None = None,
    order_by: Sequence[ColumnElement[Any]] = (),
    limit: int | None = None,
) -> list[Schedule]:
    query = select(*_COLUMNS)
    if where is not None:
        query = query.where(where)
    query = query.order_by(*order_by).limit(limit)
    return [_schedule(row) for row in await conn.execute(query)]


#: A schedule that posts: not paused, and in a guild the bot is in (a departed guild's is kept, idle).
#: Not paused is a boolean compared portably: ``= false`` in PostgreSQL, ``= 0`` in SQLite.
ACTIVE = and_(schedules.c.paused == false(), in_guild(schedules.c.guild_id))


_SCHEDULE_OF_GUILD = select(*_COLUMNS).where(schedules.c.guild_id == bindparam("guild_id"))


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
    values = {
        "channel_id": channel_id,
        **_rule_values(rule),
        "mode": mode,
        "announced_change_id": current_change_id,
        "updated_by": by,
        "updated_at": now,
        **_slot_values(slot),
    }
    stmt = dialect_insert(store, schedules).values(guild_id=guild_id, **values)
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
            **{name: excluded[name] for name in values},
            **_NO_ERRORS,
            "paused": False,
        },
    )
    async with store.transaction(SCHEDULE_ZONE.of(guild_id)) as conn:
        await history.lock_record_writers(conn)
        latest = await history.latest_record_id(conn)
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
    return int((await conn.execute(select(func.count()).select_from(schedules).where(ACTIVE))).scalar_one())


async def due_schedules(
    conn: ReadConnection, now: dt.datetime, limit: int, owned: Ownership = EVERY_SHARD
) -> list[Schedule]:
    """Active schedules of owned guilds whose regular slot has come, earliest first."""
    return await fetch_schedules(
        conn,
        and_(
            ACTIVE,
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
    return await fetch_schedules(
        conn,
        and_(ACTIVE, schedules.c.announced_change_id < current_change_id, owned.clause(schedules.c.guild_id)),
        (schedules.c.guild_id,),
        limit,
    )


def earliest_slot(owned: Ownership) -> ScalarSelect[Any]:
    """The next regular slot of owned guilds' active schedules (a subquery)."""
    return select(func.min(schedules.c.next_due_at)).where(ACTIVE, owned.clause(schedules.c.guild_id)).scalar_subquery()


def some_news(current_change_id: int, owned: Ownership) -> Exists:
    """Whether an active schedule of an owned guild has not announced the current record."""
    return exists().where(
        ACTIVE, schedules.c.announced_change_id < current_change_id, owned.clause(schedules.c.guild_id)
    )


# -- moving schedules on -------------------------------------------------------------------

#: Executemany: move the schedule of ``guild`` to the slot ``due`` (UTC) on the local day ``day``.
_MOVE_SCHEDULE = (
    update(schedules)
    .where(schedules.c.guild_id == bindparam("guild"))
    .values(
        next_due_at=bindparam("due", type_=schedules.c.next_due_at.type),
        next_slot_date=bindparam("day", type_=schedules.c.next_slot_date.type),
    )
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


async def move_schedules(conn: AsyncConnection, advances: Sequence[Advance]) -> None:
    """Move each schedule to its next slot; one whose ``moves_from`` is set only if it still has that slot."""
    unchecked = [advance for advance in advances if advance.moves_from is None]
    if unchecked:
        await conn.execute(_MOVE_SCHEDULE, [_move(advance) for advance in unchecked])
    checked = [advance for advance in advances if advance.moves_from is not None]
    if checked:
        await conn.execute(_MOVE_SCHEDULE_FROM, [_move(advance) for advance in checked])


async def mark_announced(conn: AsyncConnection, announced: Sequence[tuple[int, int]]) -> None:
    """Per (guild, change): that guild has announced that change (a newer one stays announced)."""
    if not announced:
        return
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


async def mark_all_announced(conn: AsyncConnection, change_id: int) -> None:
    """Every schedule has announced ``change_id`` (the first record is no news)."""
    await conn.execute(update(schedules).values(announced_change_id=change_id))


# -- how the last posts went ---------------------------------------------------------------


async def record_post(
    conn: AsyncConnection, guild_id: int, channel_id: int, message_id: int, *, kept_message: bool, now: dt.datetime
) -> None:
    """A post reached ``channel_id``: the schedule's last post is set and its failures reset
    (while it still posts there); ``kept_message``: edit-mode edits that message from now on."""
    kept: dict[str, object] = {"message_id": message_id} if kept_message else {}
    await conn.execute(
        update(schedules)
        .where(schedules.c.guild_id == guild_id, schedules.c.channel_id == channel_id)
        .values(last_post_at=now, last_post_message_id=message_id, **_NO_ERRORS, **kept)
    )


async def record_failure(
    conn: AsyncConnection, guild_id: int, error: str, detail: str | None, now: dt.datetime
) -> bool:
    """A post failed for good: one more failure in a row; returns True if the schedule is now paused.

    The count and the pause are one UPDATE on the schedule row (no read before it)."""
    row = (
        await conn.execute(
            update(schedules)
            .where(schedules.c.guild_id == guild_id)
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


async def record_error(conn: AsyncConnection, guild_id: int, error: str, detail: str | None, now: dt.datetime) -> None:
    """A transient failure, shown on the schedule; it does not count towards pausing."""
    await conn.execute(
        update(schedules)
        .where(schedules.c.guild_id == guild_id)
        .values(last_error=error, last_error_detail=detail, last_error_at=now)
    )
