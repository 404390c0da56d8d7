"""Writing the validated data pack into the store and reading its entries back.

Why the pack goes into the database at all: features read facts through their
repositories (one connection, one place to query), and a row per entry lets a feature
fetch one character or FAQ answer without holding the whole pack. The TOML files stay
the source of truth; ``sync_data_pack`` rewrites the rows from them at every start.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.datapack import Character, DataPack, FaqEntry, Release, ShowMeta, Source, Survivors
from bot.state import read_state, write_state
from bot.store import ReadConnection, Store, dialect_insert
from bot.store.schema import pack_entries

__all__ = [
    "FINGERPRINT_KEY",
    "KIND_CHARACTER",
    "KIND_FAQ",
    "KIND_RELEASE",
    "KIND_SHOW",
    "KIND_SOURCE",
    "KIND_SURVIVORS",
    "PACK_KINDS",
    "SINGLETON_KEY",
    "PackStoreError",
    "PackSyncSummary",
    "fetch_pack_entries",
    "fetch_pack_entry",
    "pack_rows",
    "sync_data_pack",
]

KIND_SOURCE = "source"
KIND_CHARACTER = "character"
KIND_FAQ = "faq"
KIND_SHOW = "show"
KIND_RELEASE = "release"
KIND_SURVIVORS = "survivors"
SINGLETON_KEY = "main"
"""Key of the one row of the kinds that have a single entry (show, release, survivors)."""

PACK_KINDS: Mapping[str, type[BaseModel]] = {
    KIND_SOURCE: Source,
    KIND_CHARACTER: Character,
    KIND_FAQ: FaqEntry,
    KIND_SHOW: ShowMeta,
    KIND_RELEASE: Release,
    KIND_SURVIVORS: Survivors,
}
"""Every kind the pack owns, with the model its rows hold; sync deletes stale rows of these only."""

FINGERPRINT_KEY = "data_pack_fingerprint"

M = TypeVar("M", bound=BaseModel)


class PackStoreError(Exception):
    """A stored pack row no longer fits its model (e.g. written by another bot version)."""


@dataclass(frozen=True, slots=True)
class PackSyncSummary:
    """What a sync did; ``changed`` is False when the database already matched the pack."""

    counts: Mapping[str, int]
    inserted: int
    updated: int
    deleted: int
    fingerprint: str
    previous_fingerprint: str | None
    changed: bool


def _to_json(model: BaseModel) -> str:
    """Canonical JSON, so an unchanged entry gives byte-identical text and no rewrite."""
    return json.dumps(model.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def pack_rows(pack: DataPack) -> dict[tuple[str, str], str]:
    """The pack as ``{(kind, key): json}``, the exact content the table should hold."""
    rows: dict[tuple[str, str], str] = {}
    for source in pack.sources:
        rows[(KIND_SOURCE, source.id)] = _to_json(source)
    for character in pack.characters:
        rows[(KIND_CHARACTER, character.id)] = _to_json(character)
    for entry in pack.faq:
        rows[(KIND_FAQ, entry.id)] = _to_json(entry)
    rows[(KIND_SHOW, SINGLETON_KEY)] = _to_json(pack.show)
    rows[(KIND_RELEASE, SINGLETON_KEY)] = _to_json(pack.release)
    rows[(KIND_SURVIVORS, SINGLETON_KEY)] = _to_json(pack.survivors)
    return rows


async def sync_data_pack(store: Store, pack: DataPack) -> PackSyncSummary:
    """Make ``pack_entries`` equal to the pack, in one transaction; idempotent.

    Only rows that differ are written, so a restart with an unchanged pack writes
    nothing but still verifies every row. Rows of kinds the pack does not own, and all
    other tables, are left alone.
    """
    wanted = pack_rows(pack)
    fingerprint = pack.fingerprint()
    kinds = tuple(PACK_KINDS)
    table = pack_entries
    async with store.transaction() as conn:
        result = await conn.execute(
            select(table.c.kind, table.c.key, table.c.data).where(table.c.kind.in_(kinds))
        )
        existing = {(row.kind, row.key): row.data for row in result}
        inserts = [
            {"kind": k, "key": key, "data": data} for (k, key), data in wanted.items() if (k, key) not in existing
        ]
        updates = [
            {"b_kind": k, "b_key": key, "data": data}
            for (k, key), data in wanted.items()
            if (k, key) in existing and existing[(k, key)] != data
        ]
        deletes = [{"b_kind": k, "b_key": key} for (k, key) in existing if (k, key) not in wanted]
        same_row = and_(table.c.kind == bindparam("b_kind"), table.c.key == bindparam("b_key"))
        if inserts:
            # Processes started at once each insert the rows they did not see: the first wins,
            # the others' equal rows are skipped instead of failing their start-up.
            await conn.execute(dialect_insert(conn, table).on_conflict_do_nothing(), inserts)
        if updates:
            await conn.execute(update(table).where(same_row).values(data=bindparam("data")), updates)
        if deletes:
            await conn.execute(delete(table).where(same_row), deletes)
        previous = await read_state(conn, FINGERPRINT_KEY)
        if previous != fingerprint:
            await write_state(conn, FINGERPRINT_KEY, fingerprint)
    counts = Counter(kind for kind, _ in wanted)
    return PackSyncSummary(
        counts={kind: counts.get(kind, 0) for kind in kinds},
        inserted=len(inserts),
        updated=len(updates),
        deleted=len(deletes),
        fingerprint=fingerprint,
        previous_fingerprint=previous,
        changed=bool(inserts or updates or deletes or previous != fingerprint),
    )


def _parse(kind: str, key: str, data: str, model: type[M]) -> M:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PackStoreError(
            f"pack_entries {kind}/{key} does not fit {model.__name__}: {where}: {first['msg']}"
        ) from None


async def fetch_pack_entries(conn: ReadConnection, kind: str, model: type[M]) -> list[M]:
    """All entries of ``kind`` as ``model``, in pack-file order (``position``), then by key."""
    result = await conn.execute(select(pack_entries.c.key, pack_entries.c.data).where(pack_entries.c.kind == kind))
    entries = [(row.key, _parse(kind, row.key, row.data, model)) for row in result]
    entries.sort(key=lambda entry: (getattr(entry[1], "position", 0) or 0, entry[0]))
    return [entry for _, entry in entries]


async def fetch_pack_entry(conn: AsyncConnection, kind: str, key: str, model: type[M]) -> M | None:
    """One entry as ``model``, or None when the pack has no such entry."""
    data = await conn.scalar(
        select(pack_entries.c.data).where(and_(pack_entries.c.kind == kind, pack_entries.c.key == key))
    )
    return None if data is None else _parse(kind, key, data, model)
