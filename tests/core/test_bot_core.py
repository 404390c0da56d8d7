"""The bot core without a network: cogs load, command names are unique and valid."""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.client import HyosanBot, bot_intents, command_payload, discover_cogs
from bot.settings import Settings
from bot.store import Store

NAME = re.compile(r"^[-_\w]{1,32}$")


@pytest.fixture
async def prepared_bot(tmp_path: Path) -> AsyncIterator[HyosanBot]:
    settings = Settings(database_path=tmp_path / "bot.db", admin_guild_ids=(42,))
    async with await Store.open(settings.store_url) as store:
        bot = HyosanBot(settings, store=store)
        await bot.prepare()
        yield bot
        await bot.close()


def walk_payload(options: list[dict[str, Any]], path: str) -> list[str]:
    """Every command, group and option name, checked as Discord checks them."""
    problems = []
    for option in options:
        name = option["name"]
        if not NAME.match(name) or name != name.lower():
            problems.append(f"{path} {name}: bad name")
        if not 1 <= len(option.get("description", "x")) <= 100:
            problems.append(f"{path} {name}: description length {len(option['description'])}")
        children = option.get("options", [])
        if len(children) > 25:
            problems.append(f"{path} {name}: {len(children)} options")
        problems += walk_payload(children, f"{path} {name}")
    return problems


def test_the_bot_asks_for_no_privileged_intent() -> None:
    intents = bot_intents()
    assert intents.guilds
    assert not intents.message_content
    assert not intents.members
    assert not intents.presences


async def test_every_cog_loads_and_no_two_commands_share_a_name(prepared_bot: HyosanBot) -> None:
    loaded = set(prepared_bot.extensions)
    assert loaded == set(discover_cogs())
    assert "cogs.meta" in loaded
    scopes = [None, *(discord.Object(g) for g in prepared_bot.settings.admin_guild_ids)]
    global_names = {c.name for c in prepared_bot.tree.get_commands()}
    for scope in scopes:
        payload = await command_payload(prepared_bot.tree, scope)
        names = [(command["name"], command.get("type", 1)) for command in payload]
        assert len(names) == len(set(names)), f"duplicate command names in {scope}: {names}"
        assert walk_payload(payload, "/") == []
        if scope is not None:
            assert not global_names & {name for name, _ in names}, "a guild command shadows a global one"
    assert len(global_names) <= 100


async def test_settings_group_is_for_moderators_only(prepared_bot: HyosanBot) -> None:
    settings = prepared_bot.tree.get_command("settings")
    if settings is None:
        pytest.skip("no feature has settings yet")
    payload = await command_payload(prepared_bot.tree, None)
    entry = next(c for c in payload if c["name"] == "settings")
    assert int(entry["default_member_permissions"]) == 1 << 5  # Manage Server
    assert entry.get("contexts") == [0] or entry.get("dm_permission") is False


@pytest.mark.freeze_heap
async def test_the_start_up_heap_is_frozen_at_ready_and_thawed_at_close(harness: Any) -> None:
    """Full garbage collections no longer walk the cache built at start-up (issue 15)."""
    assert gc.get_freeze_count() > 0
    await harness.stop()
    assert gc.get_freeze_count() == 0
    await harness.start()
    assert gc.get_freeze_count() > 0


@pytest.mark.both_stores
async def test_closing_ends_listener_calls_before_the_store_closes_under_them(
    harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A READY catch-up still in its transaction when SIGINT came left a connection checked out."""
    bot = harness.bot
    holding = asyncio.Event()
    ended: list[bool] = []

    async def on_hold_for_test() -> None:
        try:
            async with bot.store.transaction():
                holding.set()
                await asyncio.Event().wait()
        finally:
            ended.append(True)

    bot.add_listener(on_hold_for_test)
    bot.dispatch("hold_for_test")
    await asyncio.wait_for(holding.wait(), 5)
    await harness.stop()
    assert ended == [True]
    assert "still in use" not in caplog.text
