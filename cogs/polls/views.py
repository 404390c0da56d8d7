"""The vote buttons: ``poll:vote:<poll_id>:<option_index>``, answered from the store.

A button carries only ids, so buttons posted before a restart work after it; what a
click does is decided in the store's transaction, never from the message.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import BotView, GuardedItem, UserError
from bot.spoilers import RevealButton
from cogs.polls.render import VoteButtonSpec

if TYPE_CHECKING:
    from cogs.polls.cog import PollsCog

VOTE_TEMPLATE = re.compile(r"^poll:vote:(?P<poll_id>[0-9]{1,19}):(?P<index>[0-9]{1,2})$")
COG_NAME = "Polls"
REVEAL_ROW = 4


def vote_custom_id(poll_id: int, index: int) -> str:
    return f"poll:vote:{poll_id}:{index}"


class PollVoteButton(GuardedItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=VOTE_TEMPLATE):
    """One option's button; a press votes, retracts or moves the presser's vote."""

    def __init__(
        self, poll_id: int, index: int, *, label: str = "?", row: int | None = None, disabled: bool = False
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=vote_custom_id(poll_id, index),
                row=row,
                disabled=disabled,
            )
        )
        self.poll_id = poll_id
        self.index = index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PollVoteButton:
        return cls(int(match["poll_id"]), int(match["index"]))

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        cog: PollsCog | None = interaction.client.get_cog(COG_NAME)
        if cog is None:
            raise UserError("polls.vote.unavailable")
        await cog.answer_vote(interaction, self.poll_id, self.index)


def poll_view(poll_id: int, buttons: list[VoteButtonSpec], reveal: RevealButton | None) -> BotView:
    """The poll message's components: the vote buttons, then "Reveal privately" on a row of its own."""
    view = BotView(timeout=None)
    for spec in buttons:
        view.add_item(PollVoteButton(poll_id, spec.index, label=spec.label, row=spec.row, disabled=spec.disabled))
    if reveal is not None:
        reveal.row = REVEAL_ROW
        view.add_item(reveal)
    return view
