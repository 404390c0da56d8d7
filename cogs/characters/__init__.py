"""Character lookup (/character), the cast roster (/cast) and the FAQ (/faq), from the data pack."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cog import CharactersCog

if TYPE_CHECKING:
    from bot.client import HyosanBot


async def setup(bot: HyosanBot) -> None:
    await bot.add_cog(CharactersCog(bot))
