"""`python -m bot` as a real process against the fake Discord: settings from the
environment, endpoints applied, graceful shutdown on SIGTERM, and the token kept secret."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from localdiscord import Channel, FakeDiscord, Guild, Member, wait_until
from tests.support.bot_process import run_bot_to_exit
from tests.support.environment import bot_environment
from tests.support.harness import OPENAPI_SPEC

TOKEN = "MTIzNDU2Nzg5.secret-part.do-not-log-me"


#: The output of each running bot process, read as it comes so a DEBUG log never fills the pipe and stalls the bot.
_OUTPUT: dict[int, asyncio.Task[bytes]] = {}


async def start_bot_process(fake: FakeDiscord, workdir: Path, token: str, **env: str) -> asyncio.subprocess.Process:
    """``python -m bot`` with ``env`` over the test environment; its output is read as it comes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=workdir,
        env=bot_environment(fake, workdir, token) | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    _OUTPUT[process.pid] = asyncio.create_task(process.stdout.read())
    return process


async def finish(process: asyncio.subprocess.Process) -> bytes:
    """Wait for the process to end; its whole output (stdout and stderr)."""
    output = await _OUTPUT.pop(process.pid)
    await process.wait()
    return output


@pytest.fixture
async def fake() -> FakeDiscord:
    fake = FakeDiscord(OPENAPI_SPEC, token=TOKEN)
    await fake.start()
    fake.add_guild("Process Test Guild")
    yield fake
    await fake.close()


async def test_the_bot_process_connects_serves_and_stops_cleanly_on_sigterm(fake: FakeDiscord, tmp_path: Path) -> None:
    guild = next(iter(fake.guilds.values()))
    channel = guild.add_channel("general")
    member = guild.add_member(name="fan")
    process = await start_bot_process(fake, tmp_path, TOKEN)
    try:
        await fake.wait_ready(timeout=30)
        for _ in range(300):
            if fake.commands_for(None):
                break
            await asyncio.sleep(0.05)
        record = await fake.slash(guild, channel, member, "about", timeout=10)
        assert record.answered
    finally:
        process.send_signal(signal.SIGTERM)
        output = await asyncio.wait_for(finish(process), timeout=30)
    log = output.decode()
    assert process.returncode == 0, log
    assert "store closed" in log
    assert "Traceback" not in log
    assert TOKEN not in log
    assert "do-not-log-me" not in log
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM pack_entries").fetchone()[0] > 0


async def test_a_refused_token_is_explained_and_never_logged(fake: FakeDiscord, tmp_path: Path) -> None:
    wrong = "OTk5OTk5.wrong-token.never-print-this"
    process = await start_bot_process(fake, tmp_path, wrong)
    output = await asyncio.wait_for(finish(process), timeout=30)
    log = output.decode()
    assert process.returncode == 2, log
    assert "Discord refused DISCORD_TOKEN" in log
    assert "never-print-this" not in log
    assert wrong not in log
    assert "Traceback" not in log


async def test_an_unreachable_discord_is_one_clear_line(tmp_path: Path) -> None:
    closed = FakeDiscord(OPENAPI_SPEC, token=TOKEN)
    await closed.start()
    api = closed.api_base_url
    await closed.close()  # nothing listens there any more
    finished = await run_bot_to_exit(tmp_path, bot_environment(closed, tmp_path, TOKEN), timeout=30)
    assert finished.returncode == 1
    assert f"error: cannot reach Discord at {api}" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert TOKEN not in finished.stderr


