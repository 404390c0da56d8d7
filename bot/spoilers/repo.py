"""SQL of the ``spoiler_channels`` table (bot/migrations/0002_spoilers.sql).

Reads use the shared connection; every write is one ``store.transaction()``.
Times are stored as UTC ISO-8601 text.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.spoilers.policy import MAX_SPOILER_CHANNELS
from bot.store import Store, to_db_time


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


async def fetch_spoiler_channel_ids(conn: aiosqlite.Connection, guild_id: int) -> frozenset[int]:
    """The ids a guild lists as spoiler channels or categories (what the policy needs)."""
    # One round trip to aiosqlite's thread (a cursor takes three): this runs for every response.
    rows = await conn.execute_fetchall("SELECT channel_id FROM spoiler_channels WHERE guild_id = ?", (guild_id,))
    return frozenset(int(row["channel_id"]) for row in rows)


async def fetch_spoiler_channels(conn: aiosqlite.Connection, guild_id: int) -> list[SpoilerChannelRow]:
    """A guild's list in the order it was built."""
    async with conn.execute(
        "SELECT guild_id, channel_id, added_by, added_at FROM spoiler_channels "
        "WHERE guild_id = ? ORDER BY added_at, channel_id",
        (guild_id,),
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        SpoilerChannelRow(
            guild_id=int(row["guild_id"]),
            channel_id=int(row["channel_id"]),
            added_by=int(row["added_by"]),
            added_at=datetime.fromisoformat(row["added_at"]),
        )
        for row in rows
    ]


async def add_spoiler_channel(
    store: Store, *, guild_id: int, channel_id: int, added_by: int, now: datetime
) -> AddResult:
    """List a channel; the duplicate and size checks happen inside the same transaction."""
    async with store.transaction() as conn:
        async with conn.execute(
            "SELECT count(*) AS n, sum(channel_id = ?) AS listed FROM spoiler_channels WHERE guild_id = ?",
            (channel_id, guild_id),
        ) as cursor:
            row = await cursor.fetchone()
        count, listed = (int(row["n"]), int(row["listed"] or 0)) if row else (0, 0)
        if listed:
            return AddResult.ALREADY_LISTED
        if count >= MAX_SPOILER_CHANNELS:
            return AddResult.LIST_FULL
        await conn.execute(
            "INSERT INTO spoiler_channels (guild_id, channel_id, added_by, added_at) VALUES (?, ?, ?, ?)",
            (guild_id, channel_id, added_by, to_db_time(now)),
        )
    return AddResult.ADDED


async def remove_spoiler_channel(store: Store, *, guild_id: int, channel_id: int) -> bool:
    """Unlist a channel; False when it was not listed."""
    async with store.transaction() as conn:
        cursor = await conn.execute(
            "DELETE FROM spoiler_channels WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
        )
        return cursor.rowcount > 0


async def forget_guild(store: Store, guild_id: int) -> int:
    """Delete everything a guild configured here (the bot left it); returns rows deleted."""
    async with store.transaction() as conn:
        cursor = await conn.execute("DELETE FROM spoiler_channels WHERE guild_id = ?", (guild_id,))
        return cursor.rowcount


async def forget_channels_except(store: Store, guild_id: int, existing_ids: Collection[int]) -> list[int]:
    """Drop a guild's listed channels that no longer exist; returns the dropped ids."""
    dropped = await forget_missing(store, {guild_id: existing_ids}, present_guild_ids=None)
    return dropped.get(guild_id, [])


async def forget_missing(
    store: Store,
    existing_channels: Mapping[int, Collection[int]],
    *,
    present_guild_ids: Collection[int] | None,
) -> dict[int, list[int]]:
    """Catch up in one transaction: drop rows of guilds the bot is no longer in (when
    ``present_guild_ids`` is given) and rows of channels missing from ``existing_channels``
    (only for the guilds it names). Returns the dropped channel ids per guild.
    """
    dropped: dict[int, list[int]] = {}
    async with store.transaction() as conn:
        async with conn.execute("SELECT guild_id, channel_id FROM spoiler_channels") as cursor:
            rows = [(int(row["guild_id"]), int(row["channel_id"])) for row in await cursor.fetchall()]
        for guild_id, channel_id in rows:
            gone_guild = present_guild_ids is not None and guild_id not in present_guild_ids
            known = existing_channels.get(guild_id)
            if gone_guild or (known is not None and channel_id not in known):
                dropped.setdefault(guild_id, []).append(channel_id)
        await conn.executemany(
            "DELETE FROM spoiler_channels WHERE guild_id = ? AND channel_id = ?",
            [(guild_id, channel_id) for guild_id, ids in dropped.items() for channel_id in ids],
        )
    return dropped
