"""Polls: /poll create, vote buttons, deadlines, results and exports."""

from __future__ import annotations

from bot.client import HyosanBot
from cogs.polls.cog import PollsCog


async def setup(bot: HyosanBot) -> None:
    await bot.add_cog(PollsCog(bot))
