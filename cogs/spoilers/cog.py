"""/settings spoilers (moderators list spoiler channels), /survivors, and the settings clean-up."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import HyosanBot
from bot.errors import Trusted, UserError
from bot.i18n import cmd, language_of, localized_options, t
from bot.installs import offered_everywhere
from bot.moderation import SettingsSubgroup
from bot.spoilers import (
    Reveal,
    SpoilerContext,
    register_reveal_provider,
    spoilers_for,
    unregister_reveal_provider,
)
from bot.spoilers.policy import MAX_SPOILER_CHANNELS, ChannelKind, refusal_for_kind
from bot.spoilers.repo import (
    SPOILER_CHANNEL_IDS,
    AddResult,
    add_spoiler_channel,
    fetch_spoiler_channels,
    forget_channels_except,
    forget_missing,
    remove_spoiler_channel,
)
from bot.store.schema import spoiler_channels
from cogs.spoilers.survivors import REVEAL_KIND, VERSIONS, SurvivorsPage, Version, parse_version, survivors_page

log = logging.getLogger(__name__)

LIST_DESCRIPTION_LIMIT = 4096

_KINDS: dict[discord.ChannelType, ChannelKind] = {
    discord.ChannelType.text: "text",
    discord.ChannelType.news: "news",
    discord.ChannelType.forum: "forum",
    discord.ChannelType.media: "media",
    discord.ChannelType.category: "category",
    discord.ChannelType.public_thread: "thread",
    discord.ChannelType.private_thread: "thread",
    discord.ChannelType.news_thread: "thread",
    discord.ChannelType.voice: "voice",
    discord.ChannelType.stage_voice: "stage",
}


def channel_kind(channel: Any) -> ChannelKind:
    return _KINDS.get(getattr(channel, "type", None), "other")  # type: ignore[arg-type]


def describe_channel(channel: Any) -> Trusted:
    """A channel as moderators recognise it: a mention, or a category's bold name."""
    if channel_kind(channel) == "category":
        return Trusted(f"**{discord.utils.escape_markdown(channel.name)}**")
    return Trusted(f"<#{channel.id}>")


class SpoilerChannelOption(app_commands.Transformer):
    """A channel option whose picker offers text channels, forums and categories.

    The value is passed on as resolved, whatever its type: the command explains a
    wrong type itself instead of a generic "bad option" (Discord's picker is only a hint).
    """

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        # Media channels (16) are accepted when sent but not offered: the Discord OpenAPI
        # spec the tests validate against does not know that type yet.
        return [
            discord.ChannelType.text,
            discord.ChannelType.news,
            discord.ChannelType.forum,
            discord.ChannelType.category,
        ]

    async def transform(self, interaction: discord.Interaction[Any], value: Any, /) -> Any:
        return value


SpoilerChannel = app_commands.Transform[Any, SpoilerChannelOption]


