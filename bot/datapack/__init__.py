"""The show data pack: every show-specific fact the bot states, read from ``data/*.toml``.

Why a pack: the bot's Python holds no show-specific strings, so facts can be corrected
by editing TOML (no code change), and every fact carries the source it came from, so
the bot can say where a claim comes from and how old it is. Spoilers are modelled as
*spoiler facts* (an open label saying what is spoiled, a hidden text) so features can
never show a fate by accident.

The loader is pure (no database, no Discord): it validates everything up front and
fails with ONE line naming the file, the entry and the field, because the people who
edit the pack are fans editing TOML, not developers reading tracebacks.

Translations sit beside the English they translate, with the same source and date: each
entry may have a table named by a language that has a catalog (``bot/locales``), such as
``[character.ko]``, mirroring its English fields.
A missing translation is not an error: :func:`missing_translations` lists each one as a
line naming file, entry and field, and readers get the English of that field only.

One module per kind of fact (``sources``, ``characters``, ``faq``, ``survivors``,
``release``, ``show``) on the shared ``base``; ``window`` is the release-window rule that
``/release update`` applies too; ``loader`` reads a directory; ``checks`` are the audits.
"""

from __future__ import annotations

from bot.datapack.base import (
    DataPackError,
    IdentifiedModel,
    Translated,
    Translation,
    name_key,
    translation_languages,
)
from bot.datapack.characters import Character, Fate, FateStatus, ReturnSpoiler, ReturnStatus
from bot.datapack.checks import (
    STALE_AFTER_MONTHS,
    is_stale,
    iter_spoiler_facts,
    iter_spoiler_texts,
    missing_translations,
    newest_source_date,
    pack_entries,
    referenced_sources,
    source_audit,
)
from bot.datapack.faq import FaqEntry
from bot.datapack.loader import PACK_FILES, load_data_pack
from bot.datapack.pack import DataPack
from bot.datapack.release import ContextFact, Release, SourcedWindow
from bot.datapack.show import BotText, PackInfo, Platform, ShowInfo, ShowMeta
from bot.datapack.sources import Source, SpoilerFact
from bot.datapack.survivors import AdultNote, CharacterSpoiler, Difference, Survivors
from bot.datapack.window import Confidence, Precision, ReleaseWindow

__all__ = [
    "PACK_FILES",
    "STALE_AFTER_MONTHS",
    "AdultNote",
    "BotText",
    "Character",
    "CharacterSpoiler",
    "Confidence",
    "ContextFact",
    "DataPack",
    "DataPackError",
    "Difference",
    "FaqEntry",
    "Fate",
    "FateStatus",
    "IdentifiedModel",
    "PackInfo",
    "Platform",
    "Precision",
    "Release",
    "ReleaseWindow",
    "ReturnSpoiler",
    "ReturnStatus",
    "ShowInfo",
    "ShowMeta",
    "Source",
    "SourcedWindow",
    "SpoilerFact",
    "Survivors",
    "Translated",
    "Translation",
    "is_stale",
    "iter_spoiler_facts",
    "iter_spoiler_texts",
    "load_data_pack",
    "missing_translations",
    "name_key",
    "newest_source_date",
    "pack_entries",
    "referenced_sources",
    "source_audit",
    "translation_languages",
]
