"""The whole validated pack and its look-ups."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from bot.datapack.base import PackModel, name_key
from bot.datapack.characters import Character
from bot.datapack.faq import FaqEntry
from bot.datapack.release import Release
from bot.datapack.show import ShowMeta
from bot.datapack.sources import Source
from bot.datapack.survivors import Survivors


class DataPack(PackModel):
    """The validated pack; ``fingerprint()`` tells whether anything changed since the last sync."""

    show: ShowMeta
    sources: tuple[Source, ...]
    characters: tuple[Character, ...]
    faq: tuple[FaqEntry, ...]
    survivors: Survivors
    release: Release

    def source(self, source_id: str) -> Source:
        """A source by id (KeyError if unknown: references were checked at load time)."""
        for item in self.sources:
            if item.id == source_id:
                return item
        raise KeyError(source_id)

    def source_dates(self) -> dict[str, dt.date]:
        """Each dated source's date by id: what a fact is "as of"."""
        return {item.id: item.date for item in self.sources if item.date is not None}

    def character(self, character_id: str) -> Character:
        """A character by id (KeyError if unknown)."""
        for item in self.characters:
            if item.id == character_id:
                return item
        raise KeyError(character_id)

    def find_character(self, query: str, *, include_actors: bool = True) -> Character | None:
        """Exact match on any name, alias or Hangul (normalised with ``name_key``)."""
        key = name_key(query)
        if not key:
            return None
        for item in self.characters:
            names = item.names() + (item.actor_names() if include_actors else ())
            if key in {name_key(name) for name in names}:
                return item
        return None

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the content: equal packs give equal fingerprints."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
