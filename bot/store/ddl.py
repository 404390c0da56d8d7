"""What every revision runs: its SQLite script or its PostgreSQL statements.

SQLite keeps the exact scripts the bot has shipped since its first release
(``migrations/sqlite/NNNN_*.sql``), so a database created today is the same as one
created by an old release and then upgraded. PostgreSQL gets the same tables in its own
types (BIGINT ids, timestamptz, boolean) and a PL/pgSQL trigger where SQLite has one.
``PRAGMA user_version`` keeps following the revision, so an older release of the bot
still refuses a database that is newer than it knows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from alembic import op

SQLITE_SCRIPTS = Path(__file__).with_name("migrations") / "sqlite"


class MigrationScriptError(Exception):
    """A migration script is missing or cannot be split into statements."""


def apply(revision: str, postgresql: Sequence[str]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in sqlite_statements(revision):
            bind.exec_driver_sql(statement)
        bind.exec_driver_sql(f"PRAGMA user_version = {int(revision)}")
    elif bind.dialect.name == "postgresql":
        for statement in postgresql:
            bind.exec_driver_sql(statement)
    else:  # pragma: no cover - the URL check refuses other databases first
        raise MigrationScriptError(f"no migration for {bind.dialect.name}")


def sqlite_statements(revision: str) -> list[str]:
    scripts = sorted(SQLITE_SCRIPTS.glob(f"{revision}_*.sql"))
    if len(scripts) != 1:
        raise MigrationScriptError(f"expected one SQLite script for revision {revision}, found {len(scripts)}")
    return split_sql(scripts[0].read_text("utf-8"))


def split_sql(script: str) -> list[str]:
    """Split a script into statements (sqlite3.complete_statement knows quoting and triggers)."""
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
        raise MigrationScriptError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:60]}")
    return statements