async def test_a_bot_process_with_two_shards_serves_the_guilds_of_both(tmp_path: Path) -> None:
    fake = FakeDiscord(OPENAPI_SPEC, token=TOKEN)
    fake.max_concurrency = 2
    await fake.start()
    servers = []
    for shard in (0, 1):
        guild = fake.add_guild(f"Shard {shard} Guild", shard=(shard, 2))
        servers.append((shard, guild, guild.add_channel("general"), guild.add_member(name="fan")))
    process = await start_bot_process(fake, tmp_path, TOKEN, SHARD_COUNT="2")
    try:
        for _ in range(600):
            if fake.commands_for(None) and len(fake.gateway.sessions) == 2:
                break
            await asyncio.sleep(0.05)
        await fake.wait_ready(timeout=30)
        for shard, guild, channel, member in servers:
            record = await fake.slash(guild, channel, member, "about", timeout=10)
            fields = {f["name"]: f["value"] for f in record.callback["data"]["embeds"][0]["fields"]}
            assert fields["Shard"] == f"{shard} of 2 (numbered from 0)"
    finally:
        process.send_signal(signal.SIGTERM)
        output = await asyncio.wait_for(finish(process), timeout=30)
        await fake.close()
    log = output.decode()
    assert process.returncode == 0, log
    assert sorted(tuple(p["shard"]) for p in fake.identify_payloads) == [(0, 2), (1, 2)]
    assert "Traceback" not in log


async def test_too_many_guilds_for_one_shard_is_one_clear_line(tmp_path: Path) -> None:
    fake = FakeDiscord(OPENAPI_SPEC, token=TOKEN)
    fake.max_guilds_per_shard = 2  # Discord's 2,500, scaled down
    await fake.start()
    for n in range(3):
        fake.add_guild(f"Guild {n}")
    try:
        finished = await run_bot_to_exit(tmp_path, bot_environment(fake, tmp_path, TOKEN) | {"SHARD_COUNT": "1"})
    finally:
        await fake.close()
    assert finished.returncode == 2
    # The log (DEBUG here) shares stderr; the operator's line is the one "error:" line.
    [line] = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: Discord requires more shards (close code 4011")
    assert "SHARD_COUNT" in line
    assert "Traceback" not in finished.stderr


async def gateway_latency_ms(fake: FakeDiscord, guild: Guild, channel: Channel, member: Member) -> int:
    """The latency /about shows, which is discord.py's measure of the last heartbeat."""
    record = await fake.slash(guild, channel, member, "about", timeout=10)
    fields = {f["name"]: f["value"] for f in record.embeds[0]["fields"]}
    return int(fields["Gateway latency"].removesuffix(" ms"))


async def wait_for_heartbeats(fake: FakeDiscord, count: int, within: float) -> None:
    conn = fake.gateway.current
    assert conn is not None
    assert await wait_until(lambda: conn.heartbeats >= count, timeout=within), f"{conn.heartbeats} heartbeats"
    await asyncio.sleep(0.5)  # the ACK follows one round trip later


async def test_each_heartbeat_is_measured_against_itself_not_the_one_before(fake: FakeDiscord, tmp_path: Path) -> None:
    """discord.py's keep-alive thread records a beat's send time only after the loop sent it; a
    fake that ACKed faster than that made every beat look one whole interval late."""
    fake.gateway.heartbeat_interval_ms = 1000
    guild = next(iter(fake.guilds.values()))
    channel, member = guild.add_channel("general"), guild.add_member(name="fan")
    process = await start_bot_process(fake, tmp_path, TOKEN)
    try:
        await fake.wait_ready(timeout=30)
        assert await wait_until(lambda: bool(fake.commands_for(None)), timeout=15)
        latencies = []
        for beats in (3, 4, 5):
            await wait_for_heartbeats(fake, beats, within=15)
            latencies.append(await gateway_latency_ms(fake, guild, channel, member))
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(finish(process), timeout=30)
    assert max(latencies) < 500, f"latency measured against the previous beat: {latencies} ms"


@pytest.mark.slow
async def test_no_cant_keep_up_warning_at_discords_own_heartbeat_interval(fake: FakeDiscord, tmp_path: Path) -> None:
    """What the console showed every 41 s before the local Discord answered heartbeats like Discord."""
    process = await start_bot_process(fake, tmp_path, TOKEN)
    try:
        await fake.wait_ready(timeout=30)
        await wait_for_heartbeats(fake, 2, within=90)
    finally:
        process.send_signal(signal.SIGTERM)
        output = await asyncio.wait_for(finish(process), timeout=30)
    log = output.decode()
    assert "Keeping shard ID 0 websocket alive" in log  # an AutoShardedBot: shard 0 of 1
    assert "Can't keep up" not in log
