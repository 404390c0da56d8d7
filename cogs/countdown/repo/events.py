"""The premiere event ledger (``countdown_events``): one row per server, written before Discord
is asked to create the event, so the bot never makes a second one.

``creating``: claimed, Discord's answer not recorded yet (after a crash the next run looks for
the event in the server's list before creating it); ``live``: the event exists with
``event_id`` at ``starts_at``; ``failed``: Discord refused it (``error``), nothing was made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, and_, delete, or_, select, true, update

from bot.guilds import in_guild
from bot.shards import EVERY_SHARD, Ownership
from bot.store import ReadConnection, Store, dialect_insert
from bot.store.schema import countdown_events as events
from bot.store.schema import countdown_options as options

EventState = Literal["creating", "live", "failed"]


@dataclass(frozen=True, slots=True)
class EventRow:
    """A server's premiere event as the ledger holds it, beside whether events are on."""

    guild_id: int
    enabled: bool
    state: EventState | None
    event_id: int | None
    starts_at: dt.datetime | None
    error: str | None = None


async def pending(
    conn: ReadConnection, target: dt.datetime | None, limit: int, owned: Ownership = EVERY_SHARD
) -> list[EventRow]:
    """Owned servers (the bot is in) whose event differs from what it should be: ``target``,
    the premiere's start (None: no exact date, so no event anywhere).

    Failed rows wait for a new target (or a moderator turning events on again)."""
    if target is None:
        wanted: ColumnElement[bool] = events.c.guild_id.is_not(None)
    else:
        enabled = options.c.events == true()
        wanted = or_(
            and_(
                enabled,
                or_(
                    events.c.guild_id.is_(None),
                    events.c.state == "creating",
                    events.c.starts_at.is_(None),
                    events.c.starts_at != target,
                ),
            ),
            and_(~enabled, events.c.guild_id.is_not(None)),
        )
    rows = await conn.execute(
        select(
            options.c.guild_id,
            options.c.events,
            events.c.state,
            events.c.event_id,
            events.c.starts_at,
            events.c.error,
        )
        .select_from(options.outerjoin(events, events.c.guild_id == options.c.guild_id))
        .where(wanted, owned.clause(options.c.guild_id), in_guild(options.c.guild_id))
        .order_by(options.c.guild_id)
        .limit(limit)
    )
    return [
        EventRow(
            int(row[0]),
            bool(row[1]),
            row[2],
            None if row[3] is None else int(row[3]),
            row[4],
            row[5],
        )
        for row in rows
    ]


async def fetch_event(conn: ReadConnection, guild_id: int) -> EventRow | None:
    row = (
        await conn.execute(
            select(events.c.state, events.c.event_id, events.c.starts_at, events.c.error).where(
                events.c.guild_id == guild_id
            )
        )
    ).first()
    if row is None:
        return None
    return EventRow(guild_id, True, row[0], None if row[1] is None else int(row[1]), row[2], row[3])


async def claim(store: Store, guild_id: int, target: dt.datetime, now: dt.datetime) -> bool:
    """Claim the server's event before creating it: False when the ledger already holds one
    (made, or being made) — only a refused one may be claimed again."""
    async with store.transaction() as conn:
        insert = dialect_insert(conn, events).values(
            guild_id=guild_id, state="creating", event_id=None, starts_at=target, claimed_at=now
        )
        stmt = insert.on_conflict_do_update(
            index_elements=[events.c.guild_id],
            set_={"state": "creating", "event_id": None, "starts_at": target, "claimed_at": now, "error": None},
            where=events.c.state == "failed",
        )
        return (await conn.execute(stmt)).rowcount > 0


async def mark_live(store: Store, guild_id: int, event_id: int, starts_at: dt.datetime) -> None:
    async with store.transaction() as conn:
        await conn.execute(
            update(events)
            .where(events.c.guild_id == guild_id)
            .values(state="live", event_id=event_id, starts_at=starts_at, error=None, error_at=None)
        )


async def mark_failed(store: Store, guild_id: int, error: str, target: dt.datetime, now: dt.datetime) -> None:
    """Discord refused the event: nothing exists; the row waits for a new date or a moderator."""
    async with store.transaction() as conn:
        await conn.execute(
            update(events)
            .where(events.c.guild_id == guild_id)
            .values(state="failed", event_id=None, starts_at=target, error=error, error_at=now)
        )


async def forget(store: Store, guild_id: int) -> None:
    """The server's event is gone (deleted, or never made): the row goes."""
    async with store.transaction() as conn:
        await conn.execute(delete(events).where(events.c.guild_id == guild_id))


async def reset_failed(store: Store, guild_id: int) -> None:
    """A moderator turned events on again: a refused event is tried anew."""
    async with store.transaction() as conn:
        await conn.execute(delete(events).where(events.c.guild_id == guild_id, events.c.state == "failed"))


async def count_live(conn: ReadConnection) -> int:
    """Servers with a live premiere event (support and the benchmark)."""
    return len((await conn.execute(select(events.c.guild_id).where(events.c.state == "live"))).all())
