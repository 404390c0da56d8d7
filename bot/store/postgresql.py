"""The store on PostgreSQL, for a cluster of processes or a larger deployment.

A pool of asyncpg connections; a connection lost with the server is dropped from the pool
and the next use connects again, so the bot carries on by itself once the server is back.
Reads run in autocommit; the vote path keeps one connection of its own (see
:meth:`PostgresqlStore.fetch_on_driver`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bot.store.base import POOL_SIZE, ReadConnection, Store
from bot.store.errors import StoreFailure, classify_failure

#: How long connecting (and waiting for a free pooled connection) may take: under
#: Discord's 3 s answer window.
CONNECT_TIMEOUT_SECONDS = 2.0

T = TypeVar("T")


class PostgresqlStore(Store):
    """A PostgreSQL database, through asyncpg."""

    probe_sql = "SELECT 1"

    def __init__(self, url: URL) -> None:
        super().__init__(
            url,
            create_async_engine(
                url,
                hide_parameters=True,
                pool_size=POOL_SIZE,
                max_overflow=10,
                pool_timeout=CONNECT_TIMEOUT_SECONDS,
                connect_args={
                    "timeout": CONNECT_TIMEOUT_SECONDS,
                    "server_settings": {"application_name": "hyosan-bot"},
                },
            ),
        )
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # The vote path (see fetch_on_driver): one connection kept, used in turns.
        self._driver_lock = asyncio.Lock()
        self._driver_conn: AsyncConnection | None = None

    @classmethod
    def create(cls, url: URL) -> PostgresqlStore:
        return cls(url)

    def _describe_open_failure(self, original: BaseException, reason: str) -> str:
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

    @asynccontextmanager
    async def read(self) -> AsyncIterator[ReadConnection]:
        """A pooled connection in autocommit: each statement sees what is committed when it runs."""
        async with self._reader.connect() as conn:
            yield conn

    async def run_transaction(self, work: Callable[[Connection], T], *, small: bool = False) -> T:
        """Run ``work`` (synchronous SQLAlchemy Core on a ``Connection``) in one write
        transaction on the pooled async connection (SQLAlchemy's ``run_sync``), committed
        when this returns. ``small`` changes nothing here."""
        async with self.transaction() as conn:
            return await conn.run_sync(work)

    async def fetch_on_driver(self, sql: str, *args: Any) -> list[Any]:
        """One statement (``$1``-style parameters) straight on asyncpg, outside any
        transaction block: its own transaction, committed when this returns.

        For the vote path only (issue 15): SQLAlchemy's statement layer, its BEGIN/COMMIT
        trips and a pool checkout per call cost more than the statement itself. The callers
        take turns on one connection checked out of the pool and kept (the ballot box writes
        one batch at a time anyway); asyncpg prepares the statement once on it. A connection
        that broke, or was cancelled mid-statement, is invalidated and the next call takes
        a fresh one, so the bot reconnects by itself after a server restart.
        """
        async with self._driver_lock:
            if self._driver_conn is None:
                self._driver_conn = await self._reader.connect()
            conn = self._driver_conn
            # The connection is checked out: its asyncpg connection is a plain attribute away
            # (SQLAlchemy's get_raw_connection() would be a greenlet trip every call).
            assert conn.sync_connection is not None
            driver = conn.sync_connection.connection.driver_connection
            assert driver is not None
            started = time.perf_counter()
            try:
                rows = list(await driver.fetch(sql, *args))
            except BaseException as exc:
                self.transaction_ended(started, exc if isinstance(exc, Exception) else None)
                if classify_failure(exc) is StoreFailure.UNAVAILABLE or isinstance(exc, asyncio.CancelledError):
                    self._driver_conn = None
                    with contextlib.suppress(Exception):
                        await conn.invalidate()
                raise
            self.transaction_ended(started, None)
            return rows

    async def close(self) -> None:
        if self._driver_conn is not None:
            held, self._driver_conn = self._driver_conn, None
            with contextlib.suppress(Exception):
                await held.close()
        await super().close()
