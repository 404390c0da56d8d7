"""Shards end to end: the real bot with SHARD_COUNT=2 against the local Discord.

Both shards in one process answer their guilds and post their countdowns once each; a
process that runs only shard 1 of 2 leaves shard 0's guilds' timed work alone (their
process does it) and does not sync commands (the process with shard 0 does).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from bot.shards import shard_of
from cogs.countdown import repo
from cogs.polls import repo as polls_repo
from localdiscord import FakeDiscord, Permission
from localdiscord.state import TEXT, Channel, Guild, Member
from tests.support.harness import Harness
from tests.support.stores import fetch_rows, read_with

#: Their subject is the store (see tests/support/stores.py): they run on SQLite and PostgreSQL.
pytestmark = pytest.mark.both_stores


@dataclass
class FanServer:
    guild: Guild
    general: Channel
    member: Member
    moderator: Member


def add_fan_server(fake: FakeDiscord, name: str, shard: tuple[int, int]) -> FanServer:
    guild = fake.add_guild(name, shard=shard)
    moderators = guild.add_role("Moderators", int(Permission.MANAGE_GUILD | Permission.MANAGE_MESSAGES))
    return FanServer(
        guild,
        guild.add_channel("general", TEXT),
        guild.add_member(name="fan"),
        guild.add_member(name="moderator", roles=[moderators]),
    )


@pytest.fixture
async def two_shards(harness: Harness) -> tuple[Harness, FanServer, FanServer]:
    """The harness's guild and a second one on the other shard of 2, the bot running both."""
    h = harness
    home = FanServer(h.guild, h.general, h.member, h.moderator)
    other = add_fan_server(h.fake, "Second Fan Server", (1 - shard_of(h.guild.id, 2), 2))
    h.fake.max_concurrency = 2  # as Discord grants larger bots: both shards IDENTIFY at once
    await h.restart(shard_count=2)
    by_shard = sorted([home, other], key=lambda server: shard_of(server.guild.id, 2))
    return h, by_shard[0], by_shard[1]


def about_fields(record: Any) -> dict[str, str]:
    return {field["name"]: field["value"] for field in record.callback["data"]["embeds"][0]["fields"]}


async def set_daily(h: Harness, server: FanServer) -> None:
    record = await h.fake.slash(
        server.guild,
        server.general,
        server.moderator,
        "settings countdown set",
        {"channel": server.general, "time": "13:00", "timezone": "UTC", "cadence": "daily", "mode": "post"},
    )
    assert record.ephemeral
    assert "Countdown posts set" in record.content


def countdown_posts(h: Harness, server: FanServer) -> list[dict[str, Any]]:
    """The scheduled posts: the bot's own embeds that are not answers, polls or poll results."""
    return [
        m
        for m in h.fake.channel_messages(server.general)
        if m["embeds"] and not ({"interaction_metadata", "message_reference"} & m.keys() or m.get("components"))
    ]


async def test_both_shards_identify_and_each_guild_answers_with_its_own_shard(
    two_shards: tuple[Harness, FanServer, FanServer],
) -> None:
    h, zero, one = two_shards
    shards = sorted(tuple(p["shard"]) for p in h.fake.identify_payloads if "shard" in p)[-2:]
    assert shards == [(0, 2), (1, 2)]
    assert h.bot.shard_count == 2
    assert {g.id for g in h.bot.guilds} >= {zero.guild.id, one.guild.id}

    for server, shard in ((zero, 0), (one, 1)):
        record = await h.fake.slash(server.guild, server.general, server.member, "about")
        assert record.answered
        fields = about_fields(record)
        assert fields["Shard"] == f"{shard} of 2 (numbered from 0)"
        assert fields["Gateway latency"].endswith(" ms") or fields["Gateway latency"] == "measuring…"
        # The interaction came over the shard that owns the guild.
        assert h.bot.get_guild(server.guild.id).shard_id == shard  # type: ignore[union-attr]


async def test_a_countdown_due_in_guilds_of_both_shards_goes_out_once_in_each(
    two_shards: tuple[Harness, FanServer, FanServer],
) -> None:
    h, zero, one = two_shards
    await set_daily(h, zero)
    await set_daily(h, one)

    await h.run_scheduler(dt.timedelta(hours=1))  # 13:00 UTC, the slot of both
    await h.run_scheduler(dt.timedelta(minutes=1))  # asked again: nothing more

    assert len(countdown_posts(h, zero)) == 1
    assert len(countdown_posts(h, one)) == 1
    for server in (zero, one):
        assert [state for _, state, _ in await read_with(h.bot.store, repo.fetch_ledger, server.guild.id)] == ["sent"]


async def test_a_process_of_shard_1_only_leaves_shard_0s_guilds_to_their_process(
    two_shards: tuple[Harness, FanServer, FanServer],
) -> None:
    h, zero, one = two_shards
    await set_daily(h, zero)
    await set_daily(h, one)
    poll = await h.fake.slash(
        zero.guild,
        zero.general,
        zero.member,
        "poll create",
        {"question": "Who returns?", "options": "On-jo | Su-hyeok", "duration": "30m"},
    )
    assert await poll.wait_followups()
    syncs_before = len(h.fake.command_syncs)

    await h.restart(shard_count=2, shard_ids=(1,))
    assert sorted(h.bot.shards) == [1]
    assert h.bot.get_guild(zero.guild.id) is None, "shard 0's guilds are not on this process's connection"
    assert len(h.fake.command_syncs) == syncs_before, "only the process with shard 0 syncs commands"

    await h.run_scheduler(dt.timedelta(hours=1))  # 13:00: both slots due; the poll's 30 minutes are over

    assert countdown_posts(h, zero) == []
    assert await read_with(h.bot.store, repo.fetch_ledger, zero.guild.id) == []
    assert len(countdown_posts(h, one)) == 1
    [open_poll] = await fetch_rows(h.bot.store, "SELECT closed_at FROM polls")
    assert open_poll[0] is None, "the poll of shard 0's guild waits for its own process"
    assert await read_with(h.bot.store, polls_repo.unannounced_polls) == []

    # The process that owns shard 0 comes back: its guild's post and poll are done then, once.
    await h.restart(shard_count=2, shard_ids=(0,))
    await h.run_scheduler(dt.timedelta(seconds=1))
    await h.settle(0.3)
    assert len(countdown_posts(h, zero)) == 1
    assert len(countdown_posts(h, one)) == 1
    [closed] = await fetch_rows(h.bot.store, "SELECT closed_at, announced FROM polls")
    assert closed[0] is not None
