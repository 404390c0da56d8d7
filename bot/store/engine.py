"""The store: one SQLAlchemy async engine, opened in setup_hook and disposed on shutdown.

Writes go through :meth:`Store.transaction`, one transaction each, committed before the
caller goes on (a vote is committed before its click is answered). Reads go through
:meth:`Store.read`, which does not open a transaction (one round trip a statement).

Every engine hides statement parameters in its errors and logs (``hide_parameters``): they
carry what members typed and would otherwise reach the log with every failed statement.

SQLite: every connection gets WAL, foreign keys and a busy timeout; a write starts with
``BEGIN IMMEDIATE`` (SQLAlchemy's recipe for pysqlite: the driver's own implicit
transactions are switched off), and the writers of one process take turns on an
asyncio lock, so they never wait for each other inside SQLite. PostgreSQL: a pool of
asyncpg connections; a connection lost with the server is dropped from the pool and
the next use connects again, so the bot carries on by itself once the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from bot.store.errors import StoreError, StoreFailure, classify_failure
from bot.store.memo import Change, Memo, Recalled
from bot.store.urls import describe_url, parse_database_url

log = logging.getLogger(__name__)
# Alembic announces its context at INFO on every start; "applied migration" lines say what matters.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: How long an SQLite write waits for another process's lock: under Discord's 3 s answer
#: window, so a command blocked by a lock still answers (with "try again") in time.
BUSY_TIMEOUT_MS = 2000
#: SQLite: how often the store looks at the WAL's size, and the size (SQLite's own default of
#: 1,000 pages of 4 KiB) past which it checkpoints it (see Store._checkpoint_forever).
CHECKPOINT_LOOK_EVERY = 1.0
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024
#: SQLite reads on the event loop's thread wait at most this long in the rare case a WAL
#: reader is kept out (a database being recovered); then the read fails as "busy".
INLINE_READ_BUSY_MS = 50
#: PostgreSQL: how long connecting (and waiting for a free pooled connection) may take,
#: again under the 3 s answer window.
CONNECT_TIMEOUT_SECONDS = 2.0
POOL_SIZE = 5
#: The PostgreSQL advisory lock that migrations take (an arbitrary constant of this bot: "hyosan" in ASCII).
MIGRATION_LOCK_KEY = 0x6879_6F73_616E
#: SQLite: the file beside the database whose lock one process at a time holds while it
#: migrates (hyosan.db-migration.lock; see Store._sqlite_migration_lock), and how often a
#: process waiting for it looks again.
MIGRATION_LOCK_SUFFIX = "-migration.lock"
MIGRATION_LOCK_POLL_SECONDS = 0.02
#: ... after this long waiting, it says in the log which file it waits for.
MIGRATION_LOCK_SAY_AFTER = 2.0
#: Execution option of the read engine: its connections start no transaction on SQLite.
_READ_OPTION = "hyosan_read"
#: ... and of the kept connection of small transactions: the store begins them on the driver.
_BEGUN_ON_DRIVER = "hyosan_begun_on_driver"

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Store:
    """Owns the engine; ``Store.open`` connects, checks and migrates."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self.busy_timeout_ms = BUSY_TIMEOUT_MS
        # SQLite connections read the busy timeout when they are made (see set_busy_timeout).
        self.engine = _create_engine(url, lambda: self.busy_timeout_ms)
        # SQLite has one writer at a time; the writers of this process queue here, not in SQLite.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        options = {_READ_OPTION: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        self._reader = self.engine.execution_options(**options)
        # SQLite's hot path (see run_transaction): a synchronous engine on one thread of its own
        # (created here, connected on that thread at first use).
        self._sync_engine: Engine | None = (
            _create_sync_sqlite_engine(url, lambda: self.busy_timeout_ms)
            if self.is_sqlite and url.database not in (None, "", ":memory:")
            else None
        )
        self._sync_thread: ThreadPoolExecutor | None = None
        # ... and for a small transaction, the same on the event loop's own thread, never
        # waiting for a lock (busy timeout 0) and never checkpointing (see run_transaction).
        self._inline_engine: Engine | None = (
            _create_sync_sqlite_engine(url, lambda: 0) if self._sync_engine is not None else None
        )
        self._inline_conn: Connection | None = None  # its one connection, kept (see _run_inline)
        self._checkpointer: asyncio.Task[None] | None = None
        #: WAL checkpoints made by this store (SQLite; see _checkpoint_forever).
        self.checkpoints = 0
        # ... and for reads (see read): a pool that grows rather than waits, since a read
        # block may await something else while another coroutine reads.
        self._inline_reader: Engine | None = (
            _create_sync_sqlite_engine(
                url, lambda: INLINE_READ_BUSY_MS, pool_size=POOL_SIZE, max_overflow=-1
            ).execution_options(**{_READ_OPTION: True})
            if self._sync_engine is not None
            else None
        )
        # PostgreSQL's vote path (see fetch_on_driver): one connection kept, used in turns.
        self._driver_lock = asyncio.Lock()
        self._driver_conn: AsyncConnection | None = None
        # Settings that hot commands read on every use (see recall).
        self._memos: dict[Recalled[Any, Any], Memo[Any, Any]] = {}

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def path(self) -> str:
        """What the operator named, without a password (an SQLite file's path as given)."""
        return describe_url(self.url)

    # -- opening ------------------------------------------------------------------

    @classmethod
    async def open(cls, target: str | Path | URL, *, revision: str = "head") -> Store:
        """Open (creating an SQLite file if needed), check and migrate the database.

        ``revision`` stops the upgrade early (tests that build an old database).
        """
        url = target if isinstance(target, URL) else parse_database_url(target)
        store = cls(url)
        try:
            await store._check_connection()
            await store.migrate(revision)
        except BaseException:
            await store.engine.dispose()
            raise
        if store._sync_engine is not None:
            store._checkpointer = asyncio.create_task(store._checkpoint_forever(), name="hyosan-sqlite-checkpoints")
        return store

    async def _checkpoint_forever(self) -> None:
        """SQLite's WAL is checkpointed here, never by a commit.

        SQLite's default makes the commit that grows the WAL past 1,000 pages copy it into
        the database file and sync it: tens of milliseconds inside a transaction, so with
        the write lock held, and every click queued behind it waited (the vote's p99 was
        20 ms, issue 15). Every connection of the store has ``wal_autocheckpoint = 0``;
        this task checkpoints PASSIVE (it waits for nobody and nobody waits for it) on a
        short-lived connection of its own on a worker thread, outside the write lock.
        """
        while True:
            await asyncio.sleep(CHECKPOINT_LOOK_EVERY)
            try:
                done = await asyncio.to_thread(self._checkpoint_if_grown)
            except (OSError, sqlite3.Error) as exc:
                log.debug("no WAL checkpoint this time: %s", exc)
                continue
            if done is not None:
                self.checkpoints += 1
                log.debug("WAL checkpoint: %d of %d frames copied (busy: %s)", done[2], done[1], bool(done[0]))

    def _checkpoint_if_grown(self) -> tuple[int, int, int] | None:
        """On a worker thread: (busy, frames in the WAL, frames copied), or None if it is small."""
        wal = Path(f"{self.url.database}-wal")
        if not wal.exists() or wal.stat().st_size < CHECKPOINT_WAL_BYTES:
            return None
        connection = sqlite3.connect(str(self.url.database), timeout=0, isolation_level=None)
        try:
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return int(busy), int(frames), int(copied)
        finally:
            connection.close()

    async def _check_connection(self) -> None:
        try:
            async with self.engine.connect() as conn:
                if self.is_sqlite:
                    # Reading the schema is the first thing that fails on a file that is not SQLite.
                    await conn.exec_driver_sql("SELECT count(*) FROM sqlite_master")
                else:
                    await conn.exec_driver_sql("SELECT 1")
                await conn.rollback()
        except Exception as exc:  # the first contact: whatever fails, the operator gets one line
            raise StoreError(self._describe_open_failure(exc)) from None

    def _describe_open_failure(self, exc: BaseException) -> str:
        original = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
        reason = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
        if self.is_sqlite:
            return f"{self.path} is not a usable SQLite database ({reason})"
        where = f"{self.url.host or 'localhost'}:{self.url.port or 5432}"
        cause = original.__cause__ or original
        name = type(cause).__name__
        if name in {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
            return f"DATABASE_URL: PostgreSQL at {where} refused the user {self.url.username!r} ({reason})"
        if name == "InvalidCatalogNameError":
            return f"DATABASE_URL: PostgreSQL at {where} has no database {self.url.database!r}; create it first"
        if isinstance(cause, OSError | TimeoutError) or isinstance(original, OSError | TimeoutError):
            return f"DATABASE_URL: cannot reach PostgreSQL at {where} ({reason or 'timed out'})"
        return f"DATABASE_URL: cannot use PostgreSQL at {where} ({reason})"

    # -- migrations ------------------------------------------------------------------

    async def migrate(self, revision: str = "head") -> list[str]:
        """Apply every revision up to ``revision``; returns the revisions that ran.

        The whole migration is one unit across processes: each revision commits on its own
        (a failure leaves the previous one), so processes starting together on a fresh or
        older database take turns on a lock held from reading the current revision to the
        last revision's commit; the next one then finds nothing left to do.
        """
        async with self._sqlite_migration_lock(), self.engine.connect() as conn:
            ran: list[str] = await conn.run_sync(self._migrate_sync, revision)
        for name in ran:
            log.info("applied migration %s", name)
        return ran

    @asynccontextmanager
    async def _sqlite_migration_lock(self) -> AsyncIterator[None]:
        """SQLite: an exclusive OS lock (``flock``) on a file beside the database, held for the
        whole migration. SQLite's own locks last one transaction, and Alembic commits each
        revision, so another process could read the revision between two of them and apply
        the next one again ("table ... already exists"). The lock file stays (removing it
        would let a third process lock a new file while the second holds the old one); the
        lock ends with the process, however it ends. Waiting does not block the event loop."""
        if not self.is_sqlite or self.url.database in (None, "", ":memory:"):
            yield
            return
        lock_path = f"{self.url.database}{MIGRATION_LOCK_SUFFIX}"
        try:
            fd = os.open(lock_path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open its migration lock {lock_path} ({exc.strerror})") from None
        try:
            started, said = time.monotonic(), False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not said and time.monotonic() - started > MIGRATION_LOCK_SAY_AFTER:
                        log.info("another process is migrating %s; waiting for it (%s)", self.path, lock_path)
                        said = True
                    await asyncio.sleep(MIGRATION_LOCK_POLL_SECONDS)
            yield
        finally:
            os.close(fd)  # also lets go of the lock

    def _migrate_sync(self, conn: Connection, revision: str) -> list[str]:
        if self.is_sqlite:  # under the migration lock (see _sqlite_migration_lock)
            return self._migrate_locked(conn, revision)
        # Processes starting together on an empty PostgreSQL database migrate one after the other.
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
        conn.commit()
        try:
            return self._migrate_locked(conn, revision)
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
            conn.commit()

    def _migrate_locked(self, conn: Connection, revision: str) -> list[str]:
        config = alembic_config(conn)
        script = ScriptDirectory.from_config(config)
        known = {rev.revision for rev in script.walk_revisions()}
        before = self._current_revision(conn)
        if before is None and self.is_sqlite:
            before = self._stamp_legacy(conn, config, known)
        if before is not None and before not in known:
            raise StoreError(
                f"{self.path} has schema revision {before}, newer than this bot knows ({script.get_current_head()}); "
                "upgrade the bot or use another database"
            )
        try:
            command.upgrade(config, revision)
        except CommandError as exc:
            raise StoreError(f"cannot migrate {self.path}: {exc}") from None
        ran: list[str] = []
        after = self._current_revision(conn)
        for rev in reversed(list(script.iterate_revisions(after, before))):
            if rev.revision != before:
                ran.append(f"{rev.revision} {rev.doc.splitlines()[0] if rev.doc else ''}".strip())
        return ran

    @staticmethod
    def _current_revision(conn: Connection) -> str | None:
        revision = MigrationContext.configure(conn).get_current_revision()
        if conn.in_transaction():
            conn.commit()
        return revision

    def _stamp_legacy(self, conn: Connection, config: Config, known: set[str]) -> str | None:
        """A database made before Alembic carries its version in ``PRAGMA user_version``
        (the same numbers as the revisions); it is stamped so the upgrade goes on from there."""
        version = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
        if conn.in_transaction():
            conn.commit()
        if version == 0:
            return None
        legacy = f"{version:04d}"
        if legacy not in known:
            return legacy  # reported as newer than this bot knows
        command.stamp(config, legacy)
        log.info("database made by an earlier release at version %d; upgrading it in place", version)
        return legacy

    async def schema_version(self) -> str | None:
        """The Alembic revision the database is at (None: empty)."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(self._current_revision)

    # -- using ------------------------------------------------------------------

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; each statement sees what is committed when it runs.

        On an SQLite file each statement runs on the event loop's own thread, its rows
        fetched at once: a point read takes about 0.05 ms there, where aiosqlite's trips to
        its thread and back took 0.6 ms per statement, most of what /countdown, /character
        and /survivors cost beyond a bare answer (issue 15). A WAL reader waits for no
        writer, so nothing blocks the loop but the read itself.
        """
        if self._inline_reader is not None:
            with self._inline_reader.connect() as sync_conn:
                yield cast(AsyncConnection, InlineReads(sync_conn))
            return
        async with self._reader.connect() as conn:
            yield conn

    async def recall(self, kind: Recalled[K, V], key: K) -> V:
        """A remembered value (:mod:`bot.store.memo`): read once, then kept until this process
        writes it (see :meth:`forget`) or :data:`~bot.store.memo.REMEMBER_FOR` has passed."""
        memo = self._memo(kind)
        found, value = memo.cached(key)
        if found:
            return cast(V, value)
        began = memo.began()
        async with self.read() as conn:
            value = await kind.load(conn, key)
        memo.keep(key, value, began)
        return value

    def forget(self, change: Change) -> None:
        """Read what ``change`` names again next time (see :meth:`transaction`)."""
        memo = self._memo(change.kind)
        if change.keys is None:
            memo.forget_all()
            return
        for key in change.keys:
            memo.forget(key)

    def _memo(self, kind: Recalled[K, V]) -> Memo[K, V]:
        memo = self._memos.get(kind)
        if memo is None:
            memo = self._memos[kind] = Memo(kind)
        return cast(Memo[K, V], memo)

    async def fetch_on_driver(self, sql: str, *args: Any) -> list[Any]:
        """PostgreSQL: one statement (``$1``-style parameters) straight on asyncpg, outside any
        transaction block: its own transaction, committed when this returns.

        For the vote path only (issue 15): SQLAlchemy's statement layer, its BEGIN/COMMIT
        trips and a pool checkout per call cost more than the statement itself. The callers
        take turns on one connection checked out of the pool and kept (the ballot box writes
        one batch at a time anyway); asyncpg prepares the statement once on it. A connection
        that broke, or was cancelled mid-statement, is invalidated and the next call takes
        a fresh one, so the bot reconnects by itself after a server restart.
        """
        if self.is_sqlite:
            raise TypeError("fetch_on_driver is for PostgreSQL")
        async with self._driver_lock:
            if self._driver_conn is None:
                self._driver_conn = await self._reader.connect()
            conn = self._driver_conn
            # The connection is checked out: its asyncpg connection is a plain attribute away
            # (SQLAlchemy's get_raw_connection() would be a greenlet trip every call).
            assert conn.sync_connection is not None
            driver = conn.sync_connection.connection.driver_connection
            assert driver is not None
            try:
                return list(await driver.fetch(sql, *args))
            except BaseException as exc:
                if classify_failure(exc) is StoreFailure.UNAVAILABLE or isinstance(exc, asyncio.CancelledError):
                    self._driver_conn = None
                    with contextlib.suppress(Exception):
                        await conn.invalidate()
                raise

    @asynccontextmanager
    async def transaction(self, *changes: Change) -> AsyncIterator[AsyncConnection]:
        """One write transaction, committed when the block ends (rolled back if it raises).

        ``changes``: remembered values it writes (``SPOILER_CHANNEL_IDS.of(guild_id)``), forgotten
        once it has ended, whether it committed or not (a commit whose answer was lost with
        the connection may have happened).
        """
        try:
            async with self._transaction() as conn:
                yield conn
        finally:
            for change in changes:
                self.forget(change)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            conn = await stack.enter_async_context(self.engine.connect())
            transaction = await conn.begin()
            try:
                yield conn
            except BaseException:
                if transaction.is_active:
                    with contextlib.suppress(sa_exc.DBAPIError, OSError):
                        await _to_the_end(transaction.rollback())
                raise
            await _to_the_end(transaction.commit())

    async def run_transaction(self, work: Callable[[Connection], T], *, small: bool = False) -> T:
        """Run ``work`` (synchronous SQLAlchemy Core on a ``Connection``) in one write transaction.

        For the hot paths (a batch of votes): on SQLite the whole transaction is one trip
        to a thread of the store's own with the synchronous driver, where the async
        driver makes several trips per statement; on PostgreSQL it runs on the pooled
        async connection (SQLAlchemy's ``run_sync``). Committed when this returns; if the
        caller is cancelled meanwhile, SQLite's transaction still ends (commit or rollback)
        on its thread.

        ``small`` (a few rows, e.g. a lone click): on SQLite, first try it on the event
        loop's thread itself. Such a transaction takes about a fifth of a millisecond, less
        than handing it to a thread and back (issue 15). It never waits there: if another
        process holds the file's write lock, it goes to the thread, which waits out the busy
        timeout. No commit checkpoints the WAL (see ``_checkpoint_forever``), so none writes
        and syncs the database file on the loop's thread.
        """
        if self._sync_engine is None:  # PostgreSQL (or an in-memory SQLite, which one engine must own)
            async with self.transaction() as conn:
                return await conn.run_sync(work)
        assert self._write_lock is not None
        async with self._write_lock:
            if small and self._inline_engine is not None:
                try:
                    return self._run_inline(work)
                except (sa_exc.OperationalError, sqlite3.OperationalError) as exc:
                    if classify_failure(exc) is not StoreFailure.BUSY:
                        raise
                    log.debug("the database is locked by another process; waiting on the store's thread")
            if self._sync_thread is None:
                self._sync_thread = ThreadPoolExecutor(1, thread_name_prefix="hyosan-sqlite")
            loop = asyncio.get_running_loop()
            return await asyncio.shield(loop.run_in_executor(self._sync_thread, self._run_sqlite, work))

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine statements run on (for instrumentation: SQLAlchemy events, tests)."""
        extra = tuple(
            engine for engine in (self._sync_engine, self._inline_engine, self._inline_reader) if engine is not None
        )
        return (self.engine.sync_engine, *extra)

    def _run_inline(self, work: Callable[[Connection], T]) -> T:
        """A small transaction on the event loop's thread, on a connection kept for it, begun
        and ended on the driver: SQLAlchemy's own begin and commit (a pool checkout, its
        transaction objects, the begin hook's statement) cost twice what a lone click's
        three statements do (0.13 ms against 0.06 ms a click, issue 15). A statement that
        ``work`` runs through SQLAlchemy joins the transaction (the begin hook skips this
        connection), and SQLAlchemy then commits it; a failure rolls it back either way.
        ``BEGIN IMMEDIATE`` fails at once if another process holds the write lock (busy
        timeout 0 on this engine)."""
        conn = self._inline_conn
        if conn is None:
            assert self._inline_engine is not None
            conn = self._inline_engine.connect().execution_options(**{_BEGUN_ON_DRIVER: True})
            self._inline_conn = conn
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            if conn.in_transaction():
                conn.commit()
            else:
                driver.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sa_exc.DBAPIError, sqlite3.Error):
                if conn.in_transaction():
                    conn.rollback()
                if driver.in_transaction:
                    driver.execute("ROLLBACK")
            raise
        return result

    def _run_sqlite(self, work: Callable[[Connection], T]) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as conn:
            return work(conn)

    def insert(self, table: Table) -> Any:
        """``INSERT`` with ``ON CONFLICT`` for this database (both speak the same clause)."""
        return _insert_for(self.dialect, table)

    async def table_names(self) -> list[str]:
        async with self.read() as conn:
            return await conn.run_sync(lambda sync: inspect(sync).get_table_names())

    async def set_busy_timeout(self, milliseconds: int) -> None:
        """Change how long SQLite writes wait for another process's lock (tests, operators)."""
        self.busy_timeout_ms = milliseconds
        self.engine.sync_engine.dispose(close=False)  # new connections get the new timeout
        if self._sync_engine is not None and self._sync_thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._sync_thread, self._sync_engine.dispose)

    async def close(self) -> None:
        if self._inline_reader is not None:
            self._inline_reader.dispose()
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        if self._inline_conn is not None:
            held_inline, self._inline_conn = self._inline_conn, None
            held_inline.close()
        if self._inline_engine is not None:
            self._inline_engine.dispose()
        if self._driver_conn is not None:
            held, self._driver_conn = self._driver_conn, None
            with contextlib.suppress(Exception):
                await held.close()
        if self._sync_thread is not None:
            thread, self._sync_thread = self._sync_thread, None
            if self._sync_engine is not None:
                await asyncio.get_running_loop().run_in_executor(thread, self._sync_engine.dispose)
            thread.shutdown(wait=True)
        in_use = self.engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]
        if in_use:
            # A task still holds a connection (it was cancelled mid-statement, or leaks one):
            # dispose() cannot close it; it is closed when that task lets go, or collected.
            log.warning("closing the store with %d connection(s) still in use", in_use)
        await self.engine.dispose()


