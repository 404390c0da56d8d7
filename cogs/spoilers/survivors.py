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
from bot.i18n import Locale, format_day, t
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
    names = {character.id: character.tr("name", locale) for character in pack.characters}
    survivors = pack.survivors
    sources: list[str] = []

    def entries(items: Iterable[CharacterSpoiler]) -> list[str]:
        lines = []
        for item in items:
            sources.append(item.source)
            name = names.get(item.character, item.character)
            text = t("spoilers.survivors.entry", locale, name=name, text=item.tr("text", locale))
            lines.append(spoilers.text(item.tr("label", locale), text, limit=FIELD_VALUE_LIMIT))
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
            note_text = note.tr("text", locale)
            if note.spoiler_label is None:
                adults.append(t("spoilers.survivors.adult_open", locale, name=name, text=spoilers.plain(note_text)))
            else:
                label = note.tr("spoiler_label", locale)
                hidden = spoilers.text(label, note_text, limit=FIELD_VALUE_LIMIT - len(name) - 2)
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
            topic = spoilers.plain(difference.tr("topic", locale))
            hidden = spoilers.fact(difference, limit=FIELD_VALUE_LIMIT - len(topic) - 2)
            differences.append(t("spoilers.survivors.difference", locale, topic=topic, spoiler=hidden))
        raw_sections.append(("section_differences", differences))

    sections = tuple(
        Section(
            heading=t(f"spoilers.survivors.{key}", locale),
            body=join_lines_within(
                lines, FIELD_VALUE_LIMIT, more=lambda count: t("spoilers.more_lines", locale, count=count)
            ),
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
            sources="; ".join(source_titles(pack, sources, locale)),
            as_of=format_day(pack.show.pack.as_of, locale),
        ),
    )


def source_titles(pack: DataPack, source_ids: Iterable[str], locale: Locale = None) -> list[str]:
    """Titles of the sources used, each once, in the order first used, in the reader's language."""
    titles = {source.id: source.tr("title", locale) for source in pack.sources}
    return [titles.get(source_id, source_id) for source_id in dict.fromkeys(source_ids)]
