"""The store on both databases: one migration history, in-place upgrades, clear refusals."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import sqlite3
from functools import partial
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store import (
    Store,
    StoreError,
    StoreFailure,
    classify_failure,
    describe_url,
    parse_database_url,
    to_db_time,
)
from bot.store import migrate as store_migrate
from bot.store import sqlite as store_sqlite
from bot.store.ddl import split_sql, sqlite_statements
from bot.store.precompiled import PrecompiledSqlite
from bot.store.schema import TABLES, bot_state, countdown_schedules, poll_votes, polls, spoiler_channels
from localdiscord import wait_until

#: The newest shipped revision (read from the scripts, so adding one changes no test).
HEAD = max(
    path.name[:4] for path in (Path(store_migrate.__file__).parent / "migrations" / "versions").glob("[0-9]*.py")
)


async def test_an_empty_database_is_migrated_to_the_latest_revision(store: Store) -> None:
    assert await store.schema_version() == HEAD
    assert {table.name for table in TABLES} <= set(await store.table_names())
    if store.is_sqlite:
        async with store.read() as conn:
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA user_version")) == int(HEAD)


async def test_opening_again_changes_nothing(store_url: str) -> None:
    first = await Store.open(store_url)
    assert await first.migrate() == []
    await first.close()
    again = await Store.open(store_url)
    assert await again.schema_version() == HEAD
    await again.close()


def build_legacy_database(path: Path, version: int) -> None:
    """A database exactly as the releases before SQLAlchemy made it: their scripts, in order,
    each in a transaction with ``PRAGMA user_version`` (bot/store.py of 2026-11), and rows
    written the way their repositories wrote them (times as fixed-width UTC text)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for number in range(1, version + 1):
        conn.execute("BEGIN IMMEDIATE")
        for statement in sqlite_statements(f"{number:04d}"):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    conn.execute("INSERT INTO bot_state (key, value) VALUES ('kept', 'yes')")
    if version >= 2:
        conn.execute(
            "INSERT INTO spoiler_channels VALUES (?, ?, ?, ?)",
            (1 << 60, (1 << 60) + 1, 42, "2026-11-20T08:00:00.000000+00:00"),
        )
    if version >= 3:
        conn.execute(
            "INSERT INTO countdown_schedules (guild_id, channel_id, local_time, timezone, cadence, mode, "
            "next_due_at, next_slot_date, updated_by, updated_at, paused) VALUES (?, ?, '09:00', 'Asia/Seoul', "
            "'daily', 'post', '2026-11-21T00:00:00.000000+00:00', '2026-11-21', 7, "
            "'2026-11-20T08:00:00.000000+00:00', 1)",
            (2**63 - 1, 5),
        )
    if version >= 4:
        conn.execute(
            "INSERT INTO polls (id, guild_id, channel_id, message_id, creator_id, question, max_choices, anonymous, "
            "hide_results, spoiler, created_at) VALUES (3, 9, 9, 99, 7, 'Best?', 1, 1, 0, 0, "
            "'2026-11-20T08:00:00.000000+00:00')"
        )
        conn.execute("INSERT INTO poll_options VALUES (3, 0, 'On Jo')")
        conn.execute("INSERT INTO poll_votes VALUES (3, 11, 0, '2026-11-20T08:01:00.000000+00:00')")
    conn.close()


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
async def test_a_database_made_before_sqlalchemy_upgrades_in_place_and_keeps_every_row(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "old.db"
    build_legacy_database(path, version)
    before = {name: rows for name, rows in _dump(path).items() if name != "alembic_version"}

    store = await Store.open(path)
    try:
        assert await store.schema_version() == HEAD
        async with store.read() as conn:
            assert await conn.scalar(select(bot_state.c.value).where(bot_state.c.key == "kept")) == "yes"
            if version >= 2:
                added = await conn.scalar(select(spoiler_channels.c.added_at))
                assert added == dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
            if version >= 3:
                row = (await conn.execute(select(countdown_schedules))).one()
                assert row.guild_id == 2**63 - 1
                assert row.next_due_at == dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
                assert row.next_slot_date == dt.date(2026, 11, 21)
                assert row.paused is True
            if version >= 4:
                assert (await conn.execute(select(polls.c.anonymous, polls.c.announced))).one() == (True, False)
                assert await conn.scalar(select(func.count()).select_from(poll_votes)) == 1
    finally:
        await store.close()
    after = _dump(path)
    for name, rows in before.items():
        assert after[name] == rows, f"{name} changed"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (int(HEAD),)


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: sorted(conn.execute(f"SELECT * FROM {name}").fetchall(), key=repr) for name in names}


