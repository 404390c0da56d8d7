"""What the audit (``python -m bot check``) and the tests ask of a loaded pack.

Missing translations, every hidden text, how current the sources are, and which
sources are referenced: walks over the models, independent of their validators.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.datapack.base import Translated, Translation, translation_languages
from bot.datapack.characters import ReturnSpoiler
from bot.datapack.pack import DataPack
from bot.datapack.sources import SpoilerFact
from bot.i18n import Locale, language_name


def _untranslated(model: BaseModel, where: str, *, children: bool = True) -> Iterator[tuple[str, str]]:
    """(dotted field path, language) for every translatable text without its translation."""
    if isinstance(model, Translated):
        have = {(item.language, item.field) for item in model.translations}
        for field in model.TRANSLATED:
            if getattr(model, field) in (None, (), ""):
                continue
            for language in translation_languages():
                if (language, field) not in have:
                    yield f"{language}.{where}{field}", language
    if not children:
        return
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _untranslated(value, f"{where}{name}.")
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel) and not isinstance(item, Translation):
                    yield from _untranslated(item, f"{where}{name}[{index}].")


def missing_translations(pack: DataPack, directory: Path) -> list[str]:
    """One line per text that has no translation: ``file: entry: field_<language>: ...``.

    Entries are named as load errors name them, so the line says where to add the text.
    """
    directory = Path(directory)
    found: list[tuple[str, str, Iterator[tuple[str, str]]]] = []
    found += [("characters.toml", f'character "{c.id}"', _untranslated(c, "")) for c in pack.characters]
    found += [("faq.toml", f'faq "{entry.id}"', _untranslated(entry, "")) for entry in pack.faq]
    found.append(("show.toml", "show", _untranslated(pack.show, "")))
    for file, entry, whole in (
        ("survivors.toml", "survivors", pack.survivors),
        ("release.toml", "release", pack.release),
    ):
        found.append((file, entry, _untranslated(whole, "", children=False)))
        for name in type(whole).model_fields:
            value = getattr(whole, name)
            if isinstance(value, BaseModel):
                found.append((file, entry, _untranslated(value, f"{name}.")))
            elif isinstance(value, tuple):
                for item in value:
                    ident = getattr(item, "id", None) or getattr(item, "character", None)
                    found.append((file, f'{entry} {name} "{ident}"', _untranslated(item, "")))
    return [
        f"{directory / file}: {entry}: {field}: no {language_name(language)} translation; readers get the English"
        for file, entry, missing in found
        for field, language in missing
    ]


def iter_spoiler_facts(pack: DataPack) -> Iterator[tuple[str, SpoilerFact | ReturnSpoiler]]:
    """Every spoiler fact in the pack with where it lives (used by checks and tests).

    FAQ answers marked as spoilers are not here: see :func:`iter_spoiler_texts`.
    """
    for character in pack.characters:
        for name in ("series_fate", "webtoon_fate"):
            fate = getattr(character, name)
            if fate is not None:
                yield f"character {character.id}.{name}", fate
        for i, fact in enumerate(character.spoilers):
            yield f"character {character.id}.spoilers[{i}]", fact
        returning = character.season_2_spoiler()
        if returning is not None:
            yield f"character {character.id}.season_2", returning
    for section in ("series", "unclear", "webtoon", "differences", "aftermath"):
        for i, fact in enumerate(getattr(pack.survivors, section)):
            yield f"survivors.{section}[{i}]", fact


def iter_spoiler_texts(pack: DataPack, locale: Locale = None) -> Iterator[tuple[str, str, str]]:
    """``(where, label, hidden text)`` of everything the pack hides: spoiler facts, spoiler
    FAQ answers and adult notes that reveal plot, in the language of ``locale`` (English by
    default). What tests check no reader sees openly."""
    for where, fact in iter_spoiler_facts(pack):
        yield where, fact.tr("label", locale), fact.tr("text", locale)
    for entry in pack.faq:
        if entry.spoiler and entry.spoiler_label is not None:
            yield f"faq {entry.id}.answer", entry.tr("spoiler_label", locale), entry.tr("answer", locale)
    for i, note in enumerate(pack.survivors.adults):
        if note.spoiler_label is not None:
            yield f"survivors.adults[{i}]", note.tr("spoiler_label", locale), note.tr("text", locale)


def newest_source_date(pack: DataPack) -> dt.date | None:
    """The date of the pack's most recent dated source: how current its facts can be."""
    return max((source.date for source in pack.sources if source.date is not None), default=None)


