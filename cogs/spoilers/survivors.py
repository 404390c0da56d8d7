"""/survivors as plain data: which facts the series, the webtoon or the comparison shows.

Every fate goes through the shared :class:`~bot.spoilers.SpoilerContext`, so the same
page is hidden behind bars, shown openly in a spoiler channel, or unwrapped in a
private reveal. Only what the data pack says is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from bot.datapack import CharacterSpoiler, DataPack
from bot.i18n import t
from bot.spoilers import FIELD_VALUE_LIMIT, SpoilerContext, join_lines_within

Version = Literal["series", "webtoon", "compare"]
VERSIONS: tuple[Version, ...] = get_args(Version)
DEFAULT_VERSION: Version = "series"
#: The reveal button's kind; its key is the version.
REVEAL_KIND = "survivors"


@dataclass(frozen=True, slots=True)
class Section:
    """One embed field: a spoiler-free heading and the lines under it."""

    heading: str
    body: str


@dataclass(frozen=True, slots=True)
class SurvivorsPage:
    title: str
    notice: str
    sections: tuple[Section, ...]
    footer: str


def parse_version(value: str | None) -> Version | None:
    """The version named by a command option or a reveal key; None when it is not one."""
    if value is None:
        return DEFAULT_VERSION
    return next((version for version in VERSIONS if version == value), None)


def survivors_page(pack: DataPack, version: Version, spoilers: SpoilerContext, *, notice: str) -> SurvivorsPage:
    """The page for one version, rendered for where it is shown."""
    locale = spoilers.locale
    names = {character.id: character.name for character in pack.characters}
    survivors = pack.survivors
    sources: list[str] = []

    def entries(items: Iterable[CharacterSpoiler]) -> list[str]:
        lines = []
        for item in items:
            sources.append(item.source)
            text = t("spoilers.survivors.entry", locale, name=names.get(item.character, item.character), text=item.text)
            lines.append(spoilers.text(item.label, text, limit=FIELD_VALUE_LIMIT))
        return lines

    raw_sections: list[tuple[str, list[str]]] = []
    if version == "series":
        # One section for every student, whatever their fate: a heading that sorts them
        # ("Fate unclear") would tell the cliffhanger without a click.
        raw_sections.append(("section_series", entries([*survivors.series, *survivors.unclear])))
        adults = []
        for note in survivors.adults:
            sources.append(note.source)
            name = spoilers.plain(names.get(note.character, note.character))
            if note.spoiler_label is None:
                adults.append(t("spoilers.survivors.adult_open", locale, name=name, text=spoilers.plain(note.text)))
            else:
                hidden = spoilers.text(note.spoiler_label, note.text, limit=FIELD_VALUE_LIMIT - len(name) - 2)
                adults.append(t("spoilers.survivors.adult_hidden", locale, name=name, spoiler=hidden))
        raw_sections.append(("section_adults", adults))
        aftermath = []
        for fact in survivors.aftermath:
            sources.append(fact.source)
            aftermath.append(spoilers.fact(fact, limit=FIELD_VALUE_LIMIT))
        raw_sections.append(("section_aftermath", aftermath))
    elif version == "webtoon":
        raw_sections.append(("section_webtoon", entries(survivors.webtoon)))
    else:
        differences = []
        for difference in survivors.differences:
            sources.append(difference.source)
            topic = spoilers.plain(difference.topic)
            hidden = spoilers.fact(difference, limit=FIELD_VALUE_LIMIT - len(topic) - 2)
            differences.append(t("spoilers.survivors.difference", locale, topic=topic, spoiler=hidden))
        raw_sections.append(("section_differences", differences))

    more = t("spoilers.more_lines", locale)
    sections = tuple(
        Section(
            heading=t(f"spoilers.survivors.{key}", locale),
            body=join_lines_within(lines, FIELD_VALUE_LIMIT, more=more),
        )
        for key, lines in raw_sections
        if lines
    )
    return SurvivorsPage(
        title=t(f"spoilers.survivors.title_{version}", locale),
        notice=notice,
        sections=sections,
        footer=t(
            "spoilers.survivors.footer",
            locale,
            sources="; ".join(source_titles(pack, sources)),
            as_of=pack.show.pack.as_of.isoformat(),
        ),
    )


def source_titles(pack: DataPack, source_ids: Iterable[str]) -> list[str]:
    """Titles of the sources used, each once, in the order first used."""
    titles = {source.id: source.title for source in pack.sources}
    return [titles.get(source_id, source_id) for source_id in dict.fromkeys(source_ids)]