async def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        await Store.open(path)
    assert path.read_bytes() == b"these are my notes, not a database" * 100


async def test_an_sqlite_database_from_a_newer_release_is_refused_without_changes(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE precious (value TEXT)")
        conn.execute("INSERT INTO precious VALUES ('keep me')")
        conn.execute("PRAGMA user_version = 999")
        conn.commit()
    with pytest.raises(StoreError, match="schema revision 0999, newer than this bot knows"):
        await Store.open(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT value FROM precious").fetchall() == [("keep me",)]
        assert conn.execute("PRAGMA user_version").fetchone() == (999,)
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall() == []


async def test_a_database_at_an_unknown_revision_is_refused_without_changes(store_url: str) -> None:
    store = await Store.open(store_url)
    async with store.transaction() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0042'"))
        await conn.execute(insert(bot_state).values(key="kept", value="yes"))
    await store.close()
    with pytest.raises(StoreError, match="schema revision 0042, newer than this bot knows"):
        await Store.open(store_url)
    engine = create_async_engine(parse_database_url(store_url))
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT version_num FROM alembic_version")) == "0042"
            assert await conn.scalar(select(bot_state.c.value).where(bot_state.c.key == "kept")) == "yes"
    finally:
        await engine.dispose()


def _with_bad_revision(tmp_path: Path) -> Path:
    """The real history plus a revision after the head that creates a table and then fails."""
    scripts = tmp_path / "migrations"
    shutil.copytree(store_migrate.MIGRATIONS_DIR, scripts)
    (scripts / "versions" / "0099_bad.py").write_text(
        '"""Broken on purpose."""\n'
        "from alembic import op\n"
        'revision = "0099"\ndown_revision = "' + HEAD + '"\nbranch_labels = None\ndepends_on = None\n\n'
        "def upgrade() -> None:\n"
        '    op.execute("CREATE TABLE half (x INTEGER)")\n'
        '    op.execute("INSERT INTO nowhere VALUES (1)")\n'
    )
    return scripts


async def test_a_failing_migration_leaves_the_previous_revision(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await (await Store.open(store_url)).close()
    monkeypatch.setattr(store_migrate, "MIGRATIONS_DIR", _with_bad_revision(tmp_path))
    with pytest.raises(Exception, match="nowhere"):
        await Store.open(store_url)
    monkeypatch.undo()
    store = await Store.open(store_url)
    try:
        assert await store.schema_version() == HEAD
        assert "half" not in await store.table_names()
    finally:
        await store.close()


async def test_a_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            await conn.execute(insert(bot_state).values(key="a", value="1"))
            raise RuntimeError("boom")
    async with store.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(bot_state).where(bot_state.c.key == "a")) == 0


async def test_a_transaction_cancelled_at_any_point_leaves_the_store_usable(store: Store) -> None:
    async def write(key: str) -> None:
        async with store.transaction() as conn:
            await conn.execute(insert(bot_state).values(key=key, value="v"))
            await asyncio.sleep(0.05)

    await write("first")
    for yields in range(8):  # cancel at many points: taking the lock, connecting, in BEGIN, in the body
        task = asyncio.create_task(write(f"cancelled-{yields}"))
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await write("after")
    async with store.read() as conn:
        keys = set(await conn.scalars(select(bot_state.c.key)))
    assert {"first", "after"} <= keys
    assert not any(key.startswith("cancelled") for key in keys)


@pytest.mark.parametrize("small", [True, False], ids=["small", "on-the-thread"])
async def test_a_synchronous_transaction_commits_or_rolls_back_whole_whichever_layer_wrote(
    store: Store, small: bool
) -> None:
    """run_transaction's work may write straight on the driver (the vote path) or through
    SQLAlchemy, or both: committed together, or rolled back together when it raises. On
    SQLite a small one runs on the loop's thread, begun and ended on a kept connection."""

    def write(conn: Connection, key: str, *, through_core: bool, fail: bool = False) -> str:
        """Writes ``<key>-driver`` on the sqlite3 connection (PostgreSQL has none here: it
        writes ``<key>-core`` instead) and, ``through_core``, ``<key>-core`` through SQLAlchemy."""
        driver = conn.connection.driver_connection
        on_driver = isinstance(driver, sqlite3.Connection)
        if through_core or not on_driver:
            conn.execute(insert(bot_state).values(key=f"{key}-core", value="v"))
        if on_driver:
            driver.execute("INSERT INTO bot_state (key, value) VALUES (?, 'v')", (f"{key}-driver",))
        if fail:
            raise RuntimeError("boom")
        return key

    for name, through_core in (("both", True), ("driver", False)):
        for fail in (True, False, True):
            key = f"{name}-{'failed' if fail else 'kept'}"
            work = partial(write, key=key, through_core=through_core, fail=fail)
            if fail:
                with pytest.raises(RuntimeError):
                    await store.run_transaction(work, small=small)
            else:
                assert await store.run_transaction(work, small=small) == key
    async with store.read() as conn:
        keys = set(await conn.scalars(select(bot_state.c.key)))
    written = {key for key in keys if key.startswith(("both-", "driver-"))}
    if store.is_sqlite:
        assert written == {"both-kept-core", "both-kept-driver", "driver-kept-driver"}
    else:
        assert written == {"both-kept-core", "driver-kept-core"}


async def test_times_come_back_aware_in_utc_whatever_zone_went_in(store: Store) -> None:
    seoul = dt.timezone(dt.timedelta(hours=9))
    async with store.transaction() as conn:
        await conn.execute(
            insert(spoiler_channels).values(
                guild_id=1, channel_id=2, added_by=3, added_at=dt.datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=seoul)
            )
        )
    async with store.read() as conn:
        added = await conn.scalar(select(spoiler_channels.c.added_at))
    assert added == dt.datetime(2026, 12, 1, 0, 30, 0, 123456, tzinfo=dt.UTC)
    assert added.utcoffset() == dt.timedelta(0)
    with pytest.raises(Exception, match="timezone-aware"):
        async with store.transaction() as conn:
            await conn.execute(
                insert(spoiler_channels).values(guild_id=1, channel_id=3, added_by=3, added_at=dt.datetime(2026, 12, 1))  # noqa: DTZ001 - refused on purpose
            )


async def test_ids_are_64_bit_on_both(store: Store) -> None:
    largest = 2**63 - 1
    async with store.transaction() as conn:
        await conn.execute(
            insert(spoiler_channels).values(
                guild_id=largest, channel_id=largest, added_by=largest, added_at=dt.datetime.now(dt.UTC)
            )
        )
    async with store.read() as conn:
        assert (await conn.execute(select(spoiler_channels.c.guild_id, spoiler_channels.c.added_by))).one() == (
            largest,
            largest,
        )


def test_split_sql_keeps_semicolons_inside_strings() -> None:
    script = "-- a comment; not a statement\nCREATE TABLE a (x TEXT DEFAULT ';');\nINSERT INTO a VALUES ('b;c');\n"
    assert split_sql(script) == ["CREATE TABLE a (x TEXT DEFAULT ';');", "INSERT INTO a VALUES ('b;c');"]


@pytest.mark.parametrize(
    ("given", "shown", "dialect"),
    [
        ("var/hyosan.db", "var/hyosan.db", "sqlite"),
        ("sqlite:///var/x.db", "var/x.db", "sqlite"),
        (
            "postgresql://bot:hunter2@db.example:5433/hyosan",
            "postgresql://bot:***@db.example:5433/hyosan",
            "postgresql",
        ),
        ("postgres://bot@db/hyosan", "postgresql://bot@db/hyosan", "postgresql"),
    ],
)
def test_database_urls_are_read_and_shown_without_their_password(given: str, shown: str, dialect: str) -> None:
    url = parse_database_url(given)
    assert url.get_backend_name() == dialect
    assert describe_url(url) == shown
    assert "hunter2" not in describe_url(url)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://root@localhost/hyosan", "unknown scheme 'mysql'"),
        ("postgresql://bot:hunter2@db.example", "names no PostgreSQL database"),
        ("sqlite://", "names no SQLite file"),
        ("  ", "empty"),
    ],
)
def test_a_bad_database_url_is_one_line_naming_the_setting(given: str, message: str) -> None:
    with pytest.raises(StoreError) as caught:
        parse_database_url(given)
    assert str(caught.value).startswith("DATABASE_URL: ")
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "\n" not in str(caught.value)


