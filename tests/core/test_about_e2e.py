"""The first story end to end: a member runs /about and the real bot answers through the fake Discord."""

from __future__ import annotations

from typing import Any

from tests.support.harness import Harness


async def test_about_tells_what_the_bot_is_and_where_its_facts_come_from(harness: Harness) -> None:
    record = await harness.slash(harness.member, harness.general, "about")

    assert record.callback_type == 4  # CHANNEL_MESSAGE_WITH_SOURCE
    embed: dict[str, Any] = record.callback["data"]["embeds"][0]
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert embed["title"] == "About this bot"
    assert "All of Us Are Dead" in embed["description"]
    assert fields["Version"] == harness.bot.version
    assert "September 18, 2025" in fields["Data pack"]
    assert "September 18, 2025" in fields["Sources"]
    assert fields["Gateway latency"].endswith("ms") or fields["Gateway latency"] == "measuring…"
    assert not record.ephemeral


async def test_start_up_asks_for_no_privileged_intent_and_syncs_commands_once(harness: Harness) -> None:
    identify = harness.fake.identify_payloads[-1]
    assert identify["intents"] == 1  # GUILDS only
    global_syncs = [payload for scope, payload in harness.fake.command_syncs if scope is None]
    assert len(global_syncs) == 1
    assert "about" in {command["name"] for command in global_syncs[0]}

    await harness.restart()
    global_syncs_after = [payload for scope, payload in harness.fake.command_syncs if scope is None]
    assert len(global_syncs_after) == 1, "an unchanged command tree must not be synced again"
    record = await harness.slash(harness.member, harness.general, "about")
    assert record.answered


async def test_dev_guild_gets_the_commands_too(harness: Harness) -> None:
    await harness.restart(dev_guild_id=harness.guild.id)
    guild_syncs = [payload for scope, payload in harness.fake.command_syncs if scope == harness.guild.id]
    assert guild_syncs, "DEV_GUILD_ID must be synced"
    assert "about" in {command["name"] for command in guild_syncs[-1]}


async def test_no_message_mentions_anyone_by_default(harness: Harness) -> None:
    record = await harness.slash(harness.member, harness.general, "about")
    assert record.callback["data"].get("allowed_mentions") == {"parse": []}
