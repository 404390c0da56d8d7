"""An operator's view of a running `python -m bot`: metrics scraped over HTTP, /livez and /readyz
and `python -m bot health` through a shard's disconnect and a store outage, JSON logs with no secret.

One real bot process of two shards on PostgreSQL, reached through a proxy the test cuts off and
mends (its URL carries a password, which trust authentication ignores but the bot must never print),
against the local Discord.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from localdiscord import FakeDiscord
from tests.support.environment import bot_environment
from tests.support.harness import OPENAPI_SPEC
from tests.support.pg_private import free_port
from tests.support.processes import TOKEN, BotProcess, counted, create_poll_of_choices
from tests.support.tcp_proxy import OutageProxy

pytestmark = [pytest.mark.slow, pytest.mark.postgresql_only]

PASSWORD = "hunter2-never-in-a-log"


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


async def health_command(env: dict[str, str], workdir: Path) -> tuple[int, str]:
    """`python -m bot health` as a script or systemd would run it: its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "health", cwd=workdir, env=env, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, stdout.decode()


def sample(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the text format, or None if it is absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in exposition.splitlines():
        found = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if found and ",".join(sorted((found.group(1) or "").split(","))) == wanted:
            return float(found.group(2))
    return None


async def until_status(port: int, path: str, status: int, within: float = 20) -> str:
    seen: list[tuple[int, str]] = []

    async def check() -> bool:
        seen.append(await get(port, path))
        return seen[-1][0] == status

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, f"{path} never answered {status}: last {seen[-1]}"
        await asyncio.sleep(0.1)
    return seen[-1][1]


async def test_metrics_and_health_follow_a_shard_disconnect_and_a_store_outage(
    tmp_path: Path, empty_postgres_url: str
) -> None:
    database = make_url(empty_postgres_url)
    proxy = OutageProxy(database.host or "127.0.0.1", database.port or 5432)
    await proxy.start()
    fake = FakeDiscord(OPENAPI_SPEC, token=TOKEN)
    fake.max_concurrency = 2
    await fake.start()
    guilds = [fake.add_guild(f"Shard {shard} Fans", shard=(shard, 2)) for shard in (0, 1)]
    channel, member = guilds[0].add_channel("general"), guilds[0].add_member(name="fan")
    port = free_port()
    url = database.set(host="127.0.0.1", port=proxy.port, password=PASSWORD).render_as_string(hide_password=False)
    env = {
        "DATABASE_URL": url,
        "SHARD_COUNT": "2",
        "METRICS_PORT": str(port),
        "LOG_FORMAT": "json",
    }
    bot = BotProcess(fake, tmp_path, tmp_path / "bot.log", extra_env=env)
    command_env = bot_environment(fake, tmp_path, TOKEN) | env
    try:
        await bot.start()
        assert json.loads(await until_status(port, "/readyz", 200)) == {"status": "ready"}
        assert await health_command(command_env, tmp_path) == (0, '{"status": "ready"}\n')
        status, live = await get(port, "/livez")
        assert (status, json.loads(live)) == (200, {"status": "live"})

        record = await fake.slash(guilds[0], channel, member, "about", timeout=10)
        assert record.answered
        await create_poll_of_choices(fake, guilds[0], channel, member, 2)
        [poll] = [m for m in fake.channel_messages(channel) if "poll:vote:" in json.dumps(m.get("components"))]
        buttons = [b["custom_id"] for row in poll["components"] for b in row["components"] if "vote" in b["custom_id"]]
        voted = await fake.click(guilds[0], channel, member, poll, buttons[0], timeout=10)
        assert counted(voted)
        _, metrics = await get(port, "/metrics")
        assert sample(metrics, "hyosan_interactions_total", command="about", outcome="answered") == 1
        assert sample(metrics, "hyosan_interactions_total", command="poll create", outcome="answered") == 1
        assert sample(metrics, "hyosan_interactions_total", command="component", outcome="answered") == 1
        assert sample(metrics, "hyosan_votes_total", result="stored") == 1
        assert sample(metrics, "hyosan_interaction_response_seconds_count") == 3
        assert sample(metrics, "hyosan_interaction_response_seconds_bucket", le="3.0") == 3
        for shard in ("0", "1"):
            assert sample(metrics, "hyosan_guilds", shard=shard) == 1
            assert sample(metrics, "hyosan_shard_ready", shard=shard) == 1
            assert sample(metrics, "hyosan_gateway_latency_seconds", shard=shard) is not None
        assert (sample(metrics, "hyosan_store_transaction_seconds_count") or 0) > 0
        assert (sample(metrics, "hyosan_data_pack_age_days") or -1) >= 0
        assert "guild" not in metrics.replace("hyosan_guilds", "")  # no server id is ever a label

        # Shard 1's connection drops and its RESUME goes unanswered: not ready, still live.
        fake.gateway.hold(1)
        await fake.gateway.drop(shard_id=1)
        reason = json.loads(await until_status(port, "/readyz", 503))
        assert reason == {"status": "unavailable", "reason": "shard 1 is not connected and READY"}
        code, said = await health_command(command_env, tmp_path)
        assert (code, json.loads(said)["reason"]) == (1, "shard 1 is not connected and READY")
        assert (await get(port, "/livez"))[0] == 200
        _, metrics = await get(port, "/metrics")
        assert sample(metrics, "hyosan_shard_ready", shard="1") == 0
        await fake.gateway.release(1)
        await until_status(port, "/readyz", 200)

        # The store goes away: not ready until it is back, and the bot recovers by itself.
        proxy.cut()
        reason = json.loads(await until_status(port, "/readyz", 503))
        assert reason["reason"] == "the store is unavailable", reason
        assert (await health_command(command_env, tmp_path))[0] == 1
        refused = await fake.click(guilds[0], channel, member, poll, buttons[1], timeout=10)
        assert refused.answered
        assert not counted(refused)
        proxy.mend()
        await until_status(port, "/readyz", 200, within=30)
        assert (await health_command(command_env, tmp_path))[0] == 0
        _, metrics = await get(port, "/metrics")
        assert (sample(metrics, "hyosan_store_errors_total", kind="unavailable") or 0) >= 1
        assert sample(metrics, "hyosan_interactions_total", command="component", outcome="user_error") == 1
    finally:
        await bot.stop()
        await fake.close()
        await proxy.close()
    assert_json_log_without_secrets(bot.log(), lambda line: PASSWORD in line or TOKEN in line)


def assert_json_log_without_secrets(log: str, leaks: Callable[[str], bool]) -> None:
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
        assert not leaks(line), line
    assert any(json.loads(line)["level"] == "WARNING" for line in lines)  # the outage was logged
