"""/settings language: the language of the bot's own public posts in a server."""

from __future__ import annotations

from bot.client import HyosanBot
from cogs.language.cog import LanguageCog


async def setup(bot: HyosanBot) -> None:
    await bot.add_cog(LanguageCog(bot))
