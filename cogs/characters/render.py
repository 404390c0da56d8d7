"""Embeds and labels for /character and /faq, from data-pack models and a spoiler context.

Pure: no store, no interaction. Every spoiler goes through the shared
:class:`~bot.spoilers.SpoilerContext`, so the same function draws the public answer
(bars outside spoiler channels) and the private reveal (``SpoilerContext.revealed``).
Each part of an embed has a fixed character budget whose sum stays under Discord's
6,000-character total, so no combination of long pack texts can exceed it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import discord

from bot.datapack import Character, FaqEntry, Source, SpoilerFact
from bot.i18n import Locale, format_day, t
from bot.spoilers import FIELD_VALUE_LIMIT, SpoilerContext, join_lines_within

__all__ = [
    "CHOICE_LIMIT",
    "character_embed",
    "choice_label",
    "cite",
    "faq_choice_label",
    "faq_embed",
    "join_alternatives",
    "plain",
]


CHOICE_LIMIT = 100
"""Discord's limit for an autocomplete choice's name (and value)."""

# Budgets per embed part (Discord: title 256, description 4096, field 1024, footer 2048,
# 6000 in all). Their sum with field names stays below 6000 by a wide margin.
TITLE_BUDGET = 256
DESCRIPTION_BUDGET = 1500
SEASON_2_BUDGET = 700
FATE_BUDGET = 900
MORE_SPOILERS_BUDGET = 900
FOOTER_BUDGET = 400
ANSWER_BUDGET = 4000


def plain(text: str, limit: int) -> str:
    """Pack text shown as is (names, titles): markdown escaped, cut to ``limit`` with "…"."""
    escaped = discord.utils.escape_markdown(" ".join(text.split()))
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1].rstrip()
    return cut.rstrip("\\") + "…"


def _truncate(text: str, limit: int) -> str:
    """For labels that Discord shows without markdown (autocomplete): cut only."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def join_alternatives(items: Sequence[str], locale: Locale) -> str:
    """ "A, B or C" in the reader's language."""
    if not items:
        return t("characters.none", locale)
    if len(items) == 1:
        return items[0]
    head = t("characters.list_separator", locale).join(items[:-1])
    return head + t("characters.list_last_separator", locale) + items[-1]


def cite(source: Source, locale: Locale) -> str:
    """A source as the bot names it everywhere: title, linked when it has an address, and its date."""
    title = plain(source.tr("title", locale), 200)
    date = format_day(source.date, locale) if source.date else None
    if source.url:
        key = "characters.source_linked_dated" if date else "characters.source_linked_undated"
        return t(key, locale, title=title, url=source.url, date=date)
    key = "characters.source_dated" if date else "characters.source_undated"
    return t(key, locale, title=title, date=date)


def _sources_footer(source_ids: Sequence[str], sources: Mapping[str, Source], locale: Locale) -> str:
    """ "Sources: …" with each source once; footers show no markdown, so titles stay plain."""
    unique = [sources[i] for i in dict.fromkeys(source_ids) if i in sources]
    parts = []
    for source in unique:
        date = format_day(source.date, locale) if source.date else None
        key = "characters.source_dated" if date else "characters.source_undated"
        parts.append(t(key, locale, title=" ".join(source.tr("title", locale).split()), date=date))
    return _truncate(t("characters.sources_footer", locale, sources="; ".join(parts)), FOOTER_BUDGET)


# ---------------------------------------------------------------------------
# /character
# ---------------------------------------------------------------------------


def choice_label(character: Character, locale: Locale) -> str:
    """An autocomplete choice: names and actor only, which are never spoilers."""
    values = {"name": character.name, "hangul": character.hangul, "actor": character.tr("actor", locale)}
    if character.actor and character.hangul:
        key = "characters.lookup.choice_with_actor"
    elif character.actor:
        key = "characters.lookup.choice_with_actor_no_hangul"
    elif character.hangul:
        key = "characters.lookup.choice_no_actor"
    else:
        key = "characters.lookup.choice_name_only"
    label = _truncate(" ".join(t(key, locale, **values).split()), CHOICE_LIMIT)
    return label or _truncate(character.id, CHOICE_LIMIT)


def _character_title(character: Character, locale: Locale) -> str:
    if character.hangul:
        return plain(
            t("characters.lookup.title_with_hangul", locale, name=character.name, hangul=character.hangul),
            TITLE_BUDGET,
        )
    return plain(t("characters.lookup.title", locale, name=character.name), TITLE_BUDGET)


def _actor_value(character: Character, locale: Locale) -> str:
    if character.actor is None:
        return t("characters.lookup.actor_unknown", locale)
    if character.actor_hangul:
        text = t("characters.lookup.actor_value", locale, actor=character.actor, hangul=character.actor_hangul)
        return plain(text, FIELD_VALUE_LIMIT)
    return plain(character.actor, FIELD_VALUE_LIMIT)


