"""SQL of the ``spoiler_channels`` table (bot/migrations/0002_spoilers.sql).

Reads take a connection from ``store.read()``; every write is one ``store.transaction()``.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, case, delete, func, insert, select, tuple_

from bot.shards import Ownership
from bot.spoilers.policy import MAX_SPOILER_CHANNELS
from bot.store import ReadConnection, Store
from bot.store.memo import Recalled
from bot.store.schema import spoiler_channels as table


class AddResult(enum.Enum):
    """What adding a spoiler channel did."""

    ADDED = "added"
    ALREADY_LISTED = "already_listed"
    LIST_FULL = "list_full"


@dataclass(frozen=True, slots=True)
class SpoilerChannelRow:
    guild_id: int
    channel_id: int
    added_by: int
    added_at: datetime


#: Read by every command that may show a spoiler: built once.
_CHANNEL_IDS = select(table.c.channel_id).where(table.c.guild_id == bindparam("guild_id"))


async def fetch_spoiler_channel_ids(conn: ReadConnection, guild_id: int) -> frozenset[int]:
    """The ids a guild lists as spoiler channels or categories (what the policy needs)."""
    rows = await conn.scalars(_CHANNEL_IDS, {"guild_id": guild_id})
    return frozenset(int(channel_id) for channel_id in rows)


#: What the policy reads for every command that may show a spoiler, remembered by the store
#: (``store.recall(SPOILER_CHANNEL_IDS, guild_id)``); every write below names it.
SPOILER_CHANNEL_IDS: Recalled[int, frozenset[int]] = Recalled("spoiler channel ids", fetch_spoiler_channel_ids)


async def fetch_spoiler_channels(conn: ReadConnection, guild_id: int) -> list[SpoilerChannelRow]:
    """A guild's list in the order it was built."""
    result = await conn.execute(
        select(table.c.guild_id, table.c.channel_id, table.c.added_by, table.c.added_at)
        .where(table.c.guild_id == guild_id)
        .order_by(table.c.added_at, table.c.channel_id)
    )
    return [
        SpoilerChannelRow(
            guild_id=int(row.guild_id),
            channel_id=int(row.channel_id),
            added_by=int(row.added_by),
            added_at=row.added_at,
        )
        for row in result
    ]


async def add_spoiler_channel(
    store: Store, *, guild_id: int, channel_id: int, added_by: int, now: datetime
) -> AddResult:
    """List a channel; the duplicate and size checks happen inside the same transaction."""
    async with store.transaction(SPOILER_CHANNEL_IDS.of(guild_id)) as conn:
        row = (
            await conn.execute(
                select(
                    func.count().label("n"),
                    func.sum(case((table.c.channel_id == channel_id, 1), else_=0)).label("listed"),
                ).where(table.c.guild_id == guild_id)
            )
        ).one()
        if row.listed:
            return AddResult.ALREADY_LISTED
        if row.n >= MAX_SPOILER_CHANNELS:
            return AddResult.LIST_FULL
        await conn.execute(
            insert(table).values(guild_id=guild_id, channel_id=channel_id, added_by=added_by, added_at=now)
        )
    return AddResult.ADDED


async def remove_spoiler_channel(store: Store, *, guild_id: int, channel_id: int) -> bool:
    """Unlist a channel; False when it was not listed."""
    async with store.transaction(SPOILER_CHANNEL_IDS.of(guild_id)) as conn:
        result = await conn.execute(
            delete(table).where(and_(table.c.guild_id == guild_id, table.c.channel_id == channel_id))
        )
        return result.rowcount > 0


async def forget_channels_except(
    store: Store, guild_id: int, existing_ids: Collection[int], owned: Ownership
) -> list[int]:
    """Drop a guild's listed channels that no longer exist; returns the dropped ids."""
    dropped = await forget_missing(store, {guild_id: existing_ids}, owned)
    return dropped.get(guild_id, [])


async def forget_missing(
    store: Store, existing_channels: Mapping[int, Collection[int]], owned: Ownership
) -> dict[int, list[int]]:
    """Catch up in one transaction: drop rows of channels missing from ``existing_channels``,
    only in the guilds it names and this process owns (a guild it does not name is left
    alone: one the bot left is the guild keeper's, bot/guilds.py). Returns the dropped
    channel ids per guild.
    """
    dropped: dict[int, list[int]] = {}
    async with store.transaction(SPOILER_CHANNEL_IDS.every()) as conn:
        rows = (
            await conn.execute(select(table.c.guild_id, table.c.channel_id).where(owned.clause(table.c.guild_id)))
        ).all()
        for guild_id, channel_id in rows:
            known = existing_channels.get(guild_id)
            if known is not None and channel_id not in known:
                dropped.setdefault(int(guild_id), []).append(int(channel_id))
        pairs = [(guild_id, channel_id) for guild_id, ids in dropped.items() for channel_id in ids]
        if pairs:
            await conn.execute(delete(table).where(tuple_(table.c.guild_id, table.c.channel_id).in_(pairs)))
    return dropped
