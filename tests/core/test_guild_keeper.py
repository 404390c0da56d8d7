"""The guild keeper (bot/guilds.py): kept, restored and purged rows, and never a guild of
another process's shards, whatever it is asked. On both stores."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select

from bot.guilds import GuildKeeper
from bot.shards import EVERY_SHARD, Ownership, shard_of
from bot.store import Store
from bot.store.schema import TABLES, departed_guilds, guild_languages, poll_settings, spoiler_channels
from tests.support.harness import Harness

#: Their subject is the store (see tests/support/stores.py): they run on SQLite and PostgreSQL.
pytestmark = pytest.mark.both_stores

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
GRACE = dt.timedelta(days=7)
#: Shard 0 of 2 is this process's; shard 1 is another process's.
MINE, THEIRS = 0 << 22, 1 << 22
MY_SHARD = Ownership.of(2, [0])


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


def keeper_of(store: Store, ownership: Ownership = MY_SHARD) -> tuple[GuildKeeper, Clock]:
    clock = Clock()
    keeper = GuildKeeper(lambda: store, lambda: ownership, clock, GRACE)
    keeper.keep(spoiler_channels)
    keeper.keep(poll_settings)
    keeper.keep(guild_languages)
    return keeper, clock


async def settle_rows(store: Store, *guild_ids: int) -> None:
    async with store.transaction() as conn:
        for guild_id in guild_ids:
            await conn.execute(
                insert(spoiler_channels).values(guild_id=guild_id, channel_id=guild_id + 1, added_by=5, added_at=NOW)
            )
            await conn.execute(insert(poll_settings).values(guild_id=guild_id, creator_role_id=guild_id + 2))
            await conn.execute(insert(guild_languages).values(guild_id=guild_id, language="ko"))


async def guilds_with_rows(store: Store) -> dict[str, set[int]]:
    async with store.read() as conn:
        return {
            table.name: {int(g) for g in await conn.scalars(select(table.c.guild_id))}
            for table in (spoiler_channels, poll_settings, guild_languages, departed_guilds)
        }


def test_the_guild_ids_of_the_test_are_on_the_shards_they_claim() -> None:
    assert shard_of(MINE, 2) == 0
    assert shard_of(THEIRS, 2) == 1
    assert MY_SHARD.owns(MINE)
    assert not MY_SHARD.owns(THEIRS)


async def test_left_guilds_are_kept_restored_within_the_grace_period_and_purged_after(store: Store) -> None:
    keeper, clock = keeper_of(store)
    staying, returning, leaving = MINE, MINE + (2 << 22), MINE + (4 << 22)
    await settle_rows(store, staying, returning, leaving)
    assert await keeper.left(returning)
    assert await keeper.left(leaving)
    assert await keeper.next_due(NOW) == NOW + GRACE

    clock.now = NOW + GRACE - dt.timedelta(seconds=1)
    assert await keeper.joined(returning)
    assert not await keeper.joined(staying)  # never left: nothing to restore
    assert await keeper.purge_expired(clock.now) == []
    assert await keeper.purge_expired(NOW + GRACE) == [leaving]

    rows = await guilds_with_rows(store)
    assert rows == {
        "spoiler_channels": {staying, returning},
        "poll_settings": {staying, returning},
        "guild_languages": {staying, returning},
        "departed_guilds": set(),
    }
    assert await keeper.next_due(NOW) is None


async def test_a_guild_left_again_starts_its_grace_period_again(store: Store) -> None:
    keeper, clock = keeper_of(store)
    await settle_rows(store, MINE)
    assert await keeper.left(MINE)
    clock.now = NOW + dt.timedelta(days=3)
    assert await keeper.joined(MINE)
    assert await keeper.left(MINE)
    assert await keeper.next_due(clock.now) == clock.now + GRACE
    assert await keeper.purge_expired(NOW + GRACE) == []


async def test_no_path_of_the_keeper_touches_a_guild_of_another_shard(store: Store) -> None:
    """The cluster's data-loss bug, by construction: told that every guild of the other shard is
    gone, asked to leave, restore and purge them, the keeper writes nothing of theirs."""
    keeper, clock = keeper_of(store)
    await settle_rows(store, MINE, THEIRS)
    # The other process marked its own guild departed long ago: its purge is that process's.
    async with store.transaction() as conn:
        await conn.execute(insert(departed_guilds).values(guild_id=THEIRS + (2 << 22), left_at=NOW - GRACE * 10))
    await settle_rows(store, THEIRS + (2 << 22))
    before = await guilds_with_rows(store)

    # READY in a process whose cache holds none of the other shard's guilds (it never does).
    assert await keeper.reconcile(present={MINE}) == ([], [])
    assert not await keeper.left(THEIRS)
    assert not await keeper.joined(THEIRS + (2 << 22))
    clock.now = NOW + GRACE * 20
    assert await keeper.next_due(clock.now) is None
    assert await keeper.purge_expired(clock.now) == []
    assert await guilds_with_rows(store) == before

    # The process that owns them sees them.
    theirs_keeper, _ = keeper_of(store, Ownership.of(2, [1]))
    assert await theirs_keeper.reconcile(present={THEIRS + (2 << 22)}) == ([THEIRS], [THEIRS + (2 << 22)])


async def test_ready_marks_guilds_removed_while_offline_and_restores_those_back(store: Store) -> None:
    keeper, _ = keeper_of(store, EVERY_SHARD)
    present, removed, back = 11 << 22, 12 << 22, 13 << 22
    await settle_rows(store, present, removed, back)
    assert await keeper.left(back)
    assert await keeper.reconcile(present={present, back}) == ([removed], [back])
    assert await keeper.reconcile(present={present, back}) == ([], [])  # nothing new: idempotent
    assert (await guilds_with_rows(store))["departed_guilds"] == {removed}


async def test_only_tables_with_a_guild_id_can_be_kept(store: Store) -> None:
    keeper, _ = keeper_of(store)
    with pytest.raises(ValueError, match="no guild_id column"):
        keeper.keep(departed_guilds.metadata.tables["poll_votes"])


#: Tables with per-guild rows that the keeper deliberately does not purge, and why.
NOT_KEPT = {
    # Polls close at their deadlines whether or not the bot is there; closed polls' votes follow
    # the poll retention instead.
    "polls",
    # The keeper's own table.
    "departed_guilds",
}


async def test_every_table_of_per_guild_rows_is_kept_by_the_running_bot(harness: Harness) -> None:
    """A feature that adds a per-guild table must declare it to the keeper (or here, with why)."""
    per_guild = {table.name for table in TABLES if "guild_id" in table.c}
    kept = {table.name for table in harness.bot.guild_keeper.kept_tables}
    assert kept == per_guild - NOT_KEPT
