"""Removal is not destruction: a server that removes the bot keeps every setting of every
feature for the grace period, gets them back when it invites the bot again within it, and
loses them only when it ends. Through the real bot and the fake Discord, on both stores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.store import Store
from bot.store.schema import countdown_posts, departed_guilds
from localdiscord import FakeDiscord, Permission, wait_until
from localdiscord.state import TEXT, Channel, Guild, Member, Role
from tests.support.harness import Harness
from tests.support.stores import fetch_rows

#: Their subject is the store (see tests/support/stores.py): they run on SQLite and PostgreSQL.
pytestmark = pytest.mark.both_stores


async def set_every_setting(
    fake: FakeDiscord, guild: Guild, channel: Channel, moderator: Member, *, listed: Channel, zone: str, language: str
) -> Role:
    """One setting of each feature that keeps per-guild rows, as a moderator sets them; returns
    the poll creator role."""
    role = guild.add_role("Pollsters", 0)
    fans = guild.add_role("Season 2 news", 0, mentionable=True)
    assert guild.bot_role is not None
    guild.set_role_position(guild.bot_role, fans.position + 1)
    guild.set_role_permissions(
        guild.bot_role, guild.bot_role.permissions | int(Permission.MANAGE_ROLES | Permission.MANAGE_EVENTS)
    )
    countdown = {"channel": channel, "time": "13:00", "timezone": zone, "cadence": "daily", "mode": "post"}
    for command, options in (
        ("settings spoilers add", {"channel": listed}),
        ("settings countdown set", countdown),
        ("settings polls creator_role", {"role": role}),
        ("settings language set", {"language": language}),
        ("settings countdown notify_role", {"role": fans}),
        ("settings countdown event", {"state": "on"}),
    ):
        answer = await fake.slash(guild, channel, moderator, command, options)
        assert answer.ephemeral, f"{command}: {answer.content}"
    return role


async def set_every_setting_here(h: Harness) -> Role:
    """Every setting in the harness's server, in a zone and language of their own."""
    return await set_every_setting(
        h.fake, h.guild, h.general, h.moderator, listed=h.in_category, zone="Asia/Seoul", language="ko"
    )


async def rows_of(store: Store, guild_id: int) -> dict[str, int]:
    """How many rows each per-guild settings table holds for the guild."""
    counts = {}
    for table in EVERY_SETTING:
        [row] = await fetch_rows(store, f"SELECT count(*) AS n FROM {table} WHERE guild_id = :g", g=guild_id)
        counts[table] = int(row.n)
    return counts


EVERY_SETTING = {
    "spoiler_channels": 1,
    "countdown_schedules": 1,
    "poll_settings": 1,
    "guild_languages": 1,
    "countdown_options": 1,
}
NO_SETTING = dict.fromkeys(EVERY_SETTING, 0)


async def departed(store: Store) -> list[int]:
    async with store.read() as conn:
        return [int(g) for g in await conn.scalars(select(departed_guilds.c.guild_id))]


async def leave(h: Harness) -> None:
    h.fake.remove_guild(h.guild)
    assert await wait_until(lambda: h.bot.get_guild(h.guild.id) is None)
    assert await wait_until_async(h, lambda ids: ids == [h.guild.id])


async def wait_until_async(h: Harness, check: Any) -> bool:
    for _ in range(100):
        if check(await departed(h.bot.store)):
            return True
        await h.settle(0.05)
    return False


def text(answer: Any) -> str:
    return f"{answer.content} {answer.embeds}"


async def shown_settings(h: Harness) -> list[str]:
    """What a moderator reads of the settings that do not move with the clock."""
    countdown = text(await h.slash(h.moderator, h.general, "settings countdown show"))
    assert "13:00" in countdown, countdown
    assert "Asia/Seoul" in countdown, countdown
    return [
        text(await h.slash(h.moderator, h.general, "settings spoilers list")),
        text(await h.slash(h.moderator, h.general, "settings language show")),
    ]


