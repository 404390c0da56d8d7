"""This feature's reads: characters, FAQ entries and sources from the stored data pack.

Read-only: the rows are written by :func:`bot.packstore.sync_data_pack` at start-up.
The fingerprint tells the cog (and old /cast buttons) whether the pack changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.datapack import Character, FaqEntry, Source
from bot.packstore import (
    FINGERPRINT_KEY,
    KIND_CHARACTER,
    KIND_FAQ,
    KIND_SOURCE,
    fetch_pack_entries,
    fetch_pack_entry,
)
from bot.state import read_state
from bot.store import ReadConnection

__all__ = ["StoredPack", "fetch_character", "fetch_faq_entry", "fetch_sources", "load_stored_pack"]


@dataclass(frozen=True, slots=True)
class StoredPack:
    """What /character, /cast and /faq need, in pack order, with the pack's fingerprint."""

    fingerprint: str
    characters: tuple[Character, ...]
    faq: tuple[FaqEntry, ...]
    sources: tuple[Source, ...]


async def fetch_fingerprint(conn: ReadConnection) -> str:
    """The fingerprint of the pack last synced into the store ("" before the first sync)."""
    return await read_state(conn, FINGERPRINT_KEY) or ""


async def load_stored_pack(conn: ReadConnection) -> StoredPack:
    """Everything at once, for building the in-memory indexes."""
    return StoredPack(
        fingerprint=await fetch_fingerprint(conn),
        characters=tuple(await fetch_pack_entries(conn, KIND_CHARACTER, Character)),
        faq=tuple(await fetch_pack_entries(conn, KIND_FAQ, FaqEntry)),
        sources=tuple(await fetch_pack_entries(conn, KIND_SOURCE, Source)),
    )


async def fetch_character(conn: AsyncConnection, character_id: str) -> Character | None:
    return await fetch_pack_entry(conn, KIND_CHARACTER, character_id, Character)


async def fetch_faq_entry(conn: AsyncConnection, faq_id: str) -> FaqEntry | None:
    return await fetch_pack_entry(conn, KIND_FAQ, faq_id, FaqEntry)


async def fetch_sources(conn: AsyncConnection) -> dict[str, Source]:
    return {source.id: source for source in await fetch_pack_entries(conn, KIND_SOURCE, Source)}
