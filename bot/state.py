"""The bot's own small key/value state (table bot_state): sync hashes, the pack fingerprint.

The one place that reads and writes that table, so the core has a repository like
every feature. Writers run inside the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import ReadConnection, dialect_insert
from bot.store.schema import bot_state


async def read_state(conn: ReadConnection, key: str) -> str | None:
    value = await conn.scalar(select(bot_state.c.value).where(bot_state.c.key == key))
    return None if value is None else str(value)


async def state_keys(conn: ReadConnection, prefix: str) -> list[str]:
    """Every key starting with ``prefix`` (matched literally, not as a LIKE pattern)."""
    rows = await conn.scalars(
        select(bot_state.c.key).where(func.substr(bot_state.c.key, 1, len(prefix)) == prefix)
    )
    return [str(key) for key in rows]


async def write_state(conn: AsyncConnection, key: str, value: str) -> None:
    insert = dialect_insert(conn, bot_state).values(key=key, value=value)
    await conn.execute(insert.on_conflict_do_update(index_elements=["key"], set_={"value": insert.excluded.value}))


async def delete_state(conn: AsyncConnection, key: str) -> None:
    await conn.execute(delete(bot_state).where(bot_state.c.key == key))
