"""The local Discord's scheduled events, member role changes and mentions, held to Discord's
documented rules (and its OpenAPI description) with discord.py's own HTTP client."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import discord
import pytest

from localdiscord import FakeDiscord, Permission, point_discord_py_at
from localdiscord.messages import pinged
from tests.support.harness import OPENAPI_SPEC

START = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)


@pytest.fixture
async def http() -> AsyncIterator[tuple[FakeDiscord, discord.http.HTTPClient]]:
    fake = FakeDiscord(OPENAPI_SPEC)
    await fake.start()
    restore = point_discord_py_at(fake)
    client = discord.http.HTTPClient(discord.utils.MISSING)
    await client.static_login(fake.token)
    try:
        yield fake, client
    finally:
        await client.close()
        restore()
        await fake.close()


def external(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "name": "Season 2 premiere",
        "privacy_level": 2,
        "entity_type": 3,
        "entity_metadata": {"location": "Netflix"},
        "scheduled_start_time": START.isoformat(),
        "scheduled_end_time": (START + dt.timedelta(hours=1)).isoformat(),
    }
    fields.update(changes)
    return fields


async def test_scheduled_events_need_manage_events_and_count_the_interested(
    http: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = http
    fake.check_own_responses = True
    guild = fake.add_guild("Events")
    with pytest.raises(discord.Forbidden) as refused:
        await client.create_guild_scheduled_event(guild.id, **external())
    assert refused.value.code == 50013
    assert guild.bot_role is not None
    guild.bot_role.permissions |= int(Permission.MANAGE_EVENTS)
    made = await client.create_guild_scheduled_event(guild.id, **external())
    assert made["creator_id"] == str(fake.bot_user.id)
    assert "user_count" not in made
    await fake.mark_interested(guild, int(made["id"]), guild.add_member(name="fan"))
    counted = await client.get_scheduled_event(guild.id, made["id"], True)
    assert counted["user_count"] == 1
    moved = START + dt.timedelta(days=2)
    edited = await client.edit_scheduled_event(
        guild.id,
        made["id"],
        scheduled_start_time=moved.isoformat(),
        scheduled_end_time=(moved + dt.timedelta(hours=1)).isoformat(),
    )
    assert dt.datetime.fromisoformat(edited["scheduled_start_time"]) == moved
    assert [e["id"] for e in await client.get_scheduled_events(guild.id, False)] == [made["id"]]
    await client.delete_scheduled_event(guild.id, made["id"])
    with pytest.raises(discord.NotFound) as gone:
        await client.delete_scheduled_event(guild.id, made["id"])
    assert gone.value.code == 10070
    assert fake.own_response_problems == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"scheduled_end_time": None}, "scheduled_end_time"),
        (
            {"scheduled_start_time": "2020-01-01T00:00:00+00:00", "scheduled_end_time": "2020-01-01T01:00:00+00:00"},
            "scheduled_start_time",
        ),
        ({"scheduled_end_time": START.isoformat()}, "scheduled_end_time"),
    ],
)
async def test_an_external_event_needs_an_end_after_a_start_in_the_future(
    http: tuple[FakeDiscord, discord.http.HTTPClient], changes: dict[str, object], field: str
) -> None:
    fake, client = http
    guild = fake.add_guild("Events")
    assert guild.bot_role is not None
    guild.bot_role.permissions |= int(Permission.MANAGE_EVENTS)
    with pytest.raises(discord.HTTPException) as bad:
        await client.create_guild_scheduled_event(guild.id, **external(**changes))
    assert (bad.value.status, bad.value.code) == (400, 50035)
    assert field in str(bad.value)
    assert guild.scheduled_events == {}


async def test_member_roles_need_manage_roles_and_a_role_below_the_bots(
    http: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = http
    guild = fake.add_guild("Roles")
    fan = guild.add_member(name="fan")
    fans = guild.add_role("Fans", 0)
    assert guild.bot_role is not None
    with pytest.raises(discord.Forbidden):
        await client.add_role(guild.id, fan.id, fans.id)  # no Manage Roles
    guild.bot_role.permissions |= int(Permission.MANAGE_ROLES)
    with pytest.raises(discord.Forbidden):
        await client.add_role(guild.id, fan.id, fans.id)  # Fans sorts above the bot's role
    with pytest.raises(discord.Forbidden):
        await client.add_role(guild.id, fan.id, guild.bot_role.id)  # managed
    guild.set_role_position(guild.bot_role, fans.position + 1)
    await client.add_role(guild.id, fan.id, fans.id)
    assert fans.id in fan.roles
    await client.remove_role(guild.id, fan.id, fans.id)
    assert fans.id not in fan.roles
    with pytest.raises(discord.NotFound):
        await client.add_role(guild.id, fan.id, guild.id)  # @everyone is no role to give


def test_a_message_pings_only_what_allowed_mentions_lets_through() -> None:
    content = "<@&5> <@&6> @everyone"
    assert pinged(content, None, 1) == {"mention_everyone": True, "mention_roles": ["5", "6"]}
    assert pinged(content, {"parse": []}, 1) == {"mention_everyone": False, "mention_roles": []}
    assert pinged(content, {"parse": [], "roles": ["6"]}, 1) == {"mention_everyone": False, "mention_roles": ["6"]}
    assert pinged(content, {"parse": ["roles"]}, 1) == {"mention_everyone": False, "mention_roles": ["5", "6"]}
    # Without Mention Everyone, only mentionable roles ping, and @everyone never does.
    quiet = pinged(content, None, 1, mentionable=[6], may_mention_everyone=False)
    assert quiet == {"mention_everyone": False, "mention_roles": ["6"]}