async def _postgres_url(**changes: object) -> str:
    from tests.support.stores import postgres_server

    server = await postgres_server()
    return server.url.set(**changes).render_as_string(hide_password=False)  # type: ignore[arg-type]


async def test_an_unreachable_postgresql_is_one_clear_line_without_the_password() -> None:
    url = await _postgres_url(port=1, password="hunter2")
    with pytest.raises(StoreError) as caught:
        await Store.open(url)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:1")
    assert "hunter2" not in message


async def test_an_unknown_postgresql_database_or_role_is_named() -> None:
    with pytest.raises(StoreError, match="has no database 'hyosan_missing_db'"):
        await Store.open(await _postgres_url(database="hyosan_missing_db"))
    with pytest.raises(StoreError, match="refused the user 'hyosan_no_such_role'") as caught:
        await Store.open(await _postgres_url(username="hyosan_no_such_role", password="hunter2"))
    assert "hunter2" not in str(caught.value)


async def test_store_failures_are_classified_on_both(store: Store) -> None:
    """A write blocked by another writer is BUSY; other errors are bugs (None)."""
    async with store.read() as conn:
        with pytest.raises(DBAPIError) as caught:
            await conn.execute(text("SELECT * FROM no_such_table"))
    assert classify_failure(caught.value) is None
    if store.is_sqlite:
        error = sqlite3.OperationalError("database is locked")
        assert classify_failure(error) is StoreFailure.BUSY
        assert classify_failure(sqlite3.OperationalError("database or disk is full")) is StoreFailure.FULL
    assert classify_failure(ConnectionRefusedError()) is StoreFailure.UNAVAILABLE
    # asyncpg's protocol out of step after a server restart interrupted a statement: a dropped
    # connection for the member ("try again"), and the kept vote connection is replaced.
    busy = asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    assert classify_failure(busy) is StoreFailure.UNAVAILABLE
    assert make_url(str(store.url)).get_backend_name() == store.dialect


