"""The release record's versions (``countdown_release_history``), newest current, and the lock
every writer of the record or of schedules computed from it takes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import ReadConnection, Store
from bot.store.memo import Recalled
from bot.store.schema import countdown_release_history as history
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.window import ReleaseWindow

#: PostgreSQL advisory lock taken by every writer that reads the current release record and
#: writes schedules from it (any process may record a change). SQLite needs none: a write
#: transaction there (BEGIN IMMEDIATE) already excludes every other writer.
RECORD_LOCK_KEY = 0x68796F73616E_0003  # "hyosan", migration 0003


async def lock_record_writers(conn: AsyncConnection) -> None:
    """Serialize, until this transaction ends, with every other writer of the record or of
    schedules computed from it; statements after this see what the last holder committed."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECORD_LOCK_KEY})


#: ReleaseRecord's fields by their columns (its window's apart: ReleaseWindow's fields).
_FIELDS = {
    "awaited": history.c.awaited,
    "confidence": history.c.confidence,
    "source_title": history.c.source_title,
    "source_url": history.c.source_url,
    "source_date": history.c.source_date,
    "origin": history.c.origin,
    "changed_by": history.c.changed_by,
    "recorded_at": history.c.recorded_at,
}
_WINDOW_FIELDS = {
    "precision": history.c.precision,
    "start": history.c.start_date,
    "end": history.c.end_date,
    "label": history.c.label,
}
_COLUMNS = (history.c.id, *_FIELDS.values(), *_WINDOW_FIELDS.values())


def _record(row: Row[Any]) -> ReleaseRecord:
    values = row._mapping
    return ReleaseRecord(
        id=int(values[history.c.id]),
        window=ReleaseWindow(**{field: values[column] for field, column in _WINDOW_FIELDS.items()}),
        **{field: values[column] for field, column in _FIELDS.items()},
    )


def _row_values(record: ReleaseRecord) -> dict[str, object]:
    return {column.name: getattr(record, field) for field, column in _FIELDS.items()} | {
        column.name: getattr(record.window, field) for field, column in _WINDOW_FIELDS.items()
    }


# Built once (building and keying a statement costs as much as running it).
_CURRENT_RECORD = select(*_COLUMNS).order_by(history.c.id.desc()).limit(1)


async def fetch_current_record(conn: ReadConnection) -> ReleaseRecord | None:
    row = (await conn.execute(_CURRENT_RECORD)).first()
    return None if row is None else _record(row)


async def _current_record(conn: ReadConnection, _key: None) -> ReleaseRecord | None:
    return await fetch_current_record(conn)


#: The record as /countdown shows it, remembered by the store (``bot.store.memo``). Recording a
#: version forgets it; so does the scheduler when its own look finds a version another process
#: recorded (see ``CountdownPosts.next_due``), so no news goes out before /countdown shows it.
CURRENT_RECORD: Recalled[None, ReleaseRecord | None] = Recalled("current release record", _current_record)


async def current_record(store: Store) -> ReleaseRecord | None:
    return await store.recall(CURRENT_RECORD, None)


async def fetch_record(conn: ReadConnection, record_id: int) -> ReleaseRecord | None:
    row = (await conn.execute(select(*_COLUMNS).where(history.c.id == record_id))).first()
    return None if row is None else _record(row)


async def fetch_previous_record(conn: ReadConnection, record_id: int) -> ReleaseRecord | None:
    """The version a change replaced (for "was … now …" in announcements)."""
    row = (
        await conn.execute(select(*_COLUMNS).where(history.c.id < record_id).order_by(history.c.id.desc()).limit(1))
    ).first()
    return None if row is None else _record(row)


async def fetch_history(conn: ReadConnection, limit: int = 50) -> list[ReleaseRecord]:
    """Every change, newest first."""
    rows = await conn.execute(select(*_COLUMNS).order_by(history.c.id.desc()).limit(limit))
    return [_record(row) for row in rows]


async def latest_record_id(conn: ReadConnection) -> int | None:
    """The current version's id, read without the rest of it (None: no version yet)."""
    latest = (await conn.execute(select(func.max(history.c.id)))).scalar_one()
    return None if latest is None else int(latest)


async def insert_record(conn: AsyncConnection, record: ReleaseRecord) -> int:
    """Add ``record`` as the newest version; returns its id."""
    result = await conn.execute(history.insert().values(_row_values(record)).returning(history.c.id))
    return int(result.scalar_one())
