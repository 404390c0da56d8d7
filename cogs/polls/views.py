"""The vote buttons: ``poll:vote:<poll_id>:<option_index>``, answered from the store.

A button carries only ids, so buttons posted before a restart work after it; what a
click does is decided in the store's transaction, never from the message. The buttons
are plain and not dispatchable: discord.py's view store never sees their clicks, which
the cog's ``on_interaction`` answers (see :meth:`PollsCog.on_interaction`).
"""

from __future__ import annotations

import re

import discord

from bot.errors import BotView
from bot.spoilers import RevealButton
from cogs.polls.render import VoteButtonSpec

VOTE_TEMPLATE = re.compile(r"poll:vote:(?P<poll_id>[0-9]{1,19}):(?P<index>[0-9]{1,2})")
COG_NAME = "Polls"
#: The spoiler reveal provider's kind for polls ("Reveal privately" on a spoiler poll).
REVEAL_KIND = "poll"
REVEAL_ROW = 4


def vote_custom_id(poll_id: int, index: int) -> str:
    return f"poll:vote:{poll_id}:{index}"


def parse_vote_custom_id(custom_id: str) -> tuple[int, int] | None:
    """``(poll_id, option_index)`` of a vote button's custom_id, or None for any other component."""
    match = VOTE_TEMPLATE.fullmatch(custom_id)
    return None if match is None else (int(match["poll_id"]), int(match["index"]))


def shows_button(message: discord.Message | None, custom_id: str) -> bool:
    """Whether the clicked message carries that button (a click counts only on a button it shows)."""
    if message is None:
        return False
    return any(
        isinstance(child, discord.Button) and child.custom_id == custom_id
        for row in message.components
        if isinstance(row, discord.ActionRow)
        for child in row.children
    )


class VoteButton(discord.ui.Button[BotView]):
    """One option's button as the poll message shows it; a press votes, retracts or moves a vote.

    Not dispatchable, so sending or editing the message stores nothing in discord.py's
    view store and a click is answered by the cog alone.
    """

    def __init__(self, poll_id: int, spec: VoteButtonSpec) -> None:
        super().__init__(
            label=spec.label,
            style=discord.ButtonStyle.secondary,
            custom_id=vote_custom_id(poll_id, spec.index),
            row=spec.row,
            disabled=spec.disabled,
        )

    def is_dispatchable(self) -> bool:
        return False


def poll_view(poll_id: int, buttons: list[VoteButtonSpec], reveal: RevealButton | None) -> BotView:
    """The poll message's components: the vote buttons, then "Reveal privately" on a row of its own."""
    view = BotView(timeout=None)
    for spec in buttons:
        view.add_item(VoteButton(poll_id, spec))
    if reveal is not None:
        reveal.row = REVEAL_ROW
        view.add_item(reveal)
    return view