class SpoilerSettingsGroup(SettingsSubgroup):
    """``/settings spoilers``: add, remove and list the places where spoilers are open."""

    def __init__(self, bot: HyosanBot) -> None:
        super().__init__(name=cmd("spoilers.settings.name"), description=cmd("spoilers.settings.description"))
        self.bot = bot

    @app_commands.command(name=cmd("spoilers.settings.add_name"), description=cmd("spoilers.settings.add_description"))
    @localized_options("spoilers.settings", channel=("channel_option", "add_channel_description"))
    async def add(self, interaction: discord.Interaction[Any], channel: SpoilerChannel) -> None:
        assert interaction.guild is not None
        refusal = refusal_for_kind(channel_kind(channel))
        if refusal is not None:
            raise UserError(refusal, channel=describe_channel(channel))
        result = await add_spoiler_channel(
            self.bot.store,
            guild_id=interaction.guild.id,
            channel_id=channel.id,
            added_by=interaction.user.id,
            now=self.bot.clock(),
        )
        if result is AddResult.ALREADY_LISTED:
            raise UserError("spoilers.settings.already_listed", channel=describe_channel(channel))
        if result is AddResult.LIST_FULL:
            raise UserError("spoilers.settings.list_full", count=MAX_SPOILER_CHANNELS)
        key = "added_category" if channel_kind(channel) == "category" else "added"
        await interaction.response.send_message(
            t(f"spoilers.settings.{key}", interaction.locale, channel=describe_channel(channel)), ephemeral=True
        )

    @app_commands.command(
        name=cmd("spoilers.settings.remove_name"), description=cmd("spoilers.settings.remove_description")
    )
    @localized_options("spoilers.settings", channel=("channel_option", "remove_channel_description"))
    async def remove(self, interaction: discord.Interaction[Any], channel: SpoilerChannel) -> None:
        assert interaction.guild is not None
        removed = await remove_spoiler_channel(self.bot.store, guild_id=interaction.guild.id, channel_id=channel.id)
        if not removed:
            if channel.id in self.bot.discord_spoiler_channels:
                raise UserError("spoilers.settings.set_in_discord", channel=describe_channel(channel))
            raise UserError("spoilers.settings.not_listed", channel=describe_channel(channel))
        await interaction.response.send_message(
            t("spoilers.settings.removed", interaction.locale, channel=describe_channel(channel)), ephemeral=True
        )

    @app_commands.command(
        name=cmd("spoilers.settings.list_name"), description=cmd("spoilers.settings.list_description")
    )
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        guild = interaction.guild
        assert guild is not None
        dropped = await forget_channels_except(
            self.bot.store, guild.id, existing_channel_ids(guild), self.bot.ownership
        )
        async with self.bot.store.read() as conn:
            rows = await fetch_spoiler_channels(conn, guild.id)
        locale = interaction.locale
        listed = {row.channel_id for row in rows}
        marked_ids = self.bot.discord_spoiler_channels.in_guild(guild.id)
        in_discord = [channel for channel in guild.channels if channel.id in marked_ids and channel.id not in listed]
        if not rows and not in_discord:
            lines = [t("spoilers.settings.list_empty", locale)]
        else:
            lines = [t("spoilers.settings.list_intro", locale), ""]
            for row in rows:
                channel = guild.get_channel(row.channel_id)
                key = "list_category_line" if channel_kind(channel) == "category" else "list_channel_line"
                lines.append("• " + t(f"spoilers.settings.{key}", locale, channel=describe_channel(channel)))
            for marked in in_discord:
                line = t("spoilers.settings.list_discord_line", locale, channel=describe_channel(marked))
                lines.append("• " + line)
        if dropped:
            lines += ["", t("spoilers.settings.list_dropped", locale, count=len(dropped))]
        embed = discord.Embed(
            title=t("spoilers.settings.list_title", locale), description="\n".join(lines)[:LIST_DESCRIPTION_LIMIT]
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)


def existing_channel_ids(guild: discord.Guild) -> set[int]:
    return {channel.id for channel in guild.channels}


class GuildChannelIds(Mapping[int, set[int]]):
    """Each available guild's channel ids, read from the cache only when asked for.

    The start-up catch-up asks only about guilds that have spoiler settings; a set for
    every guild built up front cost about 2 kB a guild (20 MB with 10,000 guilds), at
    the moment the guild cache is largest.
    """

    def __init__(self, bot: discord.Client) -> None:
        self._bot = bot

    def __getitem__(self, guild_id: int) -> set[int]:
        guild = self._bot.get_guild(guild_id)
        if guild is None or guild.unavailable:
            raise KeyError(guild_id)
        return existing_channel_ids(guild)

    def __iter__(self) -> Iterator[int]:
        return (guild.id for guild in self._bot.guilds if not guild.unavailable)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def survivors_embed(page: SurvivorsPage) -> discord.Embed:
    """The page as an embed: spoiler-free title and headings; facts only in field values."""
    embed = discord.Embed(title=page.title, description=page.notice)
    for section in page.sections:
        embed.add_field(name=section.heading, value=section.body, inline=False)
    embed.set_footer(text=page.footer)
    return embed


