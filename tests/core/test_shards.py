"""Shards: which shard a guild is on, which guilds' timed work a process owns, and how fast
shards may IDENTIFY. Pure functions, and the SQL filter checked against SQLite itself."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Column, MetaData, Table, column, create_engine, insert, select

from bot.shards import (
    EVERY_SHARD,
    IDENTIFY_LOCK_CLASS,
    IDENTIFY_SPACING,
    IdentifyGate,
    Ownership,
    SharedIdentifyTurns,
    shard_of,
)
from bot.store import Store
from bot.store.schema import polls
from cogs.countdown import repo
from cogs.countdown.posting import SHARED_STORE_LOOK_EVERY, look_again_by
from cogs.countdown.slots import PostingRule, Slot
from cogs.polls import repo as polls_repo
from tests.support.shards import guild_on
from tests.support.stores import fetch_rows, read_with

#: The snowflake of Discord's documentation ("Snowflake ID Broken Down"): timestamp 41944705796 ms.
GUILD = 175928847299117063
NOW = dt.datetime(2026, 11, 25, 13, tzinfo=dt.UTC)
SLOT = Slot(NOW, dt.date(2026, 11, 25), None)


def test_a_guild_is_on_the_shard_discords_formula_names() -> None:
    assert shard_of(GUILD, 1) == 0
    assert [shard_of(GUILD, n) for n in (3, 4, 7)] == [2, 0, 0]
    assert [shard_of(guild_on(s, 3), 3) for s in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="at least 1"):
        shard_of(GUILD, 0)


def test_a_process_of_every_shard_owns_every_guild_and_adds_no_sql() -> None:
    assert EVERY_SHARD.owns(GUILD)
    assert str(EVERY_SHARD.clause(column("guild_id"))) == "true"
    # Naming every shard is the same as naming none.
    assert Ownership.of(2, [0, 1]) == Ownership.of(2, None)
    assert Ownership.of(2, [0, 1]).owns_every_shard


def test_a_process_of_shard_1_owns_only_shard_1s_guilds() -> None:
    owned = Ownership.of(2, [1])
    assert owned.owns(guild_on(1, 2))
    assert not owned.owns(guild_on(0, 2))
    assert owned.owns_shard(1)
    assert not owned.owns_shard(0)
    assert str(owned.clause(column("guild_id")).compile(compile_kwargs={"literal_binds": True})) == (
        "(guild_id >> 22) % 2 IN (1)"
    )


def test_shard_ids_must_fit_the_count() -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        Ownership.of(2, [2])
    with pytest.raises(ValueError, match="need a shard count"):
        Ownership.of(None, [0])


@given(
    guild_ids=st.lists(st.integers(min_value=1, max_value=2**63 - 1), min_size=1, max_size=30),
    shard_count=st.integers(min_value=1, max_value=64),
    data=st.data(),
)
def test_the_sql_filter_selects_exactly_the_guilds_python_says_are_owned(
    guild_ids: list[int], shard_count: int, data: st.DataObject
) -> None:
    shard_ids = data.draw(st.sets(st.integers(min_value=0, max_value=shard_count - 1), min_size=1))
    owned = Ownership.of(shard_count, shard_ids)
    table = Table("g", MetaData(), Column("guild_id", BigInteger))
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        table.create(conn)
        if guild_ids:
            conn.execute(insert(table), [{"guild_id": g} for g in guild_ids])
        rows = conn.execute(select(table.c.guild_id).where(owned.clause(table.c.guild_id))).all()
    assert sorted(int(row[0]) for row in rows) == sorted(g for g in guild_ids if owned.owns(g))


async def test_due_countdown_posts_are_those_of_owned_guilds_only(store: Store) -> None:
    mine, theirs = guild_on(1, 2), guild_on(0, 2)
    for guild_id in (theirs, mine):
        await repo.save_schedule(
            store,
            guild_id=guild_id,
            channel_id=10,
            rule=PostingRule(dt.time(13), "UTC", "daily"),
            mode="post",
            slot=SLOT,
            current_change_id=1,
            by=5,
            now=NOW - dt.timedelta(hours=1),
        )
    shard_1 = Ownership.of(2, [1])
    # One row of room: the other shard's guild, due as early, must not take it.
    assert [s.guild_id for s in await read_with(store, repo.due_schedules, NOW, 1, shard_1)] == [mine]
    assert [s.guild_id for s in await read_with(store, repo.schedules_with_news, 2, 10, shard_1)] == [mine]
    assert sorted(s.guild_id for s in await read_with(store, repo.due_schedules, NOW, 10)) == sorted([mine, theirs])
    due, news = await read_with(store, repo.earliest_due, 2, Ownership.of(4, [3]))
    assert (due, news) == (None, False), "a process owning no scheduled guild has nothing due"
    assert await read_with(store, repo.earliest_due, 2, shard_1) == (NOW, True)


async def insert_polls(store: Store, rows: list[dict[str, Any]]) -> None:
    """Polls straight into the table, each with the columns given and the rest plain."""
    plain = {
        "channel_id": 10,
        "creator_id": 5,
        "question": "q",
        "max_choices": 1,
        "anonymous": False,
        "hide_results": False,
        "spoiler": False,
    }
    async with store.transaction() as conn:
        await conn.execute(insert(polls), [{**plain, "message_id": 100 + row["id"], **row} for row in rows])


async def test_poll_deadlines_are_those_of_owned_guilds_only(store: Store) -> None:
    mine, theirs = guild_on(1, 2), guild_on(0, 2)
    created = NOW - dt.timedelta(hours=2)
    await insert_polls(
        store,
        [
            {"id": poll_id, "guild_id": guild_id, "created_at": created, "closes_at": NOW}
            for poll_id, guild_id in ((1, theirs), (2, mine))
        ],
    )
    shard_1 = Ownership.of(2, [1])
    assert await read_with(store, polls_repo.next_poll_job, Ownership.of(4, [3])) is None
    assert await polls_repo.close_expired_polls(store, NOW, shard_1) == [2]
    assert await read_with(store, polls_repo.unannounced_polls, shard_1) == [2]
    assert await read_with(store, polls_repo.unannounced_polls, Ownership.of(2, [0])) == []
    assert await polls_repo.close_expired_polls(store, NOW) == [1]


async def test_stale_poll_messages_are_refreshed_by_the_process_of_their_guild(store: Store) -> None:
    mine, theirs = guild_on(1, 2), guild_on(0, 2)
    await insert_polls(
        store,
        [
            {"id": poll_id, "guild_id": guild_id, "created_at": NOW, "tally_version": 3}
            for poll_id, guild_id in ((1, theirs), (2, mine))
        ],
    )
    assert await read_with(store, polls_repo.stale_open_polls, Ownership.of(2, [1])) == [2]
    assert await read_with(store, polls_repo.stale_open_polls) == [1, 2]


def test_shards_in_different_identify_buckets_start_together() -> None:
    now = [100.0]
    gate = IdentifyGate(max_concurrency=2, clock=lambda: now[0])
    assert [gate.reserve(shard) for shard in (0, 1)] == [0.0, 0.0]
    assert gate.reserve(2) == IDENTIFY_SPACING  # bucket 0 again
    assert gate.reserve(3) == IDENTIFY_SPACING
    now[0] += IDENTIFY_SPACING * 2
    assert gate.reserve(4) == 0.0


def test_with_concurrency_one_every_identify_waits_its_turn() -> None:
    now = [0.0]
    gate = IdentifyGate(max_concurrency=1, clock=lambda: now[0])
    assert [gate.reserve(shard) for shard in range(3)] == [0.0, IDENTIFY_SPACING, 2 * IDENTIFY_SPACING]
    assert IdentifyGate(max_concurrency=0).max_concurrency == 1


def test_a_process_of_every_shard_sleeps_until_its_next_slot() -> None:
    """Alone on the store, every release change is made here and wakes the scheduler itself."""
    later = NOW + dt.timedelta(hours=3)
    assert look_again_by(later, NOW, EVERY_SHARD) == later
    assert look_again_by(None, NOW, EVERY_SHARD) is None
    assert look_again_by(later, NOW, Ownership.of(2, [0, 1])) == later  # every shard, named


def test_a_process_of_some_shards_looks_again_soon_for_news_recorded_elsewhere() -> None:
    shard_1 = Ownership.of(2, [1])
    soon = NOW + SHARED_STORE_LOOK_EVERY
    assert look_again_by(NOW + dt.timedelta(hours=3), NOW, shard_1) == soon
    assert look_again_by(None, NOW, shard_1) == soon
    sooner = NOW + dt.timedelta(seconds=1)
    assert look_again_by(sooner, NOW, shard_1) == sooner  # an earlier slot keeps its time
    assert look_again_by(NOW, NOW, shard_1) == NOW


@pytest.mark.postgresql_only
async def test_processes_on_one_postgresql_store_take_turns_to_identify_per_bucket(store_url: str) -> None:
    """Processes are stores on one database: bucket 1 goes at once after bucket 0; a process
    restarted right after bucket 0's turn waits for the spacing (the turn's time is in the
    store, not in the process), and a waiter that gives up frees the bucket's lock."""
    stores = [await Store.open(store_url) for _ in range(3)]
    first, second, restarted = stores
    try:
        one, other = SharedIdentifyTurns(first, spacing=600), SharedIdentifyTurns(second, spacing=600)
        assert await one.wait_turn(0) == 0.0  # the bot's first IDENTIFY ever
        assert await other.wait_turn(1) == 0.0  # another bucket
        # Shard 0's process restarts at once: the last turn's time is in the store, so it waits.
        after_a_crash = asyncio.create_task(SharedIdentifyTurns(restarted, spacing=600).wait_turn(0))
        await asyncio.sleep(0.5)
        assert not after_a_crash.done()  # its turn is 600 s after the first
        after_a_crash.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await after_a_crash
        # It gave up (its transaction rolled back): the bucket's lock is free for the next.
        assert await asyncio.wait_for(SharedIdentifyTurns(second, spacing=0).wait_turn(0), 10) == 0.0
        [(held,)] = await fetch_rows(
            first,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :cls"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            cls=IDENTIFY_LOCK_CLASS,
        )
        assert held == 0
    finally:
        for store in stores:
            await store.close()