async def _to_the_end(operation: Coroutine[Any, Any, None]) -> None:
    """Await a COMMIT or ROLLBACK to its end even if the caller is cancelled meanwhile, then
    pass the cancellation on: nothing else may use the connection while it runs (SQLAlchemy's
    connections take one operation at a time), and it must not be left mid-transaction."""
    task = asyncio.ensure_future(operation)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled or task.cancelled():
        if not task.cancelled():
            task.exception()  # retrieved, so a failure is not reported again as never retrieved
        raise asyncio.CancelledError
    task.result()


def _close_aiosqlite_once() -> None:
    """Work around a hang in SQLAlchemy's aiosqlite adapter (2.0.58 with aiosqlite 0.22).

    When a task is cancelled while SQLAlchemy closes a connection it gave up on
    (``terminate``), the adapter starts a shielded graceful close and, on the cancellation,
    also force-closes: aiosqlite's worker thread then stops twice, the second stop waits
    on a thread that has exited, and that task never ends, so the bot's shutdown
    (``asyncio.run`` cancelling what is left) waits forever. Here the force-close leaves a
    connection whose graceful close is under way alone: that close, shielded, still runs
    to its end and stops the thread once. tests/conftest.py fails any test that leaves a
    task which does not end when cancelled.
    """
    from sqlalchemy.dialects.sqlite import aiosqlite as adapter

    cls = adapter.AsyncAdapt_aiosqlite_connection
    if getattr(cls, "_hyosan_close_once", False):
        return
    graceful, force = cls._terminate_graceful_close, cls._terminate_force_close

    async def graceful_close(self: Any) -> None:
        self._connection._hyosan_closing = True
        await graceful(self)

    def force_close(self: Any) -> None:
        if getattr(self._connection, "_hyosan_closing", False):
            return
        force(self)

    cls._terminate_graceful_close = graceful_close  # type: ignore[method-assign]
    cls._terminate_force_close = force_close  # type: ignore[method-assign]
    cls._hyosan_close_once = True  # type: ignore[attr-defined]


