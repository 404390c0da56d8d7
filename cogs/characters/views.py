"""The /cast pager: Previous/Next buttons whose whole state is in their custom_id.

``cast:<owner id>:<page>:<pack fingerprint prefix>:<prev|next>``: the owner is the
only member who may turn pages, the page is the one shown, and the fingerprint tells
whether the roster still is the one that was posted. So a press after a restart
works, and a press on a list from an older data pack says clearly that it expired.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import discord

from bot.errors import BotView, GuardedItem, Trusted, UserError
from bot.i18n import t

from .roster import roster_embed

if TYPE_CHECKING:
    from .cog import CharactersCog

__all__ = ["CastPageButton", "cast_view"]

Step = Literal["prev", "next"]

TEMPLATE = re.compile(
    r"^cast:(?P<owner>[0-9]{1,20}):(?P<page>[0-9]{1,4}):(?P<fingerprint>[0-9a-f]{8}):(?P<step>prev|next)$"
)


def cast_custom_id(owner_id: int, page: int, fingerprint: str, step: Step) -> str:
    return f"cast:{owner_id}:{page}:{fingerprint}:{step}"


class CastPageButton(GuardedItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    """Previous or Next on a /cast list; survives restarts because it keeps no state in memory."""

    def __init__(
        self, owner_id: int, page: int, fingerprint: str, step: Step, *, label: str = "", disabled: bool = False
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or step,
                style=discord.ButtonStyle.secondary,
                custom_id=cast_custom_id(owner_id, page, fingerprint, step),
                disabled=disabled,
            )
        )
        self.owner_id = owner_id
        self.page = page
        self.fingerprint = fingerprint
        self.step: Step = step

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CastPageButton:
        step: Step = "prev" if match["step"] == "prev" else "next"
        return cls(int(match["owner"]), int(match["page"]), match["fingerprint"], step)

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.user.id != self.owner_id:
            raise UserError("characters.cast.not_yours", owner=Trusted(f"<@{self.owner_id}>"))
        cog: CharactersCog | None = interaction.client.get_cog("Characters")
        if cog is None:
            raise UserError("errors.expired")
        catalog = await cog.current_catalog()
        target = self.page + (1 if self.step == "next" else -1)
        if self.fingerprint != catalog.short_fingerprint or not 0 <= target < len(catalog.roster):
            raise UserError("characters.cast.expired")
        embed = roster_embed(catalog.roster[target], len(catalog.roster), len(catalog.characters), interaction.locale)
        view = cast_view(self.owner_id, target, len(catalog.roster), catalog.short_fingerprint, interaction.locale)
        await interaction.response.edit_message(embed=embed, view=view)


def cast_view(
    owner_id: int, page: int, pages: int, fingerprint: str, locale: discord.Locale | str | None
) -> BotView | None:
    """Previous/Next for page ``page``; None when everything fits on one page."""
    if pages <= 1:
        return None
    view = BotView(timeout=None)
    view.add_item(
        CastPageButton(
            owner_id, page, fingerprint, "prev", label=t("characters.cast.previous", locale), disabled=page == 0
        )
    )
    view.add_item(
        CastPageButton(
            owner_id, page, fingerprint, "next", label=t("characters.cast.next", locale), disabled=page >= pages - 1
        )
    )
    return view