@pytest.mark.sqlite_only
async def test_reads_cancelled_twice_at_any_point_leave_no_task_behind(store: Store) -> None:
    """A reader cancelled twice while SQLAlchemy closes its connection used to leave a task that
    never ends (aiosqlite's thread stopped twice), which hangs the bot's shutdown."""

    async def reader() -> None:
        # On aiosqlite, as the store's writes are (its reads run on the loop's thread).
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            await conn.execute(text("SELECT count(*) FROM pack_entries"))

    for yields in range(70):
        task = asyncio.create_task(reader())
        for _ in range(yields % 7):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait([task], timeout=1)
    await asyncio.sleep(0.3)
    left = [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task() and not task.done() and task.get_name() != "hyosan-sqlite-checkpoints"
    ]
    assert left == []


@pytest.mark.postgresql_only
async def test_processes_starting_together_on_an_empty_postgresql_migrate_it_once(empty_postgres_url: str) -> None:
    opened = await asyncio.gather(*(Store.open(empty_postgres_url) for _ in range(4)))
    try:
        assert [await store.schema_version() for store in opened] == [HEAD] * 4
    finally:
        for store in opened:
            await store.close()


async def test_no_commit_checkpoints_the_wal_the_store_does_it_outside_the_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint inside a commit held the write lock for tens of milliseconds (issue 15)."""
    monkeypatch.setattr(store_sqlite, "CHECKPOINT_LOOK_EVERY", 0.05)
    monkeypatch.setattr(store_sqlite, "CHECKPOINT_WAL_BYTES", 64 * 1024)
    path = tmp_path / "bot.db"
    store = await Store.open(path)
    try:
        async with store.transaction() as conn:
            assert await conn.scalar(text("PRAGMA wal_autocheckpoint")) == 0
        for n in range(40):
            async with store.transaction() as conn:
                await conn.execute(insert(bot_state).values(key=f"k{n}", value="x" * 4000))
        assert await wait_until(lambda: store.checkpoints >= 1, timeout=10)
        with contextlib.closing(sqlite3.connect(path)) as other:
            busy, frames, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert (busy, copied) == (0, frames), "every frame was already in the database file"
    finally:
        await store.close()
    assert store.checkpoints >= 1


def test_a_precompiled_statement_runs_on_sqlite3_with_the_column_types_bind_processing() -> None:
    """The vote path's statements past SQLAlchemy: same SQL, same stored text for times."""
    when = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    insert_vote = PrecompiledSqlite(insert(poll_votes))
    bump = PrecompiledSqlite(
        update(polls).where(polls.c.id == bindparam("p")).values(tally_version=polls.c.tally_version + 1)
    )
    with contextlib.closing(sqlite3.connect(":memory:")) as raw:
        raw.execute("CREATE TABLE poll_votes (poll_id, user_id, option_index, voted_at)")
        raw.execute("CREATE TABLE polls (id, tally_version)")
        raw.execute("INSERT INTO polls VALUES (1, 0)")
        insert_vote.executemany(raw, [{"poll_id": 1, "user_id": 2**63 - 1, "option_index": 0, "voted_at": when}])
        bump.executemany(raw, [{"p": 1}, {"p": 1}])
        assert raw.execute("SELECT * FROM poll_votes").fetchall() == [
            (1, 2**63 - 1, 0, to_db_time(when))  # the store's UTC text, as SQLAlchemy writes it
        ]
        assert raw.execute("SELECT tally_version FROM polls").fetchall() == [(2,)]
