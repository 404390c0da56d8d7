"""``python -m bot store backup FILE`` and ``store restore FILE``: a consistent copy of a running
bot's store as one portable SQLite file, and that file loaded into an empty store of either kind.

A backup is taken while the bot runs. From SQLite it is SQLite's online backup API, in one step
(one read transaction: a snapshot; the bot's writers go on in the WAL meanwhile). From
PostgreSQL every table is read in one REPEATABLE READ, READ ONLY transaction (one snapshot)
into a fresh SQLite store at the same schema revision. Either way the file is written beside
FILE and renamed into place when complete, so FILE is never half a backup.

A restore opens the file as a store (an older backup is migrated up; one from a newer release
is refused), then copies its rows into the configured store, which must hold none: into
PostgreSQL with ``store copy``'s own code, into SQLite row by row in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from bot.store.base import Store
from bot.store.copy import copy_rows, copy_store, occupied_tables, row_counts
from bot.store.errors import StoreError
from bot.store.urls import parse_database_url


@dataclass(frozen=True, slots=True)
class BackupReport:
    source: str
    target: str
    revision: str | None
    rows: dict[str, int]

    def lines(self, verb: str) -> list[str]:
        total = sum(self.rows.values())
        return [
            f"{verb} {total} rows from {self.source} to {self.target} (schema revision {self.revision}):",
            *(f"  {name}: {count}" for name, count in self.rows.items()),
        ]


async def backup_store(source: Store, file: Path) -> BackupReport:
    """Write a consistent copy of ``source`` to the SQLite file ``file`` (which must not exist)."""
    if await asyncio.to_thread(file.exists):
        raise StoreError(f"store backup: {file} already exists; name a new file")
    if source.is_sqlite and str(source.url.database or "") in ("", ":memory:"):
        raise StoreError("store backup: an in-memory database has nothing to back up")
    partial = file.with_name(file.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    file.parent.mkdir(parents=True, exist_ok=True)
    try:
        if source.is_sqlite:
            await asyncio.to_thread(_sqlite_online_backup, Path(str(source.url.database)), partial)
        else:
            await _snapshot_into_sqlite(source, partial)
        async with await Store.open(parse_database_url(partial)) as written:
            revision = await written.schema_version()
            async with written.read() as conn:
                rows = await row_counts(conn)
        _checkpoint(partial)
        os.replace(partial, file)
    except BaseException:
        for leftover in (partial, *(partial.with_name(partial.name + suffix) for suffix in ("-wal", "-shm"))):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise
    return BackupReport(source=source.path, target=str(file), revision=revision, rows=rows)


def _sqlite_online_backup(database: Path, target: Path) -> None:
    """SQLite's online backup, all pages in one step (a single read transaction: a snapshot)."""
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()


def _checkpoint(path: Path) -> None:
    """Fold the file's WAL into it, so the backup is one self-contained file."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


async def _snapshot_into_sqlite(source: Store, target: Path) -> None:
    async with await Store.open(parse_database_url(target)) as written:
        if await written.schema_version() != await source.schema_version():
            raise StoreError(
                "store backup: this bot's schema differs from the database's; back up with the bot's own release"
            )
        async with source.engine.connect() as raw:
            reading = await raw.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            async with reading.begin(), written.transaction() as writing:
                await copy_rows(reading, writing)


def _refuse_same_file(file: Path, target_url: URL) -> None:
    if not file.is_file():
        raise StoreError(f"store restore: {file} is not a file")
    database = target_url.database if target_url.get_backend_name() == "sqlite" else None
    if database and Path(database).resolve() == file.resolve():
        raise StoreError("store restore: the backup and the store are the same file")


async def restore_store(file: Path, target_url: URL) -> BackupReport:
    """Load the backup ``file`` into the empty store at ``target_url`` (SQLite or PostgreSQL)."""
    await asyncio.to_thread(_refuse_same_file, file, target_url)
    source_url = parse_database_url(file)
    async with await Store.open(source_url) as source:
        revision = await source.schema_version()
        if target_url.get_backend_name() == "postgresql":
            report = await copy_store(source, target_url)
            return BackupReport(source=str(file), target=report.target, revision=revision, rows=report.rows)
        async with await Store.open(target_url) as target:
            async with source.transaction() as reading, target.transaction() as writing:
                listed = await occupied_tables(writing)
                if listed:
                    raise StoreError(
                        f"store restore: {target.path} already holds data: {listed}; restore into an empty store"
                    )
                expected = await row_counts(reading)
                await copy_rows(reading, writing)
                if await row_counts(writing) != expected:
                    raise StoreError("store restore: row counts differ after the copy")
            return BackupReport(source=str(file), target=target.path, revision=revision, rows=expected)
