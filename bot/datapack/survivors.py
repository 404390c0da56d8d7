"""``survivors.toml``: who survived the series and the webtoon, held equal to the characters' fates."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from bot.datapack.base import CharacterRef, PackModel, ShortLabel, SourceRef, Text, Translated
from bot.datapack.sources import SpoilerFact


class CharacterSpoiler(SpoilerFact):
    """A spoiler about one character (how they survived, why their fate is unclear)."""

    character: CharacterRef


class AdultNote(Translated):
    """What an adult did in the outbreak; a spoiler only when it reveals plot."""

    TRANSLATED = ("text", "spoiler_label")

    character: CharacterRef
    text: Text
    source: SourceRef
    spoiler_label: ShortLabel | None = None


class Difference(SpoilerFact):
    """One way the webtoon and the series differ; ``topic`` is a spoiler-free heading."""

    TRANSLATED = ("topic", "label", "text")

    topic: ShortLabel


def _fate_status(info: ValidationInfo, which: str, character: str) -> str | None:
    characters = info.context.get("characters") if isinstance(info.context, dict) else None
    if characters is None:
        return None
    fate = getattr(characters[character], which)
    return fate.status if fate is not None else "none"


class Survivors(PackModel):
    """Who survived the series and the webtoon; lists must agree with the characters' fates."""

    series: tuple[CharacterSpoiler, ...] = Field(min_length=1)
    unclear: tuple[CharacterSpoiler, ...] = ()
    adults: tuple[AdultNote, ...] = ()
    webtoon: tuple[CharacterSpoiler, ...] = Field(min_length=1)
    differences: tuple[Difference, ...] = ()
    aftermath: tuple[SpoilerFact, ...] = ()

    @field_validator("series", "unclear", "webtoon", "adults")
    @classmethod
    def _no_duplicates(
        cls, value: tuple[CharacterSpoiler, ...] | tuple[AdultNote, ...]
    ) -> tuple[CharacterSpoiler, ...] | tuple[AdultNote, ...]:
        seen: set[str] = set()
        for entry in value:
            if entry.character in seen:
                raise ValueError(f'character "{entry.character}" is listed twice')
            seen.add(entry.character)
        return value

    @field_validator("series", "unclear", "webtoon")
    @classmethod
    def _agree_with_fates(
        cls, value: tuple[CharacterSpoiler, ...], info: ValidationInfo
    ) -> tuple[CharacterSpoiler, ...]:
        """The survivor lists and each character's fate are written twice; keep them equal."""
        characters = info.context.get("characters") if isinstance(info.context, dict) else None
        if characters is None:
            return value
        which, wanted = {
            "series": ("series_fate", "survived"),
            "unclear": ("series_fate", "unclear"),
            "webtoon": ("webtoon_fate", "survived"),
        }[str(info.field_name)]
        listed = {entry.character for entry in value}
        for entry in value:
            status = _fate_status(info, which, entry.character)
            if status != wanted:
                raise ValueError(f'"{entry.character}" is listed here but its {which} status is "{status}"')
        for cid in characters:
            if cid not in listed and _fate_status(info, which, cid) == wanted:
                raise ValueError(f'"{cid}" has {which} status "{wanted}" but is not listed here')
        return value