def _season_2_value(
    character: Character, sources: Mapping[str, Source], spoilers: SpoilerContext, locale: Locale
) -> str:
    """The status with its source and note; behind bars when it answers a season 1 fate."""
    status = t(f"characters.return_status.{character.season_2.status}", locale)
    source = sources.get(character.season_2.source) if character.season_2.source else None
    returning = character.season_2_spoiler()
    if returning is not None:
        # One spoiler line: the status, who says so and the note, all hidden together.
        said = _source_words(source, locale) if source is not None else None
        key = "characters.lookup.season_2_value_sourced" if said else "characters.lookup.season_2_value"
        hidden = t(key, locale, status=status, source=said)
        if character.season_2.note:
            note = character.season_2.tr("note", locale)
            hidden = t("characters.lookup.season_2_hidden", locale, status=hidden, note=note)
        return spoilers.text(character.season_2.tr("label", locale), hidden, limit=SEASON_2_BUDGET)
    if source is not None:
        first = t("characters.lookup.season_2_value_sourced", locale, status=status, source=cite(source, locale))
    else:
        first = t("characters.lookup.season_2_value", locale, status=status)
    lines = [first]
    if character.season_2.note:
        note = character.season_2.tr("note", locale)
        lines.append(t("characters.lookup.season_2_note", locale, text=plain(note, 500)))
    return join_lines_within(lines, SEASON_2_BUDGET, more=None)


def _source_words(source: Source, locale: Locale) -> str:
    """A source named in plain words (for text that the spoiler renderer escapes itself)."""
    title = " ".join(source.tr("title", locale).split())
    if source.date:
        return t("characters.source_dated", locale, title=title, date=format_day(source.date, locale))
    return t("characters.source_undated", locale, title=title)


def _fate_value(fate: SpoilerFact | None, spoilers: SpoilerContext, locale: Locale) -> str:
    """The fate behind bars (or openly); its source is named in the footer with the others."""
    if fate is None:
        return t("characters.lookup.fate_not_recorded", locale)
    return spoilers.fact(fate, limit=FATE_BUDGET)


def character_embed(
    character: Character,
    sources: Mapping[str, Source],
    spoilers: SpoilerContext,
    locale: Locale,
) -> discord.Embed:
    """The /character answer; fates and other spoilers only ever in field values."""
    embed = discord.Embed(
        title=_character_title(character, locale),
        description=plain(character.tr("description", locale), DESCRIPTION_BUDGET),
    )
    embed.add_field(name=t("characters.lookup.actor", locale), value=_actor_value(character, locale))
    embed.add_field(name=t("characters.lookup.role", locale), value=t(f"characters.role.{character.role}", locale))
    embed.add_field(
        name=t("characters.lookup.season_2", locale),
        value=_season_2_value(character, sources, spoilers, locale),
        inline=False,
    )
    embed.add_field(
        name=t("characters.lookup.series_fate", locale),
        value=_fate_value(character.series_fate, spoilers, locale),
        inline=False,
    )
    embed.add_field(
        name=t("characters.lookup.webtoon_fate", locale),
        value=_fate_value(character.webtoon_fate, spoilers, locale),
        inline=False,
    )
    if character.spoilers:
        lines = [spoilers.fact(fact, limit=MORE_SPOILERS_BUDGET) for fact in character.spoilers]
        embed.add_field(
            name=t("characters.lookup.more_spoilers", locale),
            value=join_lines_within(
                lines, MORE_SPOILERS_BUDGET, more=lambda count: t("characters.lookup.more_lines", locale, count=count)
            ),
            inline=False,
        )
    cited = [
        *character.name_sources,
        *character.actor_sources,
        character.description_source,
        *((character.season_2.source,) if character.season_2.source else ()),
        *(fact.source for fact in (character.series_fate, character.webtoon_fate, *character.spoilers) if fact),
    ]
    embed.set_footer(text=_sources_footer(cited, sources, locale))
    return embed


def has_spoilers(character: Character) -> bool:
    """Whether the answer hides anything, i.e. whether it needs a "Reveal privately" button."""
    return bool(character.series_fate or character.webtoon_fate or character.spoilers or character.season_2_spoiler())


# ---------------------------------------------------------------------------
# /faq
# ---------------------------------------------------------------------------


def faq_choice_label(entry: FaqEntry, locale: Locale) -> str:
    """An FAQ autocomplete choice: the title, which the pack keeps spoiler-free."""
    return _truncate(" ".join(entry.tr("title", locale).split()), CHOICE_LIMIT)


def faq_embed(
    entry: FaqEntry, sources: Mapping[str, Source], spoilers: SpoilerContext, locale: Locale
) -> discord.Embed:
    """The /faq answer: the question as title, the answer (hidden if it spoils), its sources and date."""
    text = entry.tr("answer", locale)
    if entry.spoiler and entry.spoiler_label:
        answer = spoilers.text(entry.tr("spoiler_label", locale), text, limit=ANSWER_BUDGET)
    else:
        answer = spoilers.plain(text, limit=ANSWER_BUDGET)
    embed = discord.Embed(title=plain(entry.tr("question", locale), TITLE_BUDGET), description=answer)
    main = sources.get(entry.source)
    if main is not None:
        embed.add_field(name=t("characters.faq.source", locale), value=cite(main, locale), inline=False)
    further = [cite(sources[i], locale) for i in dict.fromkeys(entry.see_also) if i in sources and i != entry.source]
    if further:
        embed.add_field(
            name=t("characters.faq.see_also", locale),
            value=join_lines_within(further, FIELD_VALUE_LIMIT, more=None),
            inline=False,
        )
    if main is not None and main.date is not None:
        embed.set_footer(text=t("characters.as_of_footer", locale, date=format_day(main.date, locale)))
    return embed
