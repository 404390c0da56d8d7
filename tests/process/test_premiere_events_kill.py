"""SIGKILL during the premiere event fan-out: `python -m bot` as a real process on the real clock,
killed while it creates one Discord scheduled event per server, then restarted. In the end
every server has exactly one event (the ledger claims before creating; a claim never
confirmed is looked up in the server's Events and adopted, not made twice)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from localdiscord import DEFAULT_BOT_PERMISSIONS, FakeDiscord, Permission
from localdiscord.state import TEXT
from tests.support.processes import BotProcess, read_db, slow_replies

pytestmark = pytest.mark.slow

GUILDS = 24
KILLS = 3
SEED = 25


def event_creates(fake: FakeDiscord) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith("/scheduled-events"))


async def test_events_killed_mid_fan_out_end_as_one_per_server(fake: FakeDiscord, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "bot.db"
    slow_replies(fake, "POST", "/guilds/{guild_id}/scheduled-events", 0.15)
    places = []
    for n in range(GUILDS):
        guild = fake.add_guild(f"Premiere Guild {n}")
        assert guild.bot_role is not None
        guild.bot_role.permissions = DEFAULT_BOT_PERMISSIONS | int(Permission.MANAGE_EVENTS)
        moderators = guild.add_role("Moderators", int(Permission.MANAGE_GUILD))
        places.append((guild, guild.add_channel("general", TEXT), guild.add_member(name="mod", roles=[moderators])))
    admin, admin_channel, _ = places[0]
    owner = admin.add_member(name="bot-owner")
    bot = BotProcess(fake, tmp_path, tmp_path / "bot.log")
    bot.extra_env = {"OWNER_IDS": str(owner.id), "ADMIN_GUILD_IDS": str(admin.id)}
    try:
        await bot.start()
        for guild, channel, moderator in places:
            on = await fake.slash(guild, channel, moderator, "settings countdown event", {"state": "on"}, timeout=10)
            assert "Premiere event on" in (on.content or ""), on.content
        update = {"window": "2027-03-14", "confidence": "confirmed", "source": "https://example.org/aoaad-s2"}
        done = await fake.slash(admin, admin_channel, owner, "release update", update, timeout=10)
        assert "Release information updated" in (done.content or ""), done.content

        for _ in range(KILLS):
            before = event_creates(fake)
            for _ in range(400):
                if event_creates(fake) > before:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            await bot.kill()
            for guild, _, _ in places:
                assert len(guild.scheduled_events) <= 1, f"{guild.name} has {len(guild.scheduled_events)} events"
            await bot.start()

        for _ in range(400):
            live = read_db(db, "SELECT guild_id, event_id FROM countdown_events WHERE state = 'live'")
            if len(live) == GUILDS:
                break
            await asyncio.sleep(0.05)
        assert await bot.stop() == 0
    finally:
        log = await bot.end()
    assert "Traceback" not in log, log[-5000:]
    live = dict(read_db(db, "SELECT guild_id, event_id FROM countdown_events WHERE state = 'live'"))
    for guild, _, _ in places:
        events = list(guild.scheduled_events.values())
        assert len(events) == 1, f"{guild.name} has {len(events)} events"
        assert live[guild.id] == events[0].id
    assert "adopting it" in log or "claimed but never made" in log, "no kill fell between a claim and its record"
