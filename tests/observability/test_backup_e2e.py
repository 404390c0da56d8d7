"""An operator backs up a running bot's store in the middle of a vote storm, then restores it.

The backup (`python -m bot store backup FILE`, a process of its own) holds every vote
acknowledged before it began; restored into an empty store (`store restore FILE`), the
database passes `python -m bot check` and the bot runs on it. A restore into a store that
holds data is refused. Backed up from SQLite and restored into PostgreSQL, and the other way round.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest

from localdiscord import FakeDiscord, InteractionRecord
from tests.support.bot_process import run_bot_to_exit
from tests.support.environment import bot_environment
from tests.support.harness import OPENAPI_SPEC
from tests.support.processes import TOKEN, BotProcess, counted, create_poll_of_choices
from tests.support.stores import postgres_server

pytestmark = [pytest.mark.slow, pytest.mark.both_stores]

VOTERS = 200
OPTIONS = 5
BACKUP_AFTER = 1.0  # seconds into the storm


async def test_a_backup_taken_during_a_vote_storm_holds_every_acknowledged_vote_and_restores(
    tmp_path: Path, store_url: str
) -> None:
    async with FakeDiscord(OPENAPI_SPEC, token=TOKEN) as fake:
        await backup_during_a_storm_then_restore(fake, tmp_path, store_url)


async def backup_during_a_storm_then_restore(fake: FakeDiscord, tmp_path: Path, store_url: str) -> None:
    guild = fake.add_guild("Backup Fans")
    channel, creator = guild.add_channel("general"), guild.add_member(name="host")
    voters = [guild.add_member(name=f"fan-{n}") for n in range(VOTERS)]
    running = tmp_path / "running"
    running.mkdir()
    env = bot_environment(fake, running, TOKEN) | {"DATABASE_URL": store_url, "LOG_LEVEL": "INFO"}
    bot = BotProcess(fake, running, tmp_path / "bot.log", extra_env={"DATABASE_URL": store_url})
    backup = tmp_path / "backups" / "hyosan.db"
    clicks: dict[tuple[int, int], InteractionRecord] = {}
    try:
        await bot.start()
        await create_poll_of_choices(fake, guild, channel, creator, OPTIONS)
        [poll] = [m for m in fake.channel_messages(channel) if "poll:vote:" in json.dumps(m.get("components"))]
        buttons = [b["custom_id"] for row in poll["components"] for b in row["components"] if "vote" in b["custom_id"]]

        backup_done = asyncio.Event()

        async def storm() -> None:
            """Each member clicks each option once (a second click would take the vote back),
            about 200 a second, until the backup has ended."""
            for option, button in enumerate(buttons):
                for voter in voters:
                    if backup_done.is_set():
                        return
                    clicks[(voter.id, option)] = await fake.click(guild, channel, voter, poll, button, wait=False)
                    await asyncio.sleep(0.005)

        storming = asyncio.create_task(storm())
        await asyncio.sleep(BACKUP_AFTER)
        began = time.perf_counter()
        before = {key for key, record in clicks.items() if counted(record) and record.acknowledged_at is not None}
        backed_up = await run_bot_to_exit(running, env, "store", "backup", str(backup))
        assert not storming.done(), "the storm ended before the backup did: it proves nothing"
        backup_done.set()
        await storming
        for record in clicks.values():
            await record.wait_acknowledged(timeout=10)
    finally:
        await bot.stop()
    assert backed_up.returncode == 0, backed_up.stderr
    assert before, "no vote was acknowledged before the backup began"
    assert all(clicks[key].acknowledged_at < began for key in before)  # type: ignore[operator]
    assert TOKEN not in bot.log()

    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        kept = set(conn.execute("SELECT user_id, option_index FROM poll_votes").fetchall())
    assert before <= kept, f"{len(before - kept)} acknowledged votes are missing from the backup"

    # Restore into an empty store of the other kind; a second restore into it is refused.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    target = await empty_store_of_the_other_kind(store_url, restored_dir)
    restore_env = bot_environment(fake, restored_dir, TOKEN) | {"DATABASE_URL": target}
    try:
        restored = await run_bot_to_exit(restored_dir, restore_env, "store", "restore", str(backup))
        assert restored.returncode == 0, restored.stderr
        assert f"poll_votes: {len(kept)}" in restored.stdout
        again = await run_bot_to_exit(restored_dir, restore_env, "store", "restore", str(backup))
        assert again.returncode == 2
        assert "already holds data" in again.stderr
        checked = await run_bot_to_exit(restored_dir, restore_env, "check")
        assert checked.returncode == 0, checked.stderr
        assert "configuration OK" in checked.stdout

        # The same Discord, now served by a bot on the restored store.
        revived = BotProcess(fake, restored_dir, tmp_path / "restored.log", extra_env={"DATABASE_URL": target})
        try:
            await revived.start()
            answer = await fake.slash(guild, channel, creator, "poll list", timeout=10)
            assert answer.answered
            assert "Who returns?" in json.dumps(answer.callback)
        finally:
            assert await revived.stop() == 0
    finally:
        await drop_store(target)


async def empty_store_of_the_other_kind(store_url: str, directory: Path) -> str:
    """A backup is one SQLite file whatever it came from: it goes into either kind of store."""
    if store_url.startswith("sqlite"):
        return await (await postgres_server()).create_empty_database()
    return f"sqlite:///{directory / 'restored.db'}"


async def drop_store(url: str) -> None:
    if url.startswith("postgresql"):
        await (await postgres_server()).drop_database(url)
