"""The preview's local Discord is only the page's and the bot's: a token of its own at every run,
nothing for a page of another site open in the same browser, and a malformed id is a 400.

The first two stories run ``python -m bot preview`` as a person does and reach its local
Discord at the address and with the token the preview gave its bot (read from the bot's
environment, as anyone on this machine with the person's rights could); the others sweep
every route of the local Discord and of the page in this process.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.preview.command import local_discord
from bot.preview.web import PreviewSite
from bot.preview.world import PreviewWorld, build_world
from localdiscord import FakeDiscord
from localdiscord.state import parse_snowflake
from tests.support.preview_process import LIVE, start_preview

#: Ids a page or a broken client may send: words, a sign, 65 bits, an underscore, a fullwidth digit.
MALFORMED_IDS = ("abc", "-1", str(2**64), "1_000", "\uff11\uff12", "0x10", "1e5")
OLD_FIXED_TOKEN = "fake-bot-token"


def bot_environment_of(preview_pid: int) -> dict[str, str]:
    """The environment of the ``python -m bot run`` the preview started (its only child)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent != preview_pid:
                continue
            raw = (stat.parent / "environ").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
    raise AssertionError(f"the preview (pid {preview_pid}) has no child process")


def fill(template: str, values: Mapping[str, object]) -> str:
    """A route template with its ``{params}`` filled in (1 where ``values`` has none)."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m[1], 1)), template)


def assert_invalid_form_body(status: int, text: str, field: str) -> None:
    assert status == 400, text
    assert "Traceback" not in text
    body = json.loads(text)
    assert body["code"] == 50035, body
    assert body["message"] == "Invalid Form Body"
    assert field in body["errors"], body


async def test_a_running_previews_local_discord_serves_only_the_bot_it_started(tmp_path: Path) -> None:
    preview = await start_preview(tmp_path)
    try:
        await preview.wait_for_line(LIVE)
        env = bot_environment_of(preview.process.pid)
        token, api, gateway = env["DISCORD_TOKEN"], env["DISCORD_API_BASE_URL"], env["DISCORD_GATEWAY_URL"]
        assert token != OLD_FIXED_TOKEN
        assert len(token) >= 32, "a token nobody guesses"
        bot = {"Authorization": f"Bot {token}"}
        page_origin = preview.url.rstrip("/")
        async with aiohttp.ClientSession() as session:
            async with session.get(api + "/users/@me", headers={"Authorization": f"Bot {OLD_FIXED_TOKEN}"}) as guess:
                assert guess.status == 401
            async with session.get(api + "/users/@me", headers=bot) as own:
                assert own.status == 200
            port = api.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
            for foreign in (
                {"Host": f"evil.example:{port}"},
                {"Origin": "http://evil.example"},
                {"Origin": page_origin},
            ):
                async with session.get(api + "/users/@me", headers=bot | foreign) as refused:
                    assert refused.status == 403, foreign
            for origin in ("http://evil.example", page_origin):
                with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
                    await session.ws_connect(gateway + "?v=10&encoding=json", origin=origin)
                assert handshake.value.status == 403
            async with session.get(api + "/channels/abc/messages", headers=bot) as malformed:
                assert_invalid_form_body(malformed.status, await malformed.text(), "channel_id")
            # The bot, which sends no Origin, is still connected and its commands still synced.
            async with session.get(preview.url + "api/state") as state:
                assert (await state.json())["ready"] is True
    finally:
        code = await preview.stop()
    assert code == 0, preview.output
    assert "Traceback" not in preview.output


async def test_the_page_of_a_running_preview_refuses_another_site_and_malformed_ids(tmp_path: Path) -> None:
    preview = await start_preview(tmp_path)
    try:
        await preview.wait_for_line(LIVE)
        async with aiohttp.ClientSession() as session:
            async with session.get(preview.url + "api/state") as state:
                world = await state.json()
            channel, member = world["channels"][0]["id"], world["members"][0]["id"]
            # A fetch from another site's page carries its Origin: refused even for reading.
            async with session.get(
                preview.url + f"api/messages?channel={channel}&member={member}",
                headers={"Origin": "http://evil.example"},
            ) as read:
                assert read.status == 403
            for bad in ("abc", str(2**64), -1, ["1"], {"id": 1}):
                body = {"channel": channel, "member": member, "locale": "en-US", "message": bad, "custom_id": "x"}
                async with session.post(preview.url + "api/click", json=body) as click:
                    text = await click.text()
                    assert click.status == 400, (bad, text)
                    assert "Traceback" not in text
                    assert (await click.json())["error"] == "That message is gone."
    finally:
        code = await preview.stop()
    assert code == 0, preview.output
    assert "Traceback" not in preview.output


def test_every_run_of_the_preview_has_a_token_of_its_own() -> None:
    tokens = {local_discord().token for _ in range(3)}
    assert len(tokens) == 3
    assert OLD_FIXED_TOKEN not in tokens


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("1234", 1234), (str(2**64 - 1), 2**64 - 1), (42, 42)]
    + [(bad, None) for bad in (*MALFORMED_IDS, "", " 1", "01", "1.0", True, None, 1.0, -1, 2**64, ["1"])],
)
def test_a_snowflake_is_digits_of_an_unsigned_64_bit_value(value: object, expected: int | None) -> None:
    assert parse_snowflake(value) == expected


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    running = local_discord()
    await running.start()
    try:
        yield running
    finally:
        await running.close()


async def test_every_route_of_the_local_discord_answers_a_malformed_id_with_discords_400(fake: FakeDiscord) -> None:
    guild = fake.add_guild("Hyosan High")
    channel = guild.add_channel("general")
    good = {"application_id": fake.application_id, "channel_id": channel.id, "guild_id": guild.id}
    headers = {"Authorization": f"Bot {fake.token}"}
    swept = 0
    async with aiohttp.ClientSession() as session:
        for method, template in fake.routes:
            for name in re.findall(r"\{(\w+_id)\}", template):
                for bad in MALFORMED_IDS:
                    path = fill(template, {**good, name: bad})
                    async with session.request(method, fake.api_base_url + path, headers=headers) as response:
                        assert_invalid_form_body(response.status, await response.text(), name)
                    swept += 1
    assert swept >= 30 * len(MALFORMED_IDS)
    assert not fake.unhandled


async def test_a_malformed_id_in_a_query_or_a_body_is_discords_400_too(fake: FakeDiscord) -> None:
    channel = fake.add_guild("Hyosan High").add_channel("general")
    messages = f"{fake.api_base_url}/channels/{channel.id}/messages"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for query, field in (("before=abc", "before"), ("after=-5", "after"), ("limit=ten", "limit")):
            async with session.get(f"{messages}?{query}") as listed:
                assert_invalid_form_body(listed.status, await listed.text(), field)
        reply = {"content": "hi", "message_reference": {"message_id": str(2**64)}}
        async with session.post(messages, json=reply) as posted:
            text = await posted.text()
            assert_invalid_form_body(posted.status, text, "message_reference")
            assert "message_id" in json.loads(text)["errors"]["message_reference"]
    assert fake.channel_messages(channel.id) == [], "nothing half-written"


async def test_the_gateway_closes_with_4002_on_a_frame_it_cannot_read(fake: FakeDiscord) -> None:
    identify = {"op": 2, "d": {"token": fake.token, "intents": 0, "properties": {}}}
    frames: list[list[Any]] = [
        ["not json"],
        [[1, 2]],
        [identify, {"op": 8, "d": {"guild_id": "abc", "query": "", "limit": 0}}],
        [{"op": 2, "d": ["a list"]}],
        [{"op": 2, "d": {"token": fake.token, "intents": "all"}}],
    ]
    async with aiohttp.ClientSession() as session:
        for sent in frames:
            async with session.ws_connect(fake.gateway_url + "?v=10&encoding=json") as ws:
                assert (await ws.receive_json())["op"] == 10
                for frame in sent:
                    await (ws.send_str(frame) if isinstance(frame, str) else ws.send_json(frame))
                while not ws.closed:
                    await ws.receive()
                assert ws.close_code == 4002, sent


async def test_the_local_discord_refuses_a_foreign_host_or_origin(fake: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for foreign in ({"Host": "evil.example"}, {"Host": f"127.0.0.1.nip.io:{fake.port}"}, {"Origin": "null"}):
            async with session.get(fake.api_base_url + "/users/@me", headers=foreign) as refused:
                assert refused.status == 403
                assert (await refused.json())["message"] == "403: Forbidden"
        for same_machine in (f"127.0.0.1:{fake.port}", f"localhost:{fake.port}"):
            async with session.get(fake.api_base_url + "/users/@me", headers={"Host": same_machine}) as own:
                assert own.status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(fake.gateway_url, headers={"Host": "evil.example"})
    assert len(fake.refused) == 4


@pytest_asyncio.fixture
async def page(fake: FakeDiscord) -> AsyncIterator[tuple[PreviewSite, PreviewWorld]]:
    world = build_world(fake)
    site = PreviewSite(fake, world)
    await site.start(0)
    try:
        yield site, world
    finally:
        await site.close()


@pytest.mark.parametrize("key", ["member", "channel", "message", "interaction"])
async def test_every_endpoint_of_the_page_answers_a_malformed_id_with_400(
    page: tuple[PreviewSite, PreviewWorld], key: str
) -> None:
    site, world = page
    good: dict[str, Any] = {
        "member": str(world.personas[0].member.id),
        "channel": str(world.general.id),
        "locale": "en-US",
        "message": str(world.general.id),
        "interaction": "1",
        "custom_id": "x",
        "command": "poll create",
        "values": [],
    }
    async with aiohttp.ClientSession() as session:
        for bad in (*MALFORMED_IDS, -1, 2**64, ["1"], {"id": "1"}, True, 1.5):
            async with session.get(site.url + "api/messages", params={**good, key: str(bad)}) as read:
                assert read.status == (400 if key in ("member", "channel") else 200), (key, bad)
            for endpoint in ("command", "autocomplete", "click", "select", "modal"):
                async with session.post(site.url + "api/" + endpoint, json={**good, key: bad}) as response:
                    text = await response.text()
                    assert response.status in (200, 400), (endpoint, key, bad, text)
                    assert "Traceback" not in text
                    if response.status == 400:
                        assert "error" in json.loads(text)
