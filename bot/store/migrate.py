"""The schema's one Alembic history (``bot/store/migrations``), applied at every start.

The whole migration is one unit across processes: each revision commits on its own (a
failure leaves the previous one), so processes starting together on a fresh or older
database take turns on a lock held from reading the current revision to the last
revision's commit; the next one then finds nothing left to do. SQLite's lock is an OS
lock on a file beside the database (:func:`_sqlite_migration_lock`), PostgreSQL's an
advisory lock (:data:`MIGRATION_LOCK_KEY`).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.errors import StoreError
from bot.store.urls import describe_url

log = logging.getLogger(__name__)
# Alembic announces its context at INFO on every start; "applied migration" lines say what matters.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: The PostgreSQL advisory lock that migrations take (an arbitrary constant of this bot: "hyosan" in ASCII).
MIGRATION_LOCK_KEY = 0x6879_6F73_616E
#: SQLite: the file beside the database whose lock one process at a time holds while it
#: migrates (hyosan.db-migration.lock; see _sqlite_migration_lock), and how often a
#: process waiting for it looks again.
MIGRATION_LOCK_SUFFIX = "-migration.lock"
MIGRATION_LOCK_POLL_SECONDS = 0.02
#: ... after this long waiting, it says in the log which file it waits for.
MIGRATION_LOCK_SAY_AFTER = 2.0


async def upgrade(engine: AsyncEngine, url: URL, revision: str = "head") -> list[str]:
    """Apply every revision up to ``revision`` on ``engine``'s database (``url``); returns
    the revisions that ran."""
    async with _sqlite_migration_lock(url), engine.connect() as conn:
        ran: list[str] = await conn.run_sync(_upgrade_sync, url, revision)
    for name in ran:
        log.info("applied migration %s", name)
    return ran


async def schema_version(engine: AsyncEngine) -> str | None:
    """The Alembic revision the database is at (None: empty)."""
    async with engine.connect() as conn:
        return await conn.run_sync(current_revision)


@asynccontextmanager
async def _sqlite_migration_lock(url: URL) -> AsyncIterator[None]:
    """SQLite: an exclusive OS lock (``flock``) on a file beside the database, held for the
    whole migration. SQLite's own locks last one transaction, and Alembic commits each
    revision, so another process could read the revision between two of them and apply
    the next one again ("table ... already exists"). The lock file stays (removing it
    would let a third process lock a new file while the second holds the old one); the
    lock ends with the process, however it ends. Waiting does not block the event loop."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        yield
        return
    path = describe_url(url)
    lock_path = f"{url.database}{MIGRATION_LOCK_SUFFIX}"
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreError(f"{path}: cannot open its migration lock {lock_path} ({exc.strerror})") from None
    try:
        started, said = time.monotonic(), False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not said and time.monotonic() - started > MIGRATION_LOCK_SAY_AFTER:
                    log.info("another process is migrating %s; waiting for it (%s)", path, lock_path)
                    said = True
                await asyncio.sleep(MIGRATION_LOCK_POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # also lets go of the lock


def _upgrade_sync(conn: Connection, url: URL, revision: str) -> list[str]:
    if url.get_backend_name() == "sqlite":  # under the migration lock (see _sqlite_migration_lock)
        return _upgrade_locked(conn, url, revision)
    # Processes starting together on an empty PostgreSQL database migrate one after the other.
    conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
    conn.commit()
    try:
        return _upgrade_locked(conn, url, revision)
    finally:
        if conn.in_transaction():
            conn.rollback()
        conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
        conn.commit()


def _upgrade_locked(conn: Connection, url: URL, revision: str) -> list[str]:
    path = describe_url(url)
    config = alembic_config(conn)
    script = ScriptDirectory.from_config(config)
    known = {rev.revision for rev in script.walk_revisions()}
    before = current_revision(conn)
    if before is None and url.get_backend_name() == "sqlite":
        before = _stamp_legacy(conn, config, known)
    if before is not None and before not in known:
        raise StoreError(
            f"{path} has schema revision {before}, newer than this bot knows ({script.get_current_head()}); "
            "upgrade the bot or use another database"
        )
    try:
        command.upgrade(config, revision)
    except CommandError as exc:
        raise StoreError(f"cannot migrate {path}: {exc}") from None
    ran: list[str] = []
    after = current_revision(conn)
    for rev in reversed(list(script.iterate_revisions(after, before))):
        if rev.revision != before:
            ran.append(f"{rev.revision} {rev.doc.splitlines()[0] if rev.doc else ''}".strip())
    return ran


def current_revision(conn: Connection) -> str | None:
    revision = MigrationContext.configure(conn).get_current_revision()
    if conn.in_transaction():
        conn.commit()
    return revision


def _stamp_legacy(conn: Connection, config: Config, known: set[str]) -> str | None:
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


def alembic_config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config
