"""Each server's countdown options (``countdown_options``): whether the premiere is kept in
its Events list, and the role fans opt into to be pinged by release news."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from bot.store import ReadConnection, Store, dialect_insert
from bot.store.memo import Recalled
from bot.store.schema import countdown_options as options


@dataclass(frozen=True, slots=True)
class Options:
    """A server's countdown options; a server without a row has events off and no role."""

    events: bool = False
    notify_role_id: int | None = None


async def fetch_options(conn: ReadConnection, guild_id: int) -> Options:
    row = (
        await conn.execute(select(options.c.events, options.c.notify_role_id).where(options.c.guild_id == guild_id))
    ).first()
    if row is None:
        return Options()
    return Options(bool(row[0]), None if row[1] is None else int(row[1]))


async def fetch_notify_role(conn: ReadConnection, guild_id: int) -> int | None:
    return (await fetch_options(conn, guild_id)).notify_role_id


#: The notify role of a server, read for every post and every "Notify me" click.
NOTIFY_ROLE: Recalled[int, int | None] = Recalled("countdown notify role", fetch_notify_role)


async def save_events(store: Store, guild_id: int, *, on: bool, by: int, now: dt.datetime) -> bool:
    """Turn the premiere event on or off; returns whether it was on before."""
    async with store.transaction() as conn:
        before = await fetch_options(conn, guild_id)
        insert = dialect_insert(conn, options).values(
            guild_id=guild_id, events=on, notify_role_id=None, updated_by=by, updated_at=now
        )
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=[options.c.guild_id], set_={"events": on, "updated_by": by, "updated_at": now}
            )
        )
    return before.events


async def save_notify_role(
    store: Store, guild_id: int, role_id: int | None, *, by: int, now: dt.datetime
) -> int | None:
    """Set (or with None remove) the notify role; returns the role it replaced."""
    async with store.transaction(NOTIFY_ROLE.of(guild_id)) as conn:
        before = await fetch_options(conn, guild_id)
        insert = dialect_insert(conn, options).values(
            guild_id=guild_id, events=False, notify_role_id=role_id, updated_by=by, updated_at=now
        )
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=[options.c.guild_id],
                set_={"notify_role_id": role_id, "updated_by": by, "updated_at": now},
            )
        )
    return before.notify_role_id
