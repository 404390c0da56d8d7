"""Everything /character, /cast and /faq answer from, built once per data pack.

Why one object: the fuzzy indexes, the roster pages and the lookups by id must all
describe the same pack, and the pack's fingerprint (carried by /cast buttons) says
which one. The cog swaps the whole catalog when the pack changes, never a part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bot.datapack import Character, FaqEntry, Source

from .repo import StoredPack
from .roster import RosterPage, paginate_roster
from .search import CharacterIndex, FaqIndex

__all__ = ["FINGERPRINT_PREFIX", "Catalog"]

FINGERPRINT_PREFIX = 8
"""Hex digits of the pack fingerprint a /cast button carries: enough to notice a change."""


@dataclass(frozen=True, slots=True)
class Catalog:
    fingerprint: str
    characters: Mapping[str, Character]
    faq: Mapping[str, FaqEntry]
    sources: Mapping[str, Source]
    character_index: CharacterIndex
    faq_index: FaqIndex
    roster: tuple[RosterPage, ...]

    @classmethod
    def build(cls, pack: StoredPack) -> Catalog:
        return cls(
            fingerprint=pack.fingerprint,
            characters=MappingProxyType({c.id: c for c in pack.characters}),
            faq=MappingProxyType({e.id: e for e in pack.faq}),
            sources=MappingProxyType({s.id: s for s in pack.sources}),
            character_index=CharacterIndex.build(pack.characters),
            faq_index=FaqIndex.build(pack.faq),
            roster=paginate_roster(pack.characters),
        )

    @property
    def short_fingerprint(self) -> str:
        """The part of the fingerprint a button's custom_id has room for."""
        return (self.fingerprint or "0" * FINGERPRINT_PREFIX)[:FINGERPRINT_PREFIX]