_close_aiosqlite_once()


def dialect_insert(conn: AsyncConnection | Connection, table: Table) -> Any:
    """The ``INSERT`` of ``conn``'s database, which has ``on_conflict_do_update``/``_do_nothing``
    (the same clause in SQLite and PostgreSQL, built by each dialect's own construct)."""
    return _insert_for(conn.dialect.name, table)


def _insert_for(dialect: str, table: Table) -> Any:
    return pg_dialect.insert(table) if dialect == "postgresql" else sqlite_dialect.insert(table)


def alembic_config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def _create_engine(url: URL, busy_timeout_ms: Callable[[], int]) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, busy_timeout_ms)
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_size=POOL_SIZE,
        max_overflow=10,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "server_settings": {"application_name": "hyosan-bot"},
        },
    )


def _create_sqlite_engine(url: URL, busy_timeout_ms: Callable[[], int]) -> AsyncEngine:
    memory = url.database in (None, "", ":memory:")
    if not memory:
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        hide_parameters=True,
        # Transactions end explicitly (commit or rollback), so checking a connection back in
        # needs no extra ROLLBACK trip to aiosqlite's thread.
        pool_reset_on_return=None,
        **({"poolclass": StaticPool} if memory else {"pool_size": POOL_SIZE, "max_overflow": 10}),
    )
    _configure_sqlite(engine.sync_engine, busy_timeout_ms)
    return engine


