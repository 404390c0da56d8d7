"""A guild's settings while the bot comes and goes, and the one rule every clean-up obeys.

Features declare the tables that hold a guild's own rows (spoiler channels, a countdown
schedule and its ledger, a poll creator role, a language) with :meth:`GuildKeeper.keep`
and write no clean-up of their own. The keeper does all of it:

- the bot is removed from a guild (GUILD_DELETE), or is found gone from it at READY (it was
  removed while offline): the guild is marked departed and its rows are kept;
- it is invited back within the grace period (``GUILD_GRACE_DAYS``, 7 days by default): the
  mark goes and the server finds its settings as it left them;
- the grace period ends: every kept table's rows of that guild are purged in one
  transaction, with the mark (a scheduler source, so it happens on time after restarts too).

Every statement here is limited to the guilds this process owns (``Ownership.clause``, the
shards it runs). A process of a cluster never sees the guilds of the other processes' shards
in its cache, so "not in my cache" must never mean "gone": by limiting the statements, not
the call sites, no path of the keeper can mark, restore or purge a guild it does not own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.shards import Ownership
from bot.store import Store, dialect_insert
from bot.store.memo import Recalled
from bot.store.schema import departed_guilds

log = logging.getLogger(__name__)

#: Guilds purged in one transaction; the scheduler comes back at once for the rest.
PURGE_BATCH = 500


def in_guild(guild_id: ColumnElement[int]) -> ColumnElement[bool]:
    """True for rows of guilds the bot is in (not departed): what timed work posts to."""
    return ~exists().where(departed_guilds.c.guild_id == guild_id)


@dataclass(frozen=True)
class KeptTable:
    """A feature's table of per-guild rows, and what the store remembers from it."""

    table: Table
    remembered: tuple[Recalled[int, Any], ...]


class GuildKeeper:
    """Keeps, restores and purges the per-guild rows of every feature, for owned guilds only.

    ``store``, ``ownership`` and ``clock`` are read at each use: the store opens and the
    shard count is known only as the bot starts.
    """

    name = "departed guilds"

    def __init__(
        self,
        store: Callable[[], Store],
        ownership: Callable[[], Ownership],
        clock: Callable[[], datetime],
        grace: timedelta,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._ownership = ownership
        self._clock = clock
        self.grace = grace
        self._wake = wake
        self._kept: dict[str, KeptTable] = {}

    def keep(self, table: Table, *remembered: Recalled[int, Any]) -> None:
        """Declare a table of per-guild rows (it has a ``guild_id`` column): kept while the bot
        is away, purged when the grace period ends. ``remembered``: values the store remembers
        from it, forgotten when rows are purged."""
        if "guild_id" not in table.c:
            raise ValueError(f"table {table.name} has no guild_id column")
        self._kept[table.name] = KeptTable(table, remembered)

    def release(self, table: Table) -> None:
        """A feature unloaded: its table is no longer kept (nor purged) by the keeper."""
        self._kept.pop(table.name, None)

    @property
    def kept_tables(self) -> tuple[Table, ...]:
        return tuple(kept.table for kept in self._kept.values())

    def _owned(self, column: ColumnElement[int]) -> ColumnElement[bool]:
        return self._ownership().clause(column)

    # -- the bot's coming and going ------------------------------------------------------

    async def left(self, guild_id: int) -> bool:
        """The bot was removed from ``guild_id``: keep its rows for the grace period.

        False (and nothing written) for a guild of another process's shards."""
        if not self._ownership().owns(guild_id):
            log.warning("guild %s is not on this process's shards: not marking it departed", guild_id)
            return False
        async with self._store().transaction() as conn:
            await _mark_departed(conn, [guild_id], self._clock())
        log.info("left guild %s; its settings are kept for %s", guild_id, self.grace)
        self._wake()
        return True

    async def joined(self, guild_id: int) -> bool:
        """The bot is in ``guild_id`` (again): what was kept is the guild's once more.

        True when the guild had been marked departed."""
        departed = departed_guilds.c.guild_id
        async with self._store().transaction() as conn:
            result = await conn.execute(delete(departed_guilds).where(departed == guild_id, self._owned(departed)))
        if result.rowcount:
            log.info("back in guild %s within the grace period; its settings are restored", guild_id)
            self._wake()
        return bool(result.rowcount)

    async def reconcile(self, present: Collection[int]) -> tuple[list[int], list[int]]:
        """At READY: owned guilds with rows that the bot is no longer in (removed while it was
        offline) are marked departed now; departed guilds it is in again are restored.

        ``present``: the guilds of this process's cache (all of its shards are READY).
        Returns (marked departed, restored)."""
        here = set(present)
        departed = departed_guilds.c.guild_id
        async with self._store().transaction() as conn:
            with_rows: set[int] = set()
            for kept in self._kept.values():
                column = kept.table.c.guild_id
                with_rows.update(int(g) for g in await conn.scalars(select(column).distinct().where(self._owned(column))))
            already = {int(g) for g in await conn.scalars(select(departed).where(self._owned(departed)))}
            gone = sorted(with_rows - here - already)
            back = sorted(already & here)
            if gone:
                await _mark_departed(conn, gone, self._clock())
            if back:
                await conn.execute(delete(departed_guilds).where(departed.in_(back), self._owned(departed)))
        if gone:
            log.info("%d guild(s) removed the bot while it was offline; their settings are kept for %s", len(gone), self.grace)
        if back:
            log.info("back in %d departed guild(s) within the grace period; their settings are restored", len(back))
        if gone or back:
            self._wake()
        return gone, back

    # -- the scheduler's source: purging when the grace period ends ---------------------------

    async def next_due(self, now: datetime) -> datetime | None:
        departed = departed_guilds.c
        async with self._store().read() as conn:
            first = await conn.scalar(select(func.min(departed.left_at)).where(self._owned(departed.guild_id)))
        return None if first is None else first + self.grace

    async def run_due(self, now: datetime) -> None:
        await self.purge_expired(now)

    async def purge_expired(self, now: datetime) -> list[int]:
        """Purge every kept row of owned guilds departed longer than the grace period ago."""
        departed = departed_guilds.c
        changes = [recalled.every() for kept in self._kept.values() for recalled in kept.remembered]
        async with self._store().transaction(*changes) as conn:
            guild_ids = [
                int(g)
                for g in await conn.scalars(
                    select(departed.guild_id)
                    .where(departed.left_at <= now - self.grace, self._owned(departed.guild_id))
                    .order_by(departed.left_at)
                    .limit(PURGE_BATCH)
                )
            ]
            if not guild_ids:
                return []
            purged = 0
            for kept in self._kept.values():
                column = kept.table.c.guild_id
                result = await conn.execute(delete(kept.table).where(column.in_(guild_ids), self._owned(column)))
                purged += int(result.rowcount)
            await conn.execute(
                delete(departed_guilds).where(departed.guild_id.in_(guild_ids), self._owned(departed.guild_id))
            )
        log.info("purged %d row(s) of %d guild(s) the bot left more than %s ago", purged, len(guild_ids), self.grace)
        return guild_ids


async def _mark_departed(conn: AsyncConnection, guild_ids: list[int], now: datetime) -> None:
    """Mark guilds departed at ``now`` (a guild left again starts its grace period again)."""
    insert = dialect_insert(conn, departed_guilds).values([{"guild_id": g, "left_at": now} for g in guild_ids])
    await conn.execute(insert.on_conflict_do_update(index_elements=["guild_id"], set_={"left_at": insert.excluded.left_at}))
