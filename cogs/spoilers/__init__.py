"""Spoiler channels (``/settings spoilers``), ``/survivors``, and the shared reveal button.

The policy and renderer themselves live in :mod:`bot.spoilers`; this extension
registers the "Reveal privately" button so presses reach it, even after a restart.
"""

from __future__ import annotations

from bot.client import HyosanBot
from bot.spoilers import RevealButton
from cogs.spoilers.cog import SpoilersCog


async def setup(bot: HyosanBot) -> None:
    bot.add_dynamic_items(RevealButton)
    await bot.add_cog(SpoilersCog(bot))


async def teardown(bot: HyosanBot) -> None:
    bot.remove_dynamic_items(RevealButton)
