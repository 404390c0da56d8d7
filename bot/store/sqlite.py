"""The store on SQLite, the embedded default.

Every connection gets WAL, foreign keys and a busy timeout; a write starts with
``BEGIN IMMEDIATE`` (SQLAlchemy's recipe for pysqlite: the driver's own implicit
transactions are switched off), and the writers of one process take turns on an asyncio
lock, so they never wait for each other inside SQLite. Besides the async engine
(aiosqlite), an SQLite file has synchronous engines for the hot paths (issue 15): reads
and small transactions on the event loop's own thread, larger transactions on a thread
of the store's own, and a task that checkpoints the WAL outside every transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, Result, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from bot.store.base import POOL_SIZE, ReadConnection, Store
from bot.store.errors import StoreFailure, classify_failure

log = logging.getLogger(__name__)

#: How long an SQLite write waits for another process's lock: under Discord's 3 s answer
#: window, so a command blocked by a lock still answers (with "try again") in time.
BUSY_TIMEOUT_MS = 2000
#: How often the store looks at the WAL's size, and the size (SQLite's own default of
#: 1,000 pages of 4 KiB) past which it checkpoints it (see SqliteStore._checkpoint_forever).
CHECKPOINT_LOOK_EVERY = 1.0
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024
#: Reads on the event loop's thread wait at most this long in the rare case a WAL reader is
#: kept out (a database being recovered); then the read fails as "busy".
INLINE_READ_BUSY_MS = 50
#: Execution option of the read engines: their connections start no transaction.
_READ_OPTION = "hyosan_read"
#: ... and of the kept connection of small transactions: the store begins them on the driver.
_BEGUN_ON_DRIVER = "hyosan_begun_on_driver"

T = TypeVar("T")


class SqliteStore(Store):
    """An SQLite file (or ``:memory:``, which one async engine must own alone)."""

    probe_sql = "SELECT count(*) FROM sqlite_master"  # reading the schema fails first on a file that is not SQLite

    def __init__(self, url: URL) -> None:
        self.busy_timeout_ms = BUSY_TIMEOUT_MS
        # Connections read the busy timeout when they are made (see set_busy_timeout).
        super().__init__(url, _create_async_engine(url, lambda: self.busy_timeout_ms))
        self._write_lock = asyncio.Lock()
        self._reader = self.engine.execution_options(**{_READ_OPTION: True})
        # The hot path (see run_transaction): a synchronous engine on one thread of its own
        # (created here, connected on that thread at first use).
        self._sync_engine: Engine | None = (
            _create_sync_engine(url, lambda: self.busy_timeout_ms)
            if url.database not in (None, "", ":memory:")
            else None
        )
        self._sync_thread: ThreadPoolExecutor | None = None
        # ... and for a small transaction, the same on the event loop's own thread, never
        # waiting for a lock (busy timeout 0) and never checkpointing (see run_transaction).
        self._inline_engine: Engine | None = (
            _create_sync_engine(url, lambda: 0) if self._sync_engine is not None else None
        )
        self._inline_conn: Connection | None = None  # its one connection, kept (see _run_inline)
        self._checkpointer: asyncio.Task[None] | None = None
        #: WAL checkpoints made by this store (see _checkpoint_forever).
        self.checkpoints = 0
        # ... and for reads (see read): a pool that grows rather than waits, since a read
        # block may await something else while another coroutine reads.
        self._inline_reader: Engine | None = (
            _create_sync_engine(
                url, lambda: INLINE_READ_BUSY_MS, pool_size=POOL_SIZE, max_overflow=-1
            ).execution_options(**{_READ_OPTION: True})
            if self._sync_engine is not None
            else None
        )

    @classmethod
    def create(cls, url: URL) -> SqliteStore:
        return cls(url)

    def _describe_open_failure(self, original: BaseException, reason: str) -> str:
        return f"{self.path} is not a usable SQLite database ({reason})"

    def _opened(self) -> None:
        if self._sync_engine is not None:
            self._checkpointer = asyncio.create_task(self._checkpoint_forever(), name="hyosan-sqlite-checkpoints")

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

    @property
    def engines(self) -> tuple[Engine, ...]:
        extra = tuple(
            engine for engine in (self._sync_engine, self._inline_engine, self._inline_reader) if engine is not None
        )
        return (self.engine.sync_engine, *extra)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[ReadConnection]:
        """A connection for reads; each statement sees what is committed when it runs.

        On an SQLite file each statement runs on the event loop's own thread, its rows
        fetched at once: a point read takes about 0.05 ms there, where aiosqlite's trips to
        its thread and back took 0.6 ms per statement, most of what /countdown, /character
        and /survivors cost beyond a bare answer (issue 15). A WAL reader waits for no
        writer, so nothing blocks the loop but the read itself.
        """
        if self._inline_reader is not None:
            with self._inline_reader.connect() as sync_conn:
                yield InlineReads(sync_conn)
            return
        async with self._reader.connect() as conn:
            yield conn

    async def run_transaction(self, work: Callable[[Connection], T], *, small: bool = False) -> T:
        """Run ``work`` (synchronous SQLAlchemy Core on a ``Connection``) in one write transaction.

        For the hot paths (a batch of votes): the whole transaction is one trip to a thread
        of the store's own with the synchronous driver, where the async driver makes several
        trips per statement. Committed when this returns; if the caller is cancelled
        meanwhile, the transaction still ends (commit or rollback) on its thread.

        ``small`` (a few rows, e.g. a lone click): first try it on the event loop's thread
        itself. Such a transaction takes about a fifth of a millisecond, less than handing
        it to a thread and back (issue 15). It never waits there: if another process holds
        the file's write lock, it goes to the thread, which waits out the busy timeout. No
        commit checkpoints the WAL (see ``_checkpoint_forever``), so none writes and syncs
        the database file on the loop's thread.
        """
        if self._sync_engine is None:  # an in-memory database, which one engine must own
            async with self.transaction() as conn:
                return await conn.run_sync(work)
        assert self._write_lock is not None
        async with self._write_lock:
            started = time.perf_counter()
            try:
                result = await self._run_transaction_locked(work, small=small)
            except Exception as exc:
                self.transaction_ended(started, exc)
                raise
            self.transaction_ended(started, None)
            return result

    async def _run_transaction_locked(self, work: Callable[[Connection], T], *, small: bool) -> T:
        """:meth:`run_transaction` under the write lock."""
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
        return await asyncio.shield(loop.run_in_executor(self._sync_thread, self._run_on_thread, work))

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

    def _run_on_thread(self, work: Callable[[Connection], T]) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as conn:
            return work(conn)

    async def set_busy_timeout(self, milliseconds: int) -> None:
        """Change how long writes wait for another process's lock (tests, operators)."""
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
        if self._sync_thread is not None:
            thread, self._sync_thread = self._sync_thread, None
            if self._sync_engine is not None:
                await asyncio.get_running_loop().run_in_executor(thread, self._sync_engine.dispose)
            thread.shutdown(wait=True)
        await super().close()


