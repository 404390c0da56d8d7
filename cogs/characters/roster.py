"""The /cast roster split into pages: every character with their actor, grouped, no fates.

Pages are decided from the characters alone (which character on which page), so the
page a button points at is the same after a restart; headings and lines are rendered
per reader. A group is kept on one page when it fits, and continued otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import discord

from bot.datapack import Character, name_key
from bot.i18n import Locale, t

from .render import plain

__all__ = ["GROUP_ORDER", "PER_PAGE", "RosterPage", "paginate_roster", "roster_embed"]


GROUP_ORDER: tuple[str, ...] = ("students", "teachers", "others", "season_2")
ROLE_SHOWN_IN: frozenset[str] = frozenset({"others", "season_2"})
"""Groups whose heading does not already say the role, so each line does."""
PER_PAGE = 8
"""Characters per page: short enough to read on a phone without scrolling."""

FIELD_VALUE_LIMIT = 1024
LINE_BUDGET = 200
"""One roster line at most; 8 lines and headings stay far below the 6,000-character embed total."""


@dataclass(frozen=True, slots=True)
class RosterSection:
    """One group's characters on one page; ``continued`` when the group began on an earlier page."""

    group: str
    characters: tuple[Character, ...]
    continued: bool = False


@dataclass(frozen=True, slots=True)
class RosterPage:
    number: int
    sections: tuple[RosterSection, ...]


def paginate_roster(characters: Sequence[Character], per_page: int = PER_PAGE) -> tuple[RosterPage, ...]:
    """Pages of at most ``per_page`` characters in group order, then by name within a group.

    By name, not pack order, so no order of the file (survivors first, say) can sort the
    roster by fate: where a name stands says nothing of what happens to them.

    A group that does not fit in what is left of a page starts a new page if it would fit
    there whole; a group larger than a page is split and marked as continued.
    """
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    pages: list[list[RosterSection]] = [[]]
    used = 0
    for group in GROUP_ORDER:
        members = sorted((c for c in characters if c.group == group), key=lambda c: name_key(c.name))
        if not members:
            continue
        if used and used + len(members) > per_page and len(members) <= per_page:
            pages.append([])
            used = 0
        continued = False
        while members:
            if used == per_page:
                pages.append([])
                used = 0
            take = members[: per_page - used]
            members = members[len(take) :]
            pages[-1].append(RosterSection(group, tuple(take), continued))
            used += len(take)
            continued = True
    return tuple(RosterPage(number, tuple(sections)) for number, sections in enumerate(pages) if sections)


def roster_line(character: Character, locale: Locale) -> str:
    """ "**Name** (Hangul) — Actor", with the role where the group does not already say it."""
    actor = character.tr("actor", locale) or t("characters.cast.actor_unknown", locale)
    values = {"name": plain(character.name, 80), "actor": plain(actor, 80)}
    if character.hangul:
        line = t("characters.cast.line", locale, hangul=plain(character.hangul, 40), **values)
    else:
        line = t("characters.cast.line_no_hangul", locale, **values)
    if character.group in ROLE_SHOWN_IN:
        line = t("characters.cast.line_role", locale, line=line, role=t(f"characters.role.{character.role}", locale))
    return line[:LINE_BUDGET]


def _section_fields(section: RosterSection, locale: Locale) -> list[tuple[str, str]]:
    """One field per section, split into more fields if the lines would pass 1,024 characters."""
    group = t(f"characters.group.{section.group}", locale)
    values: list[str] = []
    lines: list[str] = []
    for line in (roster_line(c, locale) for c in section.characters):
        if lines and len("\n".join([*lines, line])) > FIELD_VALUE_LIMIT:
            values.append("\n".join(lines))
            lines = []
        lines.append(line)
    if lines:
        values.append("\n".join(lines))
    return [
        (t("characters.group.continued", locale, group=group) if section.continued or i else group, value)
        for i, value in enumerate(values)
    ]


def roster_embed(page: RosterPage, pages: int, total: int, locale: Locale) -> discord.Embed:
    """The embed of one page; spoiler-free by construction (no fate field is ever read)."""
    embed = discord.Embed(title=t("characters.cast.title", locale))
    for section in page.sections:
        for name, value in _section_fields(section, locale):
            embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=t("characters.cast.footer", locale, page=page.number + 1, pages=pages, count=total))
    return embed
