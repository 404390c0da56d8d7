"""The one error path, end to end: user mistakes get a specific private answer, bugs a
reference id that is also in the log, and no interaction is left unanswered."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands

from bot.errors import GuardedItem, UserError, guarded_autocomplete
from tests.support.harness import Harness


class ExplodingButton(GuardedItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"test:explode:(?P<n>\d+)"):
    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label="Explode", custom_id=f"test:explode:{n}"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ExplodingButton:
        return cls(int(match["n"]))

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        raise ZeroDivisionError("a bug in a button")


@guarded_autocomplete
async def exploding_autocomplete(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
    raise KeyError("a bug in autocomplete")


async def install_test_commands(harness: Harness) -> None:
    """Test-only commands added to the real tree, so the real error path handles them."""

    @app_commands.command(name="test-bug", description="raises a bug")
    async def test_bug(interaction: discord.Interaction[Any]) -> None:
        raise RuntimeError("a bug in a command")

    @app_commands.command(name="test-mistake", description="raises a user mistake")
    async def test_mistake(interaction: discord.Interaction[Any]) -> None:
        raise UserError("errors.guild_only")

    @app_commands.command(name="test-late-bug", description="defers then raises")
    async def test_late_bug(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True)
        raise RuntimeError("a bug after deferring")

    @app_commands.command(name="test-button", description="posts a button that fails")
    async def test_button(interaction: discord.Interaction[Any]) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(ExplodingButton(7))
        await interaction.response.send_message("press it", view=view)

    @app_commands.command(name="test-complete", description="autocomplete that fails")
    @app_commands.autocomplete(value=exploding_autocomplete)
    async def test_complete(interaction: discord.Interaction[Any], value: str) -> None:
        await interaction.response.send_message(value)

    bot = harness.bot
    for command in (test_bug, test_mistake, test_late_bug, test_button, test_complete):
        bot.tree.add_command(command)
    bot.add_dynamic_items(ExplodingButton)
    await bot.tree.sync()


def reference_in(text: str) -> str:
    match = re.search(r"`([0-9a-f]{8})`", text)
    assert match, text
    return match.group(1)


async def test_a_bug_gets_a_private_reference_that_is_in_the_log(harness: Harness) -> None:
    harness.expect_errors()
    await install_test_commands(harness)
    record = await harness.slash(harness.member, harness.general, "test-bug")
    assert record.ephemeral
    reference = reference_in(record.callback["data"]["content"])
    logged = [r for r in harness.errors.records if reference in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "a bug in a command" in str(logged[0].exc_info[1])


async def test_a_user_mistake_gets_its_specific_message_and_no_log(harness: Harness) -> None:
    await install_test_commands(harness)
    record = await harness.slash(harness.member, harness.general, "test-mistake")
    assert record.ephemeral
    assert record.callback["data"]["content"] == "This command only works in a server."


async def test_a_bug_after_deferring_is_answered_with_a_follow_up(harness: Harness) -> None:
    harness.expect_errors()
    await install_test_commands(harness)
    record = await harness.slash(harness.member, harness.general, "test-late-bug")
    assert record.callback_type == 5
    await record.wait_followups(1)
    followup = record.followups[0]
    assert followup["flags"] & 64
    assert reference_in(followup["content"])


async def test_a_bug_in_a_button_is_answered_privately(harness: Harness) -> None:
    harness.expect_errors()
    await install_test_commands(harness)
    posted = await harness.slash(harness.member, harness.general, "test-button")
    message = posted.original
    assert message is not None
    record = await harness.click(harness.member2, harness.general, message, "test:explode:7")
    assert record.ephemeral
    assert reference_in(record.callback["data"]["content"])


async def test_a_bug_in_autocomplete_still_answers_with_no_choices(harness: Harness) -> None:
    harness.expect_errors()
    await install_test_commands(harness)
    choices = await harness.autocomplete(harness.member, harness.general, "test-complete", focused="value", value="x")
    assert choices == []
    assert any("a bug in autocomplete" in str(r.exc_info[1]) for r in harness.errors.records if r.exc_info)