class InlineReads:
    """A read block's connection on a synchronous SQLite connection (a :class:`ReadConnection`).

    Every statement runs at once on the calling thread and its rows are fetched before it
    returns (a frozen result), so no cursor is left open across an ``await``.
    """

    def __init__(self, conn: Connection) -> None:
        self.sync_connection = conn

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]:
        return self.sync_connection.execute(statement, parameters).freeze()()

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return self.sync_connection.scalar(statement, parameters)

    async def scalars(self, statement: Executable, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalars()

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Result[Any]:
        return self.sync_connection.exec_driver_sql(statement, parameters).freeze()()

    async def stream(self, statement: Executable, parameters: Any = None) -> InlineStream:
        return InlineStream(await self.execute(statement, parameters))

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(self.sync_connection, *args, **kwargs)


class InlineStream:
    """``AsyncConnection.stream``'s result (a :class:`ReadStream`), over rows already fetched."""

    def __init__(self, result: Result[Any]) -> None:
        self._result = result

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return list(self._result.fetchmany(size))

    async def fetchall(self) -> list[Any]:
        return list(self._result.fetchall())

    async def close(self) -> None:
        self._result.close()


def _create_async_engine(url: URL, busy_timeout_ms: Callable[[], int]) -> AsyncEngine:
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
    _configure(engine.sync_engine, busy_timeout_ms)
    return engine


def _create_sync_engine(
    url: URL, busy_timeout_ms: Callable[[], int], *, pool_size: int = 1, max_overflow: int = 0
) -> Engine:
    """The same database through the synchronous driver, for :meth:`SqliteStore.run_transaction` and reads."""
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_reset_on_return=None,
    )
    _configure(engine, busy_timeout_ms)
    return engine


def _configure(engine: Engine, busy_timeout_ms: Callable[[], int]) -> None:
    """Every SQLite connection: WAL, foreign keys, the busy timeout, and BEGIN IMMEDIATE for writes."""

    @event.listens_for(engine, "connect")
    def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
        # The driver's implicit BEGIN is switched off: the "begin" hook below says when.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in (
                f"PRAGMA busy_timeout = {int(busy_timeout_ms())}",
                "PRAGMA journal_mode = WAL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA synchronous = NORMAL",
                # Checkpoints are the store's own task's, outside any transaction (see SqliteStore).
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