def _create_sync_sqlite_engine(
    url: URL, busy_timeout_ms: Callable[[], int], *, pool_size: int = 1, max_overflow: int = 0
) -> Engine:
    """The same database through the synchronous driver, for :meth:`Store.run_transaction` and reads."""
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_reset_on_return=None,
    )
    _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: Callable[[], int]) -> None:
    """Every SQLite connection: WAL, foreign keys, the busy timeout, and BEGIN IMMEDIATE for writes."""

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # The driver's implicit BEGIN is switched off: the "begin" hook below says when.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in (
                f"PRAGMA busy_timeout = {int(busy_timeout_ms())}",
                "PRAGMA journal_mode = WAL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA synchronous = NORMAL",
                # Checkpoints are the store's own task's, outside any transaction (see Store).
                "PRAGMA wal_autocheckpoint = 0",
            ):
                cursor.execute(pragma)
                cursor.fetchall()
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if not (options.get(_READ_OPTION) or options.get(_BEGUN_ON_DRIVER)):
            # Takes the write lock up front: no upgrade from a read lock that could fail half-way.
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class InlineReads:
    """What a read block uses of ``AsyncConnection``, on a synchronous SQLite connection.

    Every statement runs at once on the calling thread and its rows are fetched before it
    returns (a frozen result), so no cursor is left open across an ``await``.
    """

    def __init__(self, conn: Connection) -> None:
        self.sync_connection = conn

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self.sync_connection.execute(statement, parameters).freeze()()

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return self.sync_connection.scalar(statement, parameters)

    async def scalars(self, statement: Any, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalars()

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Any:
        return self.sync_connection.exec_driver_sql(statement, parameters).freeze()()

    async def stream(self, statement: Any, parameters: Any = None) -> InlineStream:
        return InlineStream(await self.execute(statement, parameters))

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(self.sync_connection, *args, **kwargs)


class InlineStream:
    """``AsyncConnection.stream``'s result, over rows already fetched."""

    def __init__(self, result: Any) -> None:
        self._result = result

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return list(self._result.fetchmany(size))

    async def fetchall(self) -> list[Any]:
        return list(self._result.fetchall())

    async def close(self) -> None:
        self._result.close()
