"""The store: numbered migrations, a clear refusal of files it must not touch."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from bot.store import Store, StoreError, discover_migrations, split_sql


async def test_an_empty_database_is_migrated_to_the_latest_version(tmp_path: Path) -> None:
    migrations = discover_migrations()
    store = await Store.open(tmp_path / "fresh.db")
    try:
        assert await store.schema_version() == migrations[-1].version
        async with store.conn.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone())[0] == "wal"
        async with store.conn.execute("PRAGMA foreign_keys") as cursor:
            assert (await cursor.fetchone())[0] == 1
    finally:
        await store.close()


@pytest.mark.parametrize("stop_after", range(len(discover_migrations())))
async def test_a_database_at_every_earlier_version_is_migrated(tmp_path: Path, stop_after: int) -> None:
    migrations = discover_migrations()
    path = tmp_path / "old.db"
    old = await Store.open(path, migrations=migrations[: stop_after + 1])
    assert await old.schema_version() == migrations[stop_after].version
    async with old.transaction() as conn:
        await conn.execute("INSERT INTO bot_state (key, value) VALUES ('kept', 'yes')")
    await old.close()

    store = await Store.open(path)
    try:
        assert await store.schema_version() == migrations[-1].version
        async with store.conn.execute("SELECT value FROM bot_state WHERE key = 'kept'") as cursor:
            assert (await cursor.fetchone())["value"] == "yes"
    finally:
        await store.close()


async def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        await Store.open(path)
    assert path.read_bytes() == b"these are my notes, not a database" * 100


async def test_a_database_from_a_newer_schema_is_refused_without_changes(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE precious (value TEXT)")
        conn.execute("INSERT INTO precious VALUES ('keep me')")
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError, match="schema version 999, newer than this bot knows"):
        await Store.open(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM precious").fetchall() == [("keep me",)]
        assert conn.execute("PRAGMA user_version").fetchone() == (999,)


async def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    migrations = discover_migrations()
    path = tmp_path / "broken.db"
    store = await Store.open(path)
    version = await store.schema_version()
    from bot.store import Migration

    bad = Migration(version + 1, "9999_bad", "CREATE TABLE half (x INTEGER);\nINSERT INTO nowhere VALUES (1);")
    with pytest.raises(sqlite3.OperationalError):
        await store.migrate([*migrations, bad])
    assert await store.schema_version() == version
    async with store.conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'") as cursor:
        assert await cursor.fetchone() is None
    await store.close()


async def test_a_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "t.db")
    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('a', '1')")
            raise RuntimeError("boom")
    async with store.conn.execute("SELECT count(*) FROM bot_state WHERE key = 'a'") as cursor:
        assert (await cursor.fetchone())[0] == 0
    await store.close()


def test_split_sql_keeps_semicolons_inside_strings() -> None:
    script = "-- a comment; not a statement\nCREATE TABLE a (x TEXT DEFAULT ';');\nINSERT INTO a VALUES ('b;c');\n"
    assert split_sql(script) == ["CREATE TABLE a (x TEXT DEFAULT ';');", "INSERT INTO a VALUES ('b;c');"]


def test_migration_files_are_numbered_uniquely() -> None:
    versions = [m.version for m in discover_migrations()]
    assert versions == sorted(set(versions))
    assert versions[0] == 1


async def test_a_transaction_cancelled_while_waiting_leaves_the_connection_usable(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "t.db")

    async def write(key: str) -> None:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES (?, 'v')", (key,))
            await asyncio.sleep(0.05)

    await write("first")
    for yields in range(8):  # cancel at many points: taking the lock, in BEGIN, in the body
        task = asyncio.create_task(write("cancelled"))
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await write("after")
    async with store.conn.execute("SELECT key FROM bot_state WHERE key IN ('first', 'after')") as cursor:
        assert sorted(row["key"] for row in await cursor.fetchall()) == ["after", "first"]
    assert not store.conn.in_transaction
    await store.close()
