"""The release watch's proposal buttons: ``countdown:watch:<decision>:<finding id>``.

The finding's id is the whole state, so a proposal posted before a restart can still be
decided after it, by whichever process receives the click; what a press does is decided in
the store (:mod:`cogs.countdown.proposals`), never from the message.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import BotView, GuardedItem, UserError
from bot.i18n import t
from cogs.countdown.repo.findings import Decision

if TYPE_CHECKING:
    from cogs.countdown.cog import CountdownCog

TEMPLATE = re.compile(r"^countdown:watch:(?P<decision>confirmed|estimated|dismissed):(?P<finding>[0-9]{1,19})$")
DECISIONS: tuple[Decision, ...] = ("confirmed", "estimated", "dismissed")
STYLES = {
    "confirmed": discord.ButtonStyle.success,
    "estimated": discord.ButtonStyle.primary,
    "dismissed": discord.ButtonStyle.secondary,
}


def proposal_custom_id(finding_id: int, decision: Decision) -> str:
    return f"countdown:watch:{decision}:{finding_id}"


def _decision(text: str) -> Decision:
    for decision in DECISIONS:
        if decision == text:
            return decision
    raise ValueError(text)


class ProposalButton(GuardedItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    """Record as confirmed, Record as estimated or Dismiss, on one proposal; owners only."""

    def __init__(self, finding_id: int, decision: Decision, *, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or decision,
                style=STYLES[decision],
                custom_id=proposal_custom_id(finding_id, decision),
            )
        )
        self.finding_id = finding_id
        self.decision: Decision = decision

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ProposalButton:
        return cls(int(match["finding"]), _decision(match["decision"]))

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        cog: CountdownCog | None = interaction.client.get_cog("CountdownCog")
        if cog is None:
            raise UserError("errors.expired")
        await cog.answer_proposal(interaction, self.finding_id, self.decision)


def proposal_view(finding_id: int, locale: discord.Locale | str | None) -> BotView:
    view = BotView(timeout=None)
    for decision in DECISIONS:
        view.add_item(ProposalButton(finding_id, decision, label=t(f"countdown.watch.button_{decision}", locale)))
    return view