async def test_a_server_that_removes_the_bot_and_invites_it_back_finds_every_setting(harness: Harness) -> None:
    h = harness
    role = await set_every_setting_here(h)
    assert await rows_of(h.bot.store, h.guild.id) == EVERY_SETTING
    before = await shown_settings(h)

    await leave(h)
    assert await rows_of(h.bot.store, h.guild.id) == EVERY_SETTING

    # While it is away its countdown slot comes and goes: nothing is posted to a server the bot is not in.
    await h.run_scheduler(dt.timedelta(days=1))
    async with h.bot.store.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(countdown_posts)) == 0

    # Invited back on the sixth day: every setting is as it was, and nothing is purged later.
    h.clock.advance(dt.timedelta(days=5))
    h.fake.rejoin_guild(h.guild)
    assert await wait_until(lambda: h.bot.get_guild(h.guild.id) is not None)
    assert await wait_until_async(h, lambda ids: ids == [])
    assert await shown_settings(h) == before
    refused = await h.slash(h.member, h.general, "poll create", question="Who returns?", options="On-jo | Su-hyeok")
    assert refused.ephemeral
    assert f"<@&{role.id}>" in refused.content
    await h.run_scheduler(dt.timedelta(days=30))
    assert await rows_of(h.bot.store, h.guild.id) == EVERY_SETTING


async def test_the_settings_of_a_server_that_stays_away_are_purged_when_the_grace_period_ends(
    harness: Harness,
) -> None:
    h = harness
    await set_every_setting_here(h)
    await leave(h)
    await h.run_scheduler(dt.timedelta(days=7) - dt.timedelta(minutes=1))
    assert await rows_of(h.bot.store, h.guild.id) == EVERY_SETTING
    await h.run_scheduler(dt.timedelta(minutes=2))
    assert await rows_of(h.bot.store, h.guild.id) == NO_SETTING
    assert await departed(h.bot.store) == []

    # Invited back after that: a fresh start.
    h.fake.rejoin_guild(h.guild)
    assert await wait_until(lambda: h.bot.get_guild(h.guild.id) is not None)
    listed = text(await h.slash(h.moderator, h.general, "settings spoilers list"))
    assert f"<#{h.in_category.id}>" not in listed


async def test_a_server_that_removed_the_bot_while_it_was_offline_is_kept_then_purged(harness: Harness) -> None:
    h = harness
    await set_every_setting_here(h)
    await h.stop()
    h.fake.remove_guild(h.guild)  # nobody listened
    await h.start()
    assert await wait_until_async(h, lambda ids: ids == [h.guild.id])
    assert await rows_of(h.bot.store, h.guild.id) == EVERY_SETTING
    await h.run_scheduler(dt.timedelta(days=7, minutes=1))
    assert await rows_of(h.bot.store, h.guild.id) == NO_SETTING


async def test_a_server_that_invited_the_bot_back_while_it_was_offline_keeps_its_settings(harness: Harness) -> None:
    h = harness
    await set_every_setting_here(h)
    await leave(h)
    await h.stop()
    h.fake.rejoin_guild(h.guild)  # while the bot was offline: it finds the guild in READY
    await h.start()
    assert await wait_until_async(h, lambda ids: ids == [])
    await h.run_scheduler(dt.timedelta(days=8))
    assert await rows_of(h.bot.store, h.guild.id) == EVERY_SETTING


async def test_a_restart_keeps_every_setting_of_the_servers_it_is_in(harness: Harness) -> None:
    h = harness
    await set_every_setting_here(h)
    await h.restart()
    await h.run_scheduler(dt.timedelta(days=8))
    assert await departed(h.bot.store) == []
    assert await rows_of(h.bot.store, h.guild.id) == EVERY_SETTING


async def settle_in(h: Harness, guild: Guild) -> None:
    """Every per-guild setting, in another guild of the fake, through the bot's commands."""
    channel = guild.add_channel("general", TEXT)
    moderator = guild.add_member(name="mod", roles=[guild.add_role("Moderators", int(Permission.MANAGE_GUILD))])
    await set_every_setting(h.fake, guild, channel, moderator, listed=channel, zone="UTC", language="en")


async def test_a_process_of_some_shards_leaves_every_setting_of_the_other_shards_guilds_alone(
    harness: Harness,
) -> None:
    """The cluster's data loss, on both stores: a process that runs shard 0 of 2 starts, and its
    READY holds none of shard 1's guilds; their settings are the other process's, not gone."""
    h = harness
    mine, theirs = h.fake.add_guild("Mine", shard=(0, 2)), h.fake.add_guild("Theirs", shard=(1, 2))
    await h.settle(0.2)
    await settle_in(h, mine)
    await settle_in(h, theirs)
    await h.restart(shard_count=2, shard_ids=(0,))
    await h.run_scheduler(dt.timedelta(days=8))
    assert await departed(h.bot.store) == []
    assert await rows_of(h.bot.store, theirs.id) == EVERY_SETTING
    assert await rows_of(h.bot.store, mine.id) == EVERY_SETTING
