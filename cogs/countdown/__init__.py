"""The season 2 countdown: /countdown, /settings countdown, /release update, scheduled posts."""

from __future__ import annotations

from bot.client import HyosanBot
from cogs.countdown.cog import CountdownCog


async def setup(bot: HyosanBot) -> None:
    await bot.add_cog(CountdownCog(bot))
