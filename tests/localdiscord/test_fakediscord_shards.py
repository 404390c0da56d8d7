"""The local Discord's gateway with shards, spoken to as Discord is: raw websocket frames.

One session per shard: READY and GUILD_CREATE carry only that shard's guilds, each guild's
events arrive on the connection of the shard that owns it, and a bad shard or an
oversized one is refused with Discord's close codes (4010, 4011).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.shards import shard_of
from localdiscord import IDENTIFY_INTERVAL, FakeDiscord
from tests.support.harness import OPENAPI_SPEC

Json = dict[str, Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(OPENAPI_SPEC)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Json:
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    frame: Json = json.loads(msg.data)
    return frame


async def identify(
    http: aiohttp.ClientSession, fake: FakeDiscord, shard: list[int] | None
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
    hello = await receive(ws)
    assert hello["op"] == 10
    payload: Json = {"token": fake.token, "intents": 1, "properties": {}}
    if shard is not None:
        payload["shard"] = shard
    await ws.send_str(json.dumps({"op": 2, "d": payload}))
    return ws


async def ready_and_guilds(ws: aiohttp.ClientWebSocketResponse) -> tuple[Json, set[int]]:
    ready = await receive(ws)
    assert ready["t"] == "READY"
    created = set()
    for _ in ready["d"]["guilds"]:
        frame = await receive(ws)
        assert frame["t"] == "GUILD_CREATE"
        created.add(int(frame["d"]["id"]))
    return ready["d"], created


async def test_gateway_bot_tells_the_recommended_shards_and_identify_concurrency(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    fake.recommended_shards, fake.max_concurrency = 4, 16
    async with http.get(fake.api_base_url + "/gateway/bot", headers={"Authorization": f"Bot {fake.token}"}) as response:
        body = await response.json()
    assert body["shards"] == 4
    assert body["session_start_limit"]["max_concurrency"] == 16
    assert body["url"] == fake.gateway_url


async def test_each_shard_gets_only_its_guilds_and_their_events(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    first = fake.add_guild("On shard 0", shard=(0, 2))
    second = fake.add_guild("On shard 1", shard=(1, 2))
    also_second = fake.add_guild("Also on shard 1", shard=(1, 2))
    assert [shard_of(g.id, 2) for g in (first, second, also_second)] == [0, 1, 1]

    zero = await identify(http, fake, [0, 2])
    ready_0, guilds_0 = await ready_and_guilds(zero)
    one = await identify(http, fake, [1, 2])
    ready_1, guilds_1 = await ready_and_guilds(one)
    await fake.wait_ready()

    assert ready_0["shard"] == [0, 2]
    assert ready_1["shard"] == [1, 2]
    assert guilds_0 == {first.id}
    assert guilds_1 == {second.id, also_second.id}
    assert ready_0["session_id"] != ready_1["session_id"]

    channel = second.add_channel("news-for-shard-1")
    event = await receive(one)
    assert (event["t"], event["d"]["id"]) == ("CHANNEL_CREATE", str(channel.id))
    assert event["s"] == len(ready_1["guilds"]) + 2, "each shard's session counts its own sequence"
    first.add_channel("news-for-shard-0")
    event = await receive(zero)
    assert (event["t"], event["d"]["guild_id"]) == ("CHANNEL_CREATE", str(first.id))
    # Nothing of guild 0 reached shard 1, and an event of no guild goes to shard 0.
    await fake.dispatch("USER_UPDATE", fake.bot_user.to_payload())
    assert (await receive(zero))["t"] == "USER_UPDATE"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(one.receive(), 0.2)
    await zero.close()
    await one.close()


async def test_an_interaction_arrives_on_the_shard_of_its_guild(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    guild = fake.add_guild("On shard 1", shard=(1, 2))
    channel = guild.add_channel("general")
    member = guild.add_member(name="onjo")
    fake.commands[None] = [{"id": "1", "name": "about", "type": 1, "description": "d", "application_id": "1"}]
    zero = await identify(http, fake, [0, 2])
    await ready_and_guilds(zero)
    one = await identify(http, fake, [1, 2])
    await ready_and_guilds(one)
    await fake.slash(guild, channel, member, "about", wait=False)
    event = await receive(one)
    assert event["t"] == "INTERACTION_CREATE"
    assert event["d"]["guild_id"] == str(guild.id)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(zero.receive(), 0.2)
    await zero.close()
    await one.close()


async def test_without_a_shard_field_the_session_is_shard_0_of_1(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    guilds = {fake.add_guild(f"Server {n}").id for n in range(3)}
    ws = await identify(http, fake, None)
    ready, created = await ready_and_guilds(ws)
    assert ready["shard"] == [0, 1]
    assert created == guilds
    await ws.close()


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], [0], "0,1", [True, 2]])
async def test_a_bad_shard_is_closed_with_4010(fake: FakeDiscord, http: aiohttp.ClientSession, shard: Any) -> None:
    ws = await identify(http, fake, shard)
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4010
    assert fake.identify_count == 0


async def test_too_many_guilds_on_one_shard_is_closed_with_4011(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    fake.max_guilds_per_shard = 2
    for n in range(3):
        fake.add_guild(f"Server {n}", shard=(0, 2))
    refused = await identify(http, fake, [0, 1])
    await asyncio.wait_for(refused.receive(), 5)
    assert refused.close_code == 4011
    # With two shards, shard 0 still holds all three: still too many; shard 1 holds none.
    again = await identify(http, fake, [0, 2])
    await asyncio.wait_for(again.receive(), 5)
    assert again.close_code == 4011
    fine = await identify(http, fake, [1, 2])
    _, created = await ready_and_guilds(fine)
    assert created == set()
    await fine.close()


async def test_a_dropped_shard_resumes_its_own_session_and_misses_nothing(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    guild = fake.add_guild("On shard 1", shard=(1, 2))
    zero = await identify(http, fake, [0, 2])
    await ready_and_guilds(zero)
    one = await identify(http, fake, [1, 2])
    ready, _ = await ready_and_guilds(one)
    last_seq = 1 + len(ready["guilds"])
    await fake.drop_gateway(shard_id=1)
    assert not zero.closed
    channel = guild.add_channel("while-away")
    await asyncio.sleep(0.05)
    back = await http.ws_connect(fake.resume_gateway_url + "?v=10&encoding=json")
    await receive(back)  # HELLO
    await back.send_str(
        json.dumps({"op": 6, "d": {"token": fake.token, "session_id": ready["session_id"], "seq": last_seq}})
    )
    missed = await receive(back)
    assert (missed["t"], missed["d"]["id"]) == ("CHANNEL_CREATE", str(channel.id))
    assert (await receive(back))["t"] == "RESUMED"
    await fake.wait_ready()
    for ws in (zero, one, back):
        await ws.close()


async def test_two_processes_share_one_global_limit_per_bot_token(fake: FakeDiscord) -> None:
    """Discord's 50/s is per bot token, not per connection: shards 0 and 1 in two processes
    (two sessions, two gateway connections) get one window between them."""
    fake.recommended_shards = 2
    fake.global_rate_limit(per_second=5)
    url = fake.api_base_url + "/users/@me"
    async with aiohttp.ClientSession() as first, aiohttp.ClientSession() as second:
        shard_0 = await identify(first, fake, [0, 2])
        shard_1 = await identify(second, fake, [1, 2])
        await ready_and_guilds(shard_0)
        await ready_and_guilds(shard_1)

        async def get_me(session: aiohttp.ClientSession, token: str) -> int:
            async with session.get(url, headers={"Authorization": f"Bot {token}"}) as response:
                await response.read()
                return response.status

        stranger = await get_me(first, "not-this-bots-token")
        statuses = await asyncio.gather(*(get_me(session, fake.token) for session in (first, second) * 4))
        await shard_0.close()
        await shard_1.close()
    assert stranger == 401  # a request without this bot's token counts for nobody
    assert sorted(statuses) == [200] * 5 + [429] * 3, "8 requests, 5 in the window: one limit, not one each"
    assert fake.rate_limit_hits == 3


async def test_a_second_identify_in_one_bucket_within_5_s_gets_an_invalid_session(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    """Discord's identify pacing holds across connections: shard 1 shares shard 0's bucket
    under max_concurrency 1, so its IDENTIFY right after shard 0's is refused with op 9."""
    fake.identify_interval = IDENTIFY_INTERVAL
    fake.add_guild("Zero", shard=(0, 2))
    fake.add_guild("One", shard=(1, 2))
    zero = await identify(http, fake, [0, 2])
    await ready_and_guilds(zero)
    too_soon = await identify(http, fake, [1, 2])
    refused = await receive(too_soon)
    assert (refused["op"], refused["d"]) == (9, False)
    assert fake.identify_count == 1
    assert [line for line in fake.violations if line.startswith("IDENTIFY of shard 1: bucket 0")]

    fake.max_concurrency = 2  # now shard 1 has a bucket of its own
    other_bucket = await identify(http, fake, [1, 2])
    _, guilds = await ready_and_guilds(other_bucket)
    assert len(guilds) == 1
    assert fake.identify_count == 2
    for ws in (zero, too_soon, other_bucket):
        await ws.close()
