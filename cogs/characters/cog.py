"""/character, /cast and /faq: parse what was typed, look it up, render, respond.

Lookups run against an in-memory :class:`Catalog` built from the store at start-up and
rebuilt when the bot's data pack object is replaced (a reload), so autocomplete never
touches the database.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.datapack import Character, FaqEntry
from bot.errors import Trusted, UserError, guarded_autocomplete
from bot.i18n import Counted, Locale, cmd, language_of, localized_options, t
from bot.installs import offered_everywhere
from bot.spoilers import (
    Reveal,
    SpoilerContext,
    register_reveal_provider,
    spoilers_for,
    unregister_reveal_provider,
)

from .catalog import Catalog
from .query import QUERY_LIMIT, check_query
from .render import character_embed, choice_label, faq_choice_label, faq_embed, has_spoilers, join_alternatives
from .repo import load_stored_pack
from .roster import roster_embed
from .search import Match
from .views import CastPageButton, cast_view

if TYPE_CHECKING:
    from bot.client import HyosanBot

log = logging.getLogger(__name__)


REVEAL_CHARACTER = "character"
REVEAL_FAQ = "faq"
MAX_CHOICES = 25


class CharactersCog(commands.Cog, name="Characters"):
    """Character lookup, the cast roster and the FAQ, all read from the data pack."""

    def __init__(self, bot: HyosanBot) -> None:
        self.bot = bot
        self._catalog: Catalog | None = None
        self._built_from: object | None = None
        # Character cards per (id, spoilers open, language): built once per catalog, sent as is.
        self._embeds: dict[tuple[str, bool, str], discord.Embed] = {}

    async def cog_load(self) -> None:
        await self.current_catalog()
        register_reveal_provider(REVEAL_CHARACTER, self._reveal_character)
        register_reveal_provider(REVEAL_FAQ, self._reveal_faq)
        self.bot.add_dynamic_items(CastPageButton)

    async def cog_unload(self) -> None:
        unregister_reveal_provider(REVEAL_CHARACTER)
        unregister_reveal_provider(REVEAL_FAQ)
        self.bot.remove_dynamic_items(CastPageButton)

    async def current_catalog(self) -> Catalog:
        """The catalog of the pack the bot holds now; rebuilt from the store when that pack changed."""
        pack = self.bot.pack
        if self._catalog is None or self._built_from is not pack:
            async with self.bot.store.read() as conn:
                stored = await load_stored_pack(conn)
            self._catalog = Catalog.build(stored)
            self._built_from = pack
            self._embeds.clear()
            log.info(
                "character index built: %d characters, %d FAQ entries",
                len(stored.characters),
                len(stored.faq),
            )
        return self._catalog

    # ------------------------------------------------------------------ /character

    @offered_everywhere
    @app_commands.command(name=cmd("characters.lookup.name"), description=cmd("characters.lookup.description"))
    @localized_options("characters.lookup", name=("name_option", "name_option_description"))
    async def character(self, interaction: discord.Interaction[Any], name: str) -> None:
        catalog = await self.current_catalog()
        character = self._resolve_character(catalog, name, interaction.locale)
        spoilers = await spoilers_for(self.bot, interaction)
        key = (character.id, spoilers.openly, language_of(interaction.locale))
        embed = self._embeds.get(key)
        if embed is None:
            embed = self._embeds[key] = character_embed(character, catalog.sources, spoilers, interaction.locale)
        view = spoilers.reveal_view(REVEAL_CHARACTER, character.id) if has_spoilers(character) else None
        await _send(interaction, embed, view)

    @character.autocomplete("name")
    @guarded_autocomplete
    async def character_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        catalog = await self.current_catalog()
        if check_query(current) in ("too_long", "markup"):
            return []
        matches = catalog.character_index.suggest(current, limit=MAX_CHOICES)
        return [
            app_commands.Choice(name=choice_label(catalog.characters[m.id], interaction.locale), value=m.id)
            for m in matches
        ]

    def _resolve_character(self, catalog: Catalog, text: str, locale: Locale) -> Character:
        """A chosen suggestion (its value is the id), or free text resolved by the index."""
        chosen = catalog.characters.get(text)
        if chosen is not None:
            return chosen
        problem = check_query(text)
        if problem == "empty":
            examples = [
                discord.utils.escape_markdown(c.tr("name", locale)) for c in list(catalog.characters.values())[:2]
            ]
            raise UserError("characters.lookup.empty", examples=Trusted(join_alternatives(examples, locale)))
        if problem == "too_long":
            raise UserError(
                "characters.lookup.too_long",
                length=Counted("units.characters", len(text.strip())),
                limit=Counted("units.characters", QUERY_LIMIT),
            )
        if problem == "markup":
            raise UserError("characters.lookup.markup")
        resolution = catalog.character_index.resolve(text)
        if resolution.match is not None:
            return catalog.characters[resolution.match.id]
        names = self._quoted_names(catalog, resolution.suggestions, locale)
        if resolution.ambiguous:
            raise UserError("characters.lookup.ambiguous", query=text, suggestions=Trusted(names))
        if resolution.suggestions:
            raise UserError("characters.lookup.no_match_suggestions", query=text, suggestions=Trusted(names))
        raise UserError("characters.lookup.no_match_nothing_close", query=text)

    @staticmethod
    def _quoted_names(catalog: Catalog, matches: tuple[Match, ...], locale: Locale) -> str:
        names = [
            t(
                "characters.quoted",
                locale,
                text=discord.utils.escape_markdown(catalog.characters[m.id].tr("name", locale)),
            )
            for m in matches
        ]
        return join_alternatives(names, locale)

    async def _reveal_character(self, bot: HyosanBot, key: str, locale: Locale) -> Reveal | None:
        catalog = await self.current_catalog()
        character = catalog.characters.get(key)
        if character is None:
            return None
        return Reveal(embeds=(character_embed(character, catalog.sources, SpoilerContext.revealed(locale), locale),))

    # ------------------------------------------------------------------ /cast

    @offered_everywhere
    @app_commands.command(name=cmd("characters.cast.name"), description=cmd("characters.cast.description"))
    async def cast(self, interaction: discord.Interaction[Any]) -> None:
        catalog = await self.current_catalog()
        pages = len(catalog.roster)
        embed = roster_embed(catalog.roster[0], pages, len(catalog.characters), interaction.locale)
        view = cast_view(interaction.user.id, 0, pages, catalog.short_fingerprint, interaction.locale)
        await _send(interaction, embed, view)

    # ------------------------------------------------------------------ /faq

    @offered_everywhere
    @app_commands.command(name=cmd("characters.faq.name"), description=cmd("characters.faq.description"))
    @localized_options("characters.faq", topic=("topic_option", "topic_option_description"))
    async def faq(self, interaction: discord.Interaction[Any], topic: str) -> None:
        catalog = await self.current_catalog()
        entry = self._resolve_faq(catalog, topic, interaction.locale)
        spoilers = await spoilers_for(self.bot, interaction)
        embed = faq_embed(entry, catalog.sources, spoilers, interaction.locale)
        view = spoilers.reveal_view(REVEAL_FAQ, entry.id) if entry.spoiler else None
        await _send(interaction, embed, view)

    @faq.autocomplete("topic")
    @guarded_autocomplete
    async def faq_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        catalog = await self.current_catalog()
        if check_query(current) in ("too_long", "markup"):
            return []
        matches = catalog.faq_index.suggest(current, limit=MAX_CHOICES)
        return [
            app_commands.Choice(name=faq_choice_label(catalog.faq[m.id], interaction.locale), value=m.id)
            for m in matches
        ]

    def _resolve_faq(self, catalog: Catalog, text: str, locale: Locale) -> FaqEntry:
        chosen = catalog.faq.get(text)
        if chosen is not None:
            return chosen
        problem = check_query(text)
        if problem == "empty":
            raise UserError("characters.faq.empty", topics=Trusted(self._quoted_topics(catalog, (), locale)))
        if problem == "too_long":
            raise UserError("characters.faq.too_long", length=Counted("units.characters", len(text.strip())))
        if problem == "markup":
            raise UserError("characters.faq.markup")
        resolution = catalog.faq_index.resolve(text)
        if resolution.match is None:
            topics = self._quoted_topics(catalog, resolution.suggestions, locale)
            raise UserError("characters.faq.unknown", topic=text, topics=Trusted(topics))
        return catalog.faq[resolution.match.id]

    @staticmethod
    def _quoted_topics(catalog: Catalog, matches: tuple[Match, ...], locale: Locale) -> str:
        """The closest topics, or the first three when nothing is close."""
        entries = [catalog.faq[m.id] for m in matches] or list(catalog.faq.values())[:3]
        quoted = [
            t("characters.quoted", locale, text=discord.utils.escape_markdown(faq_choice_label(e, locale)))
            for e in entries
        ]
        return join_alternatives(quoted, locale)

    async def _reveal_faq(self, bot: HyosanBot, key: str, locale: Locale) -> Reveal | None:
        catalog = await self.current_catalog()
        entry = catalog.faq.get(key)
        if entry is None:
            return None
        return Reveal(embeds=(faq_embed(entry, catalog.sources, SpoilerContext.revealed(locale), locale),))


async def _send(interaction: discord.Interaction[Any], embed: discord.Embed, view: discord.ui.View | None) -> None:
    """A public answer, with the view only when there is one."""
    if view is None:
        await interaction.response.send_message(embed=embed)
    else:
        await interaction.response.send_message(embed=embed, view=view)
