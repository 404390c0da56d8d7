"""``/settings language set/show``: which language the bot's own posts use in a server."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import HyosanBot
from bot.errors import UserError
from bot.i18n import cmd, language_name, languages, localized_options, t
from bot.language import describe_public_language, server_locale
from bot.moderation import SettingsSubgroup
from bot.store.schema import guild_languages
from cogs.language.repo import GUILD_LANGUAGE, write_guild_language

#: The choice that removes a moderator's choice: posts follow the server's language in Discord.
FOLLOW_SERVER = "server"

LANGUAGE_CHOICES = [
    app_commands.Choice(name=cmd("language.settings.choice_server"), value=FOLLOW_SERVER),
    *(app_commands.Choice(name=language_name(language), value=language) for language in languages()),
]


def _guild_id(interaction: discord.Interaction[Any]) -> int:
    if interaction.guild_id is None:
        raise UserError("errors.guild_only")
    return interaction.guild_id


class LanguageSettingsGroup(SettingsSubgroup):
    """``/settings language``."""

    def __init__(self, bot: HyosanBot) -> None:
        super().__init__(name=cmd("language.settings.name"), description=cmd("language.settings.description"))
        self.bot = bot

    @app_commands.command(name=cmd("language.settings.set_name"), description=cmd("language.settings.set_description"))
    @localized_options("language.settings", "language")
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def set_language(self, interaction: discord.Interaction[Any], language: str) -> None:
        guild_id = _guild_id(interaction)
        chosen = None if language == FOLLOW_SERVER else language
        await write_guild_language(self.bot.store, guild_id, chosen)
        locale = interaction.locale
        if chosen is None:
            text = t(
                "language.settings.following_server",
                locale,
                language=language_name(server_locale(self.bot, guild_id) or interaction.guild_locale),
            )
        else:
            text = t("language.settings.chosen", locale, language=language_name(chosen))
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(
        name=cmd("language.settings.show_name"), description=cmd("language.settings.show_description")
    )
    async def show_language(self, interaction: discord.Interaction[Any]) -> None:
        guild_id = _guild_id(interaction)
        await interaction.response.send_message(
            await describe_public_language(self.bot, guild_id, interaction.locale), ephemeral=True
        )


class LanguageCog(commands.Cog):
    def __init__(self, bot: HyosanBot) -> None:
        self.bot = bot
        self.settings_group = LanguageSettingsGroup(bot)

    async def cog_load(self) -> None:
        self.bot.settings_group.add_command(self.settings_group)
        self.bot.guild_keeper.keep(guild_languages, GUILD_LANGUAGE)
        self.bot.chosen_languages.register(self.chosen_language)

    async def cog_unload(self) -> None:
        self.bot.settings_group.remove_command(self.settings_group.name)
        self.bot.guild_keeper.release(guild_languages)
        self.bot.chosen_languages.release()

    async def chosen_language(self, guild_id: int) -> str | None:
        return await self.bot.store.recall(GUILD_LANGUAGE, guild_id)
