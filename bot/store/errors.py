"""What can go wrong with the store, in the words the rest of the bot needs.

At start-up, anything that stops the store from opening is a :class:`StoreError` with
one line for the operator. While the bot runs, :func:`classify_failure` tells the
error path whether a failed write is worth a "try again" (busy or unreachable
database) or needs the operator (a full disk), whichever database it came from.
"""

from __future__ import annotations

import enum
import sqlite3

from sqlalchemy import exc as sa_exc


class StoreError(Exception):
    """The database cannot be used as configured (bad URL, unreachable, newer schema)."""


class StoreFailure(enum.Enum):
    BUSY = "busy"  # another writer holds it; the same write works in a moment
    UNAVAILABLE = "unavailable"  # the database server cannot be reached right now
    FULL = "full"  # the disk or the database is full: the operator must act


def _driver_error(error: BaseException) -> BaseException:
    return error.orig if isinstance(error, sa_exc.DBAPIError) and error.orig is not None else error


def classify_failure(error: BaseException) -> StoreFailure | None:
    """Which kind of store failure ``error`` is, or None when it is not one (a bug)."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return StoreFailure.BUSY
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return StoreFailure.UNAVAILABLE
    original = _driver_error(error)
    if isinstance(original, sqlite3.OperationalError):
        text = str(original).lower()
        if "locked" in text or "busy" in text:
            return StoreFailure.BUSY
        if "full" in text:
            return StoreFailure.FULL
        return None
    if isinstance(original, sqlite3.Error):
        return None
    if isinstance(original, OSError | TimeoutError | ConnectionError):
        return StoreFailure.UNAVAILABLE
    return _classify_postgresql(original, error)


def _classify_postgresql(original: BaseException, error: BaseException) -> StoreFailure | None:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return None
    # SQLAlchemy's adapter keeps asyncpg's own exception as __cause__ of its wrapper.
    cause = original.__cause__ if original.__cause__ is not None else original
    for candidate in (cause, original, error):
        if isinstance(candidate, asyncpg.DiskFullError):
            return StoreFailure.FULL
        if isinstance(
            candidate,
            asyncpg.PostgresConnectionError
            | asyncpg.CannotConnectNowError
            | asyncpg.AdminShutdownError
            | asyncpg.ConnectionDoesNotExistError
            | asyncpg.InterfaceError
            # The client's protocol state is out of step with the server (seen when a server
            # restart interrupts a statement): this connection is unusable, another one works.
            | asyncpg.InternalClientError
            | asyncpg.TooManyConnectionsError,
        ):
            return StoreFailure.UNAVAILABLE
        if isinstance(candidate, asyncpg.DeadlockDetectedError | asyncpg.SerializationError):
            return StoreFailure.BUSY
        if isinstance(candidate, OSError | TimeoutError):
            return StoreFailure.UNAVAILABLE
    return None
