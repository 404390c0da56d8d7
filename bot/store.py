"""The bot's one SQLite connection and its numbered migrations.

The schema version lives in ``PRAGMA user_version``; each migration file
``bot/migrations/NNNN_name.sql`` is applied in its own transaction, so a crash
mid-migration leaves the database at the previous version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
#: How long a write waits for another process's lock: under Discord's 3 s answer window,
#: so a command blocked by a lock still answers (with "try again") in time.
BUSY_TIMEOUT_MS = 2000
#: Between two tries of BEGIN when SQLite refused at once (see Store.transaction).
BEGIN_RETRY_SECONDS = 0.02


class StoreError(Exception):
    """The database cannot be used as it is (not SQLite, newer schema, unreadable)."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Numbered migrations in order; numbers are unique and only ever grow."""
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise StoreError(f"migration file {path.name} is not named NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text("utf-8")))
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions) or 0 in versions:
        raise StoreError(f"migration numbers must be unique and start at 0001: {versions}")
    return migrations


class Store:
    """Owns the aiosqlite connection: opened in setup_hook, closed on shutdown."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        # One connection is shared by every coroutine: transactions must not interleave.
        self._write_lock = asyncio.Lock()
        self.busy_timeout_ms = BUSY_TIMEOUT_MS

    @classmethod
    async def open(cls, path: str | Path, *, migrations: list[Migration] | None = None) -> Store:
        """Open (creating if needed), configure and migrate the database at ``path``."""
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        conn.row_factory = aiosqlite.Row
        store = cls(conn, path)
        try:
            await store._configure()
            await store.migrate(discover_migrations() if migrations is None else migrations)
        except BaseException:
            await conn.close()
            raise
        return store

    async def _configure(self) -> None:
        try:
            # Reading the schema is the first thing that fails on a file that is not SQLite.
            for pragma in (
                f"PRAGMA busy_timeout = {self.busy_timeout_ms}",
                "SELECT count(*) FROM sqlite_master",
                "PRAGMA journal_mode = WAL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA synchronous = NORMAL",
            ):
                # Each cursor is drained and closed: an unfinished SELECT holds a read transaction.
                async with self.conn.execute(pragma) as cursor:
                    await cursor.fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable SQLite database ({exc})") from exc

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, migrations: list[Migration]) -> int:
        """Apply every migration above the current version; returns how many ran."""
        current = await self.schema_version()
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this bot knows ({latest}); "
                "upgrade the bot or use another DATABASE_PATH"
            )
        applied = 0
        for migration in migrations:
            if migration.version <= current:
                continue
            async with self.transaction():
                for statement in split_sql(migration.sql):
                    await self.conn.execute(statement)
                await self.conn.execute(f"PRAGMA user_version = {migration.version}")
            log.info("applied migration %s", migration.name)
            applied += 1
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; ``BEGIN IMMEDIATE`` takes the write lock up front."""
        async with self._write_lock:
            try:
                # A BEGIN whose await is cancelled still runs in aiosqlite's thread, so it
                # sits inside the try: the ROLLBACK below is queued after it either way.
                await self._begin_immediate()
                yield self.conn
                await asyncio.shield(self.conn.execute("COMMIT"))
            except BaseException:
                # Also after a failed COMMIT (disk full, busy). Shielded: a second
                # cancellation must not leave the shared connection mid-transaction.
                with contextlib.suppress(sqlite3.Error):
                    await asyncio.shield(self.conn.execute("ROLLBACK"))
                raise

    async def _begin_immediate(self) -> None:
        """BEGIN IMMEDIATE, waiting up to the busy timeout for another process's lock.

        SQLite waits by itself, except when this connection is in the middle of a read
        (another coroutine between execute and fetch on the shared connection): then it
        refuses at once, to avoid a deadlock. Those refusals are retried here until the
        same deadline.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.busy_timeout_ms / 1000
        while True:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_lock_error(exc) or loop.time() >= deadline:
                    raise
            await asyncio.sleep(BEGIN_RETRY_SECONDS)

    async def set_busy_timeout(self, milliseconds: int) -> None:
        """Change how long writes wait for another process's lock (tests, operators)."""
        self.busy_timeout_ms = milliseconds
        await self.conn.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")

    async def close(self) -> None:
        await self.conn.close()


def to_db_time(moment: datetime) -> str:
    """An aware time as fixed-width UTC text, so SQL compares stored times as times."""
    if moment.tzinfo is None:
        raise ValueError("only timezone-aware times are stored")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str | None) -> datetime | None:
    """A stored time back as an aware UTC datetime (None stays None)."""
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def is_lock_error(exc: sqlite3.Error) -> bool:
    """Another writer holds the database (SQLITE_BUSY / SQLITE_LOCKED)."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def is_full_error(exc: sqlite3.Error) -> bool:
    """The disk or the database's page limit is full (SQLITE_FULL)."""
    return "full" in str(exc).lower()


def split_sql(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement knows quoting)."""
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    statements: list[str] = []
    buffer = ""
    for line in code.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise StoreError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:60]}")
    return statements
