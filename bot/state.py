"""The bot's own small key/value state (table bot_state): sync hashes, the pack fingerprint.

The one place that reads and writes that table, so the core has a repository like
every feature. Writers run inside the caller's transaction.
"""

from __future__ import annotations

import aiosqlite


async def read_state(conn: aiosqlite.Connection, key: str) -> str | None:
    rows = list(await conn.execute_fetchall("SELECT value FROM bot_state WHERE key = ?", (key,)))
    return str(rows[0][0]) if rows else None


async def state_keys(conn: aiosqlite.Connection, prefix: str) -> list[str]:
    """Every key starting with ``prefix`` (matched literally, not as a LIKE pattern)."""
    rows = await conn.execute_fetchall(
        "SELECT key FROM bot_state WHERE substr(key, 1, length(?)) = ?", (prefix, prefix)
    )
    return [str(row[0]) for row in rows]


async def write_state(conn: aiosqlite.Connection, key: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def delete_state(conn: aiosqlite.Connection, key: str) -> None:
    await conn.execute("DELETE FROM bot_state WHERE key = ?", (key,))
