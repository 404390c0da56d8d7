"""Who reads which language: answers follow the member, the bot's own posts the server.

An interaction's answer is written in the member's ``locale``. What the bot posts on
its own (scheduled countdowns, release news, poll messages and their results) is read
by everyone there, so it uses the server's language: a moderator's choice from
``/settings language``, else the server's ``guild_locale``.

The choice is the language feature's (``cogs/language``, with its table); features that
post ask here, and the language feature registers how to read the choice
(:class:`ChosenLanguages`), because features never import each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.i18n import Locale, language_name, languages, t

if TYPE_CHECKING:
    from bot.client import HyosanBot

#: A server's chosen language by guild id (None: none chosen).
ChosenLanguageLookup = Callable[[int], Awaitable[str | None]]


class ChosenLanguages:
    """Where the core finds a moderator's choice; without the language feature there is none."""

    def __init__(self) -> None:
        self._lookup: ChosenLanguageLookup | None = None

    def register(self, lookup: ChosenLanguageLookup) -> None:
        self._lookup = lookup

    def release(self) -> None:
        self._lookup = None

    async def of(self, guild_id: int) -> str | None:
        """The chosen language, if it still has a catalog (a choice of a language since removed is ignored)."""
        if self._lookup is None:
            return None
        chosen = await self._lookup(guild_id)
        return chosen if chosen is not None and chosen in languages() else None


def server_locale(bot: HyosanBot, guild_id: int) -> str | None:
    """The server's language as Discord reports it (guild_locale), if the server is cached."""
    guild = bot.get_guild(guild_id)
    return str(guild.preferred_locale) if guild is not None else None


async def public_locale(bot: HyosanBot, guild_id: int) -> str | None:
    """The language of the bot's own posts in a server."""
    return await bot.chosen_languages.of(guild_id) or server_locale(bot, guild_id)


async def describe_public_language(bot: HyosanBot, guild_id: int, locale: Locale) -> str:
    """One line for settings pages: the posts' language and whether a moderator chose it."""
    chosen = await bot.chosen_languages.of(guild_id)
    shown = language_name(chosen or server_locale(bot, guild_id))
    if chosen is not None:
        return t("language.public_chosen", locale, language=shown)
    return t("language.public_server", locale, language=shown)
