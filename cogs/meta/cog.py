"""Slash commands about the bot itself."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import HyosanBot
from bot.i18n import cmd, t
from bot.installs import offered_everywhere
from bot.shards import shard_of
from cogs.meta.about import AboutCard, build_about

FIELD_VALUE_LIMIT = 1024


def render_about(card: AboutCard, locale: discord.Locale) -> discord.Embed:
    embed = discord.Embed(title=t("meta.about.title", locale), description=card.description)
    embed.add_field(name=t("meta.about.version", locale), value=card.version)
    embed.add_field(
        name=t("meta.about.data_pack", locale),
        value=t("meta.about.data_pack_value", locale, version=card.pack_version, as_of=card.pack_as_of),
    )
    latency = (
        t("meta.about.latency_value", locale, ms=card.latency_ms)
        if card.latency_ms is not None
        else t("meta.about.latency_unknown", locale)
    )
    embed.add_field(
        name=t("meta.about.shard", locale),
        value=t("meta.about.shard_value", locale, shard=card.shard_id, count=card.shard_count),
    )
    embed.add_field(name=t("meta.about.latency", locale), value=latency)
    sources = "\n".join(f"• {discord.utils.escape_markdown(source)}" for source in card.sources)
    if len(sources) > FIELD_VALUE_LIMIT:
        sources = sources[: FIELD_VALUE_LIMIT - 1] + "…"
    embed.add_field(name=t("meta.about.sources", locale), value=sources or "-", inline=False)
    embed.set_footer(text=card.disclaimer)
    return embed


class MetaCog(commands.Cog):
    def __init__(self, bot: HyosanBot) -> None:
        self.bot = bot

    @offered_everywhere
    @app_commands.command(name=cmd("meta.about.name"), description=cmd("meta.about.description"))
    async def about(self, interaction: discord.Interaction[Any]) -> None:
        # Discord sends direct messages on shard 0.
        count = self.bot.shard_count or 1
        shard_id = shard_of(interaction.guild_id, count) if interaction.guild_id else 0
        shard = self.bot.get_shard(shard_id)
        latency = shard.latency if shard is not None else float("nan")
        card = build_about(
            self.bot.pack, self.bot.version, latency, interaction.locale, shard_id=shard_id, shard_count=count
        )
        await interaction.response.send_message(embed=render_about(card, interaction.locale))