STALE_AFTER_MONTHS = 6
"""A pack whose newest source is older than this is worth refreshing (``python -m bot check`` warns)."""


def is_stale(newest: dt.date | None, today: dt.date, *, months: int = STALE_AFTER_MONTHS) -> bool:
    """True when ``newest`` is more than ``months`` calendar months before ``today`` (or unknown)."""
    if newest is None:
        return True
    year, month = divmod(newest.month - 1 + months, 12)
    year += newest.year
    month += 1
    # The same day ``months`` later, or the month's last day when it has no such day.
    day = min(newest.day, _days_in_month(year, month))
    return today > dt.date(year, month, day)


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def referenced_sources(value: Any) -> Iterator[str]:
    """All source ids a model (or nested value) refers to, found by field name.

    A structural walk, independent of the validators, so tests can cross-check that no
    reference escaped validation.
    """
    if isinstance(value, BaseModel):
        for field_name in type(value).model_fields:
            item = getattr(value, field_name)
            if field_name in {"source", "description_source", "creators_source"} and isinstance(item, str):
                yield item
            elif field_name in {"name_sources", "actor_sources", "title_sources", "see_also"}:
                yield from item
            else:
                yield from referenced_sources(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from referenced_sources(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from referenced_sources(item)


def pack_entries(pack: DataPack) -> Iterator[tuple[str, str, BaseModel]]:
    """``(file, entry, model)`` for every entry that states facts, named as load errors name them."""
    for character in pack.characters:
        yield "characters.toml", f'character "{character.id}"', character
    for entry in pack.faq:
        yield "faq.toml", f'faq "{entry.id}"', entry
    yield "release.toml", "release window", pack.release.window
    for fact in pack.release.context:
        yield "release.toml", f'release context "{fact.id}"', fact
    for section in ("series", "unclear", "adults", "webtoon", "differences", "aftermath"):
        for index, item in enumerate(getattr(pack.survivors, section)):
            ident = getattr(item, "character", None) or getattr(item, "topic", None) or index
            yield "survivors.toml", f'survivors {section} "{ident}"', item
    yield "show.toml", "show", pack.show.show
    yield "show.toml", "platform", pack.show.platform


def source_audit(pack: DataPack, directory: Path, today: dt.date, *, months: int = STALE_AFTER_MONTHS) -> list[str]:
    """What ``python -m bot check`` lists so the pack's claims stay honest, one line each:

    sources without a date (their facts show no "as of") or without an address (a reader
    cannot check them), entries with no source, and entries whose newest source is more
    than ``months`` months old on ``today`` (their text may be out of date).
    """
    directory = Path(directory)
    sources = {source.id: source for source in pack.sources}
    lines = []
    for source in pack.sources:
        where = f'{directory / "sources.toml"}: source "{source.id}"'
        if source.date is None:
            lines.append(f'{where}: no date: facts from it show no "as of"')
        if source.url is None:
            lines.append(f"{where}: no address: a reader cannot check it")
    for file, entry, model in pack_entries(pack):
        where = f"{directory / file}: {entry}"
        cited = [sources[i] for i in dict.fromkeys(referenced_sources(model)) if i in sources]
        if not cited:
            lines.append(f"{where}: no source")
            continue
        dates = [source.date for source in cited if source.date is not None]
        if not dates:
            undated = ", ".join(source.id for source in cited)
            lines.append(f"{where}: only undated sources ({undated})")
        elif is_stale(max(dates), today, months=months):
            lines.append(f"{where}: newest source {max(dates).isoformat()} is more than {months} months old")
    return lines
