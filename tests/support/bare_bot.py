"""The smallest honest discord.py bot: the fake's own test subject and the benchmark baseline.

One slash command, ``/ping``, answers a fixed embed with two persistent buttons
that live entirely in their custom_ids, so they keep working after a restart:
:class:`AckButton` (``bare:ack:<n>``) acknowledges with a deferred update
(callback type 6); :class:`AnswerButton` (``bare:answer:<n>``) answers privately
with one line, as a poll's vote does.  No database, no cogs: whatever latency
this bot shows is discord.py plus the fake.
"""

# ruff: noqa: ASYNC109 - helpers take a `timeout` like asyncio.wait_for: tests wait on the bot with a bound.

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Self

import discord
from discord import app_commands

if TYPE_CHECKING:
    from localdiscord.server import FakeDiscord


PING_EMBED = {"title": "Pong", "description": "The bare bot is alive.", "color": 0x5865F2}


class AckButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"bare:ack:(?P<n>\d+)"):
    """A stateless button: its number travels in the custom_id."""

    kind = "ack"
    label = "Ack"
    style = discord.ButtonStyle.primary

    def __init__(self, n: int) -> None:
        super().__init__(
            discord.ui.Button(label=f"{self.label} {n}", style=self.style, custom_id=f"bare:{self.kind}:{n}")
        )
        self.n = n

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        if isinstance(client, BareBot):
            client.acks.append(self.n)
        await interaction.response.defer()


class AnswerButton(AckButton, template=r"bare:answer:(?P<n>\d+)"):
    """Like :class:`AckButton`, but it answers with a private message (callback type 4)."""

    kind = "answer"
    label = "Answer"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message(ANSWER_TEXT, ephemeral=True)


#: About as long as a vote's answer ("Your vote for **2.** Su-hyeok is counted." and the choices).
ANSWER_TEXT = "Your click on **1.** Ack is counted.\nYour choice now: **1.** Ack"


class BareBot(discord.Client):
    """Client + CommandTree with ``Intents.none()`` plus guilds."""

    def __init__(
        self,
        *,
        sync_commands: bool = True,
        guild_ready_timeout: float = 0.05,
        extra_commands: Iterable[app_commands.Command[Any, ..., Any] | app_commands.Group] = (),
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, guild_ready_timeout=guild_ready_timeout)
        self.tree = app_commands.CommandTree(self)
        self.sync_commands = sync_commands
        self.acks: list[int] = []
        self.command_errors: list[BaseException] = []
        self.tree.add_command(
            app_commands.Command(name="ping", description="Check the bot answers", callback=self._ping)
        )
        for command in extra_commands:  # tests bolt on scenario-specific commands
            self.tree.add_command(command)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        self.add_dynamic_items(AckButton, AnswerButton)
        if self.sync_commands:
            await self.tree.sync()

    def ping_buttons(self) -> list[discord.ui.Item[Any]]:
        """The buttons under /ping's answer (the benchmark's baseline adds one)."""
        return [AckButton(1), AnswerButton(1)]

    async def _ping(self, interaction: discord.Interaction[Any]) -> None:
        view = discord.ui.View(timeout=None)
        for button in self.ping_buttons():
            view.add_item(button)
        await interaction.response.send_message(embed=discord.Embed.from_dict(PING_EMBED), view=view)

    async def _on_tree_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        # Kept for the tests: a late or duplicate callback surfaces here as NotFound/HTTPException.
        self.command_errors.append(error)


async def run_bare_bot(
    fake: FakeDiscord, token: str | None = None, *, timeout: float = 10.0, **kwargs: Any
) -> tuple[BareBot, asyncio.Task[None]]:
    """Point discord.py at ``fake``, start a :class:`BareBot` and wait until it is ready."""
    from localdiscord.server import point_discord_py_at  # only here: the baseline process has no fake

    point_discord_py_at(fake)
    bot = BareBot(**kwargs)
    task = asyncio.create_task(bot.start(token or fake.token), name="bare-bot")
    try:
        await fake.wait_ready(timeout)
        await asyncio.wait_for(bot.wait_until_ready(), timeout)
    except BaseException:
        await stop_bare_bot(bot, task)
        raise
    return bot, task


async def stop_bare_bot(bot: discord.Client, task: asyncio.Task[None]) -> None:
    """Close the client and reap its task, whatever state it is in."""
    await bot.close()
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
