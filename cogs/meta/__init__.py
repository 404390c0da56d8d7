"""/about: what the bot is, its version, where its data comes from, and its latency."""

from __future__ import annotations

from bot.client import HyosanBot
from cogs.meta.cog import MetaCog


async def setup(bot: HyosanBot) -> None:
    await bot.add_cog(MetaCog(bot))
