"""Where people use an app, as the local Discord models it after Discord's documentation:
servers that added the app, servers that did not (a member's own install), the bot's DM and
other private channels. Each interaction carries ``context``, ``authorizing_integration_owners``
and ``app_permissions`` as Discord sends them; a command is offered only where its ``contexts``
and ``integration_types`` allow; the app may not read or post on its own where it is not a
member; channel flags change with CHANNEL_UPDATE.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from discord import app_commands

from localdiscord import IS_SPOILER_CHANNEL, CommandNotPermitted, FakeDiscord, Permission
from tests.support.bare_bot import run_bare_bot, stop_bare_bot

DM_APP_PERMISSIONS = Permission.ATTACH_FILES | Permission.EMBED_LINKS | Permission.MENTION_EVERYONE


async def answer(interaction: discord.Interaction[Any]) -> None:
    await interaction.response.send_message(f"context {interaction.context.to_array()}")


def lookup_everywhere() -> app_commands.Command[Any, ..., Any]:
    """A command offered to both installs in every context, as the bot's show lookups are."""
    found = app_commands.Command(name="lookup", description="a lookup offered everywhere", callback=answer)
    found.allowed_installs = app_commands.AppInstallationType(guild=True, user=True)
    found.allowed_contexts = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)
    return found


async def test_context_owners_and_app_permissions_in_every_kind_of_place(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    home = fake.add_guild("Hyosan High")
    general = home.add_channel("general")
    fan = home.add_member(name="onjo")
    other = fake.add_outside_guild("Elsewhere")
    chat = other.add_channel("chat")
    visitor = other.add_member(fan.id, "onjo")
    fake.install_for_user(fan)
    dm = fake.open_dm(fan)
    group = fake.open_group_dm("friends", fan, home.members[home.owner_id])
    bot, task = await run_bare_bot(fake, extra_commands=[lookup_everywhere()])
    try:
        synced = {c["name"]: c for c in fake.commands[None]}
        assert synced["lookup"]["integration_types"] == [0, 1]
        assert synced["lookup"]["contexts"] == [0, 1, 2]

        at_home = await fake.slash(home, general, fan, "lookup")
        assert at_home.payload["context"] == 0
        assert at_home.payload["authorizing_integration_owners"] == {"0": str(home.id), "1": str(fan.id)}
        assert int(at_home.payload["app_permissions"]) == home.bot_permissions_in(general)

        away = await fake.slash(other, chat, visitor, "lookup")
        assert away.payload["context"] == 0
        assert away.payload["guild_id"] == str(other.id)
        assert away.payload["authorizing_integration_owners"] == {"1": str(fan.id)}
        assert int(away.payload["app_permissions"]) == other.everyone_permissions_in(chat)
        assert away.content == "context [0]"
        assert not away.ephemeral

        in_dm = await fake.slash(None, dm, fan.user, "lookup")
        assert in_dm.payload["context"] == 1
        assert "guild_id" not in in_dm.payload
        assert "member" not in in_dm.payload
        assert in_dm.payload["user"]["id"] == str(fan.id)
        assert int(in_dm.payload["app_permissions"]) == DM_APP_PERMISSIONS | Permission.USE_EXTERNAL_EMOJIS
        assert in_dm.original is not None
        assert "guild_id" not in in_dm.original

        in_group = await fake.slash(None, group, fan.user, "lookup")
        assert in_group.payload["context"] == 2
        assert in_group.payload["authorizing_integration_owners"] == {"1": str(fan.id)}
        assert int(in_group.payload["app_permissions"]) == DM_APP_PERMISSIONS

        # /ping was synced without contexts: servers and the bot's DM, for the server install only.
        assert (await fake.slash(None, dm, fan.user, "ping")).answered
        with pytest.raises(CommandNotPermitted) as refused:
            await fake.slash(None, group, fan.user, "ping")
        assert refused.value.reason == "context"
        with pytest.raises(CommandNotPermitted) as refused:
            await fake.slash(other, chat, visitor, "ping")
        assert refused.value.reason == "context"
        fake.uninstall_for_user(fan)
        with pytest.raises(CommandNotPermitted) as refused:
            await fake.slash(other, chat, visitor, "lookup")
        assert refused.value.reason == "install"
    finally:
        await stop_bare_bot(bot, task)


async def test_without_use_external_apps_answers_are_private_and_the_app_cannot_post_where_it_is_not(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    fake.add_guild("Home")
    other = fake.add_outside_guild("Elsewhere")
    chat = other.add_channel("chat")
    visitor = other.add_member(name="visitor")
    fake.install_for_user(visitor)
    other.set_overwrite(chat, other.everyone, deny=Permission.USE_EXTERNAL_APPS)
    bot, task = await run_bare_bot(fake, extra_commands=[lookup_everywhere()])
    try:
        record = await fake.slash(other, chat, visitor, "lookup")
        assert record.forced_ephemeral
        assert record.ephemeral, "Discord made the answer private"
        assert fake.channel_messages(chat) == []
        with pytest.raises(discord.Forbidden) as refused:
            await bot.get_partial_messageable(chat.id).send("hello")
        assert refused.value.code == 50001
        with pytest.raises(discord.Forbidden):
            await bot.http.get_channel(chat.id)
    finally:
        await stop_bare_bot(bot, task)


async def test_channel_flags_are_kept_and_announced(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    guild = fake.add_guild("Home")
    forum = guild.add_channel("theories", 15)
    bot, task = await run_bare_bot(fake)
    try:
        guild.set_spoiler_channel(forum)
        cached = bot.get_channel(forum.id)
        assert isinstance(cached, discord.ForumChannel)
        for _ in range(100):
            if cached.flags.value & IS_SPOILER_CHANNEL:
                break
            await asyncio.sleep(0.01)
        assert cached.flags.value & IS_SPOILER_CHANNEL, "CHANNEL_UPDATE carried the flag"
        assert (await bot.http.get_channel(forum.id))["flags"] == IS_SPOILER_CHANNEL
        guild.set_spoiler_channel(forum, on=False)
        assert (await bot.http.get_channel(forum.id))["flags"] == 0
    finally:
        await stop_bare_bot(bot, task)