async def reveal_survivors(bot: HyosanBot, key: str, locale: discord.Locale | str | None) -> Reveal | None:
    """The reveal provider of /survivors: the same page, unwrapped, for the presser only."""
    version = parse_version(key)
    if version is None:
        return None
    notice = t("spoilers.survivors.revealed_notice", locale)
    page = survivors_page(bot.pack, version, SpoilerContext.revealed(locale), notice=notice)
    return Reveal(embeds=(survivors_embed(page),))


class SpoilersCog(commands.Cog):
    """The spoiler settings, /survivors, and keeping the settings in step with the guilds."""

    def __init__(self, bot: HyosanBot) -> None:
        self.bot = bot
        self.settings_group = SpoilerSettingsGroup(bot)
        # Rendered /survivors pages: a pure function of the pack, version, openness and language.
        self._pages: dict[tuple[str, bool, str], SurvivorsPage] = {}
        self._pages_of: object | None = None

    async def cog_load(self) -> None:
        self.bot.settings_group.add_command(self.settings_group)
        register_reveal_provider(REVEAL_KIND, reveal_survivors)
        self.bot.guild_keeper.keep(spoiler_channels, SPOILER_CHANNEL_IDS)

    async def cog_unload(self) -> None:
        self.bot.settings_group.remove_command(self.settings_group.name)
        unregister_reveal_provider(REVEAL_KIND)
        self.bot.guild_keeper.release(spoiler_channels)

    @offered_everywhere
    @app_commands.command(name=cmd("spoilers.survivors.name"), description=cmd("spoilers.survivors.description"))
    @localized_options("spoilers.survivors", "version")
    @app_commands.choices(
        version=[
            app_commands.Choice(name=cmd(f"spoilers.survivors.choice_{version}"), value=version) for version in VERSIONS
        ]
    )
    async def survivors(
        self, interaction: discord.Interaction[Any], version: app_commands.Choice[str] | None = None
    ) -> None:
        chosen = parse_version(version.value if version else None)
        if chosen is None:
            raise UserError("errors.bad_option")
        spoilers = await spoilers_for(self.bot, interaction)
        page = self.survivors_page_for(chosen, spoilers, interaction.locale)
        await interaction.response.send_message(
            embed=survivors_embed(page), view=spoilers.reveal_view(REVEAL_KIND, chosen)
        )

    def survivors_page_for(
        self, version: Version, spoilers: SpoilerContext, locale: discord.Locale | str | None
    ) -> SurvivorsPage:
        """The page rendered once per pack, version, openness and language (rendering and
        escaping every fate was the largest cost of answering /survivors)."""
        if self._pages_of is not self.bot.pack:
            self._pages.clear()
            self._pages_of = self.bot.pack
        key = (version, spoilers.openly, language_of(locale))
        page = self._pages.get(key)
        if page is None:
            notice = t(f"spoilers.survivors.{'open_notice' if spoilers.openly else 'hidden_notice'}", locale)
            page = self._pages[key] = survivors_page(self.bot.pack, version, spoilers, notice=notice)
        return page

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """A deleted channel or category is dropped from its guild's list."""
        await remove_spoiler_channel(self.bot.store, guild_id=channel.guild.id, channel_id=channel.id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Catch up on channels deleted while the bot was offline, in the guilds it is in
        (guilds it left are the guild keeper's: bot/guilds.py)."""
        existing = GuildChannelIds(self.bot)
        try:
            dropped = await forget_missing(self.bot.store, existing, self.bot.ownership)
        except Exception:
            if self.bot.is_closed():
                log.info("shutting down; spoiler settings are checked again at the next start")
                return
            raise
        for guild_id, channel_ids in dropped.items():
            log.info("guild %s: dropped %d spoiler channels that are gone", guild_id, len(channel_ids))
