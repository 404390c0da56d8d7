"""What the features use of the store, the same on both databases; one implementation each
(:mod:`bot.store.sqlite`, :mod:`bot.store.postgresql`), chosen by :meth:`Store.open`.

Writes go through :meth:`Store.transaction`, one transaction each, committed before the
caller goes on (a vote is committed before its click is answered), or through
:meth:`Store.run_transaction` for a hot path's synchronous work. Reads go through
:meth:`Store.read`, which does not open a transaction (one round trip a statement).

Every engine hides statement parameters in its errors and logs (``hide_parameters``): they
carry what members typed and would otherwise reach the log with every failed statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Hashable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine, Executable, Result, Table, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store import migrate
from bot.store.errors import StoreError
from bot.store.memo import Change, Memo, Recalled
from bot.store.urls import describe_url, parse_database_url

log = logging.getLogger(__name__)

#: Pooled connections of each engine (PostgreSQL's pool; SQLite's readers).
POOL_SIZE = 5

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
#: Told of every write transaction's duration (seconds) and the error it ended with, if any.
TransactionObserver = Callable[[float, BaseException | None], None]
V = TypeVar("V")


class ReadStream(Protocol):
    """What a read block uses of a streamed result (``AsyncResult``)."""

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]: ...

    async def fetchall(self) -> Sequence[Any]: ...

    async def close(self) -> None: ...


class ReadConnection(Protocol):
    """What a read block runs its statements on (:meth:`Store.read`): an ``AsyncConnection``,
    or on an SQLite file a synchronous connection on the loop's thread (``InlineReads``)."""

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]: ...

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any: ...

    async def scalars(self, statement: Executable, parameters: Any = None) -> Any: ...

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Result[Any]: ...

    def stream(self, statement: Executable, parameters: Any = None) -> Awaitable[ReadStream]: ...

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...


class Store(ABC):
    """The store the features use; ``Store.open`` connects, checks, migrates and returns the
    implementation for the URL's database. Used as ``async with``, it closes at the end."""

    #: The statement that first touches the database when it opens.
    probe_sql: ClassVar[str]

    def __init__(self, url: URL, engine: AsyncEngine) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self.engine = engine
        # SQLite has one writer at a time; the writers of this process queue here, not in SQLite.
        self._write_lock: asyncio.Lock | None = None
        # Settings that hot commands read on every use (see recall).
        self._memos: dict[Recalled[Any, Any], Memo[Any, Any]] = {}
        #: Told how long each write transaction took (the bot's metrics; None: nobody asks).
        self.observer: TransactionObserver | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def path(self) -> str:
        """What the operator named, without a password (an SQLite file's path as given)."""
        return describe_url(self.url)

    # -- opening and closing ----------------------------------------------------------

    @classmethod
    async def open(cls, target: str | Path | URL, *, revision: str = "head") -> Store:
        """Open (creating an SQLite file if needed), check and migrate the database.

        ``revision`` stops the upgrade early (tests that build an old database).
        """
        url = target if isinstance(target, URL) else parse_database_url(target)
        # Here, not at the top: the implementations import this module.
        from bot.store.postgresql import PostgresqlStore
        from bot.store.sqlite import SqliteStore

        implementation: type[Store] = SqliteStore if url.get_backend_name() == "sqlite" else PostgresqlStore
        store = implementation.create(url)
        try:
            await store._check_connection()
            await store.migrate(revision)
        except BaseException:
            await store.engine.dispose()
            raise
        store._opened()
        return store

    @classmethod
    @abstractmethod
    def create(cls, url: URL) -> Store:
        """The store of ``url``'s database, not yet connected (see :meth:`open`)."""

    def _opened(self) -> None:  # noqa: B027 - a hook: nothing to start by default
        """Start what runs beside the store once it is open and migrated."""

    async def _check_connection(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql(self.probe_sql)
                await conn.rollback()
        except Exception as exc:  # the first contact: whatever fails, the operator gets one line
            original = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
            reason = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
            raise StoreError(self._describe_open_failure(original, reason)) from None

    @abstractmethod
    def _describe_open_failure(self, original: BaseException, reason: str) -> str:
        """One line for the operator: why the database cannot be used."""

    async def close(self) -> None:
        in_use = self.engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]
        if in_use:
            # A task still holds a connection (it was cancelled mid-statement, or leaks one):
            # dispose() cannot close it; it is closed when that task lets go, or collected.
            log.warning("closing the store with %d connection(s) still in use", in_use)
        await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    # -- the schema -----------------------------------------------------------------

    async def migrate(self, revision: str = "head") -> list[str]:
        """Apply every revision up to ``revision``; returns the revisions that ran (see
        :mod:`bot.store.migrate`)."""
        return await migrate.upgrade(self.engine, self.url, revision)

    async def schema_version(self) -> str | None:
        """The Alembic revision the database is at (None: empty)."""
        return await migrate.schema_version(self.engine)

    async def table_names(self) -> list[str]:
        async with self.read() as conn:
            return await conn.run_sync(lambda sync: inspect(sync).get_table_names())

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine statements run on (for instrumentation: SQLAlchemy events, tests)."""
        return (self.engine.sync_engine,)

    # -- reading --------------------------------------------------------------------

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[ReadConnection]:
        """A connection for reads; each statement sees what is committed when it runs."""

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

    # -- writing --------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, *changes: Change) -> AsyncIterator[AsyncConnection]:
        """One write transaction, committed when the block ends (rolled back if it raises).

        ``changes``: remembered values it writes (``SPOILER_CHANNEL_IDS.of(guild_id)``), forgotten
        once it has ended, whether it committed or not (a commit whose answer was lost with
        the connection may have happened).
        """
        started = time.perf_counter()
        try:
            async with self._transaction() as conn:
                yield conn
        except Exception as exc:
            self.transaction_ended(started, exc)
            raise
        else:
            self.transaction_ended(started, None)
        finally:
            for change in changes:
                self.forget(change)

    def transaction_ended(self, started: float, error: BaseException | None) -> None:
        """Tell the observer a transaction begun at ``started`` (``time.perf_counter()``) ended."""
        if self.observer is not None:
            self.observer(time.perf_counter() - started, error)

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

    @abstractmethod
    async def run_transaction(self, work: Callable[[Connection], T], *, small: bool = False) -> T:
        """Run ``work`` (synchronous SQLAlchemy Core on a ``Connection``) in one write
        transaction, committed when this returns. For the hot paths (a batch of votes);
        ``small``: a few rows (a lone click)."""

    async def fetch_on_driver(self, sql: str, *args: Any) -> list[Any]:
        """PostgreSQL's vote path (see :meth:`bot.store.postgresql.PostgresqlStore.fetch_on_driver`)."""
        raise TypeError("fetch_on_driver is for PostgreSQL")


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


def dialect_insert(bind: Store | AsyncConnection | Connection, table: Table) -> Any:
    """The ``INSERT`` of ``bind``'s database, which has ``on_conflict_do_update``/``_do_nothing``
    (the same clause in SQLite and PostgreSQL, built by each dialect's own construct)."""
    dialect = bind.dialect if isinstance(bind, Store) else bind.dialect.name
    return pg_dialect.insert(table) if dialect == "postgresql" else sqlite_dialect.insert(table)
