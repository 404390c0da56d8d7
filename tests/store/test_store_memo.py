"""Remembered settings (bot/store/memo.py): every writer makes the next read fresh, a read that
overlapped a write is not kept, and what another process writes shows within REMEMBER_FOR."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.guilds import GuildKeeper
from bot.shards import EVERY_SHARD
from bot.spoilers.repo import (
    SPOILER_CHANNEL_IDS,
    add_spoiler_channel,
    forget_channels_except,
    forget_missing,
    remove_spoiler_channel,
)
from bot.store import Store
from bot.store.memo import REMEMBER_FOR, Recalled
from bot.store.schema import countdown_schedules, spoiler_channels
from cogs.countdown import repo as countdown
from cogs.countdown.record import pack_replaces
from cogs.countdown.slots import PostingRule
from tests.support.countdown_records import NOW, RULE, SLOT, keep, record_version
from tests.support.stores import read_with

GUILD, CHANNEL, OTHER_CHANNEL = 1, 10, 11
#: A spoiler channel written behind the repository's back (no memo is told).
SPOILER_CHANNEL_IDS_INSERT = spoiler_channels.insert()
ROW = {"guild_id": GUILD, "channel_id": CHANNEL, "added_by": 5, "added_at": NOW}


async def add_channel(store: Store, channel_id: int = CHANNEL) -> None:
    await add_spoiler_channel(store, guild_id=GUILD, channel_id=channel_id, added_by=5, now=NOW)


async def save_schedule(store: Store, zone: str) -> None:
    rule = PostingRule(RULE.at, zone, RULE.cadence)
    saved = await countdown.save_schedule(
        store, guild_id=GUILD, channel_id=CHANNEL, rule=rule, mode="post", slot=SLOT, current_change_id=1, by=5, now=NOW
    )
    assert saved


async def seed(store: Store) -> None:
    await countdown.seed_from_pack(
        store, record_version("pack", "early 2027", dt.date(2025, 9, 18)), NOW, keep, pack_replaces
    )


async def purge_departed(store: Store) -> None:
    """The guild keeper purges a guild the bot left (a grace period of 0: at once)."""
    keeper = GuildKeeper(lambda: store, lambda: EVERY_SHARD, lambda: NOW, dt.timedelta(0))
    keeper.keep(spoiler_channels, SPOILER_CHANNEL_IDS)
    keeper.keep(countdown_schedules, countdown.SCHEDULE_ZONE)
    assert await keeper.left(GUILD)
    assert await keeper.purge_expired(NOW) == [GUILD]


@dataclass(frozen=True)
class Writer:
    """One function that writes a remembered value, with what makes its write visible."""

    name: str
    kind: Recalled[Any, Any]
    key: Any
    before: Callable[[Store], Awaitable[None]]
    write: Callable[[Store], Awaitable[Any]]


async def nothing(store: Store) -> None:
    return None


WRITERS = [
    Writer("add_spoiler_channel", SPOILER_CHANNEL_IDS, GUILD, nothing, add_channel),
    Writer(
        "remove_spoiler_channel",
        SPOILER_CHANNEL_IDS,
        GUILD,
        add_channel,
        lambda s: remove_spoiler_channel(s, guild_id=GUILD, channel_id=CHANNEL),
    ),
    Writer("guild keeper purge (spoiler channels)", SPOILER_CHANNEL_IDS, GUILD, add_channel, purge_departed),
    Writer(
        "forget_channels_except",
        SPOILER_CHANNEL_IDS,
        GUILD,
        add_channel,
        lambda s: forget_channels_except(s, GUILD, {OTHER_CHANNEL}, EVERY_SHARD),
    ),
    Writer(
        "forget_missing",
        SPOILER_CHANNEL_IDS,
        GUILD,
        add_channel,
        lambda s: forget_missing(s, {GUILD: set()}, EVERY_SHARD),
    ),
    Writer("save_schedule (new)", countdown.SCHEDULE_ZONE, GUILD, nothing, lambda s: save_schedule(s, "Asia/Seoul")),
    Writer(
        "save_schedule (zone changed)",
        countdown.SCHEDULE_ZONE,
        GUILD,
        lambda s: save_schedule(s, "UTC"),
        lambda s: save_schedule(s, "Asia/Seoul"),
    ),
    Writer(
        "guild keeper purge (countdown schedule)",
        countdown.SCHEDULE_ZONE,
        GUILD,
        lambda s: save_schedule(s, "UTC"),
        purge_departed,
    ),
    Writer(
        "delete_schedule",
        countdown.SCHEDULE_ZONE,
        GUILD,
        lambda s: save_schedule(s, "UTC"),
        lambda s: countdown.delete_schedule(s, GUILD),
    ),
    Writer("seed_from_pack", countdown.CURRENT_RECORD, None, nothing, seed),
    Writer(
        "record_change",
        countdown.CURRENT_RECORD,
        None,
        seed,
        lambda s: countdown.record_change(
            s, record_version("owner", "2027-03-14", dt.date(2026, 11, 20)), NOW, keep
        ),
    ),
]


@pytest.mark.parametrize("writer", WRITERS, ids=[w.name for w in WRITERS])
async def test_every_writer_of_a_remembered_value_shows_its_write_at_the_next_read(
    store: Store, writer: Writer
) -> None:
    await writer.before(store)
    remembered = await store.recall(writer.kind, writer.key)
    assert await store.recall(writer.kind, writer.key) == remembered  # now from memory
    await writer.write(store)
    fresh = await read_with(store, writer.kind.load, writer.key)
    assert fresh != remembered, "the write must change the value, or this case proves nothing"
    assert await store.recall(writer.kind, writer.key) == fresh


async def test_a_value_is_read_once_and_then_remembered(store: Store) -> None:
    await add_channel(store)
    reads: list[int] = []

    async def load(conn: AsyncConnection, guild_id: int) -> frozenset[int]:
        reads.append(guild_id)
        return await SPOILER_CHANNEL_IDS.load(conn, guild_id)

    kind = Recalled("counted", load)
    for _ in range(5):
        assert await store.recall(kind, GUILD) == {CHANNEL}
    assert reads == [GUILD]


async def test_a_read_under_way_while_a_write_commits_is_not_remembered(store: Store) -> None:
    """The read saw the row before the write; keeping it would hide the write until REMEMBER_FOR."""
    read_started, write_done = asyncio.Event(), asyncio.Event()

    async def slow_load(conn: AsyncConnection, guild_id: int) -> frozenset[int]:
        value = await SPOILER_CHANNEL_IDS.load(conn, guild_id)
        read_started.set()
        await write_done.wait()
        return value

    kind = Recalled("slow spoiler channel ids", slow_load)
    reading = asyncio.create_task(store.recall(kind, GUILD))
    await read_started.wait()
    async with store.transaction(kind.of(GUILD)) as conn:
        await conn.execute(SPOILER_CHANNEL_IDS_INSERT, ROW)
    write_done.set()
    assert await reading == frozenset()  # what it read, returned to its caller ...
    assert await store.recall(kind, GUILD) == {CHANNEL}  # ... but not kept


async def test_a_failed_write_forgets_too(store: Store) -> None:
    """A commit whose answer was lost may have happened: the value is read again."""
    assert await store.recall(SPOILER_CHANNEL_IDS, GUILD) == frozenset()
    with pytest.raises(RuntimeError):
        async with store.transaction(SPOILER_CHANNEL_IDS.of(GUILD)):
            raise RuntimeError("the connection broke")
    # Written behind the memo's back, as if the lost commit had happened.
    async with store.transaction() as conn:
        await conn.execute(SPOILER_CHANNEL_IDS_INSERT, ROW)
    assert await store.recall(SPOILER_CHANNEL_IDS, GUILD) == {CHANNEL}


async def test_another_process_write_shows_within_remember_for(store: Store, store_url: str) -> None:
    """A second Store on the same database is another process: its write reaches this one's
    memory only when the remembered value expires (real clock)."""
    assert await store.recall(SPOILER_CHANNEL_IDS, GUILD) == frozenset()
    other = await Store.open(store_url)
    try:
        await add_spoiler_channel(other, guild_id=GUILD, channel_id=CHANNEL, added_by=5, now=NOW)
    finally:
        await other.close()
    written = asyncio.get_running_loop().time()
    seen = None
    while seen is None:
        if await store.recall(SPOILER_CHANNEL_IDS, GUILD) == {CHANNEL}:
            seen = asyncio.get_running_loop().time() - written
        else:
            await asyncio.sleep(0.05)
            assert asyncio.get_running_loop().time() - written < REMEMBER_FOR + 1
    assert seen <= REMEMBER_FOR + 0.2


