"""The release watch on the real clock: `python -m bot` as a real process, a local TVmaze over real HTTP.

1. One process on SQLite: TVmaze fails twice (500), the watch tries again after 1 s and 2 s
   (RELEASE_WATCH_RETRY_SECONDS=1, logged once) and then proposes what it says; a member's
   click is refused; SIGKILL and a new start look again and propose nothing twice; an owner's
   click records it and the scheduled server hears the news within seconds.
2. Two processes (shards 0 and 1 of 2) on one PostgreSQL database: both look at start-up,
   one proposal; the owner's click, answered by shard 0's process, reaches shard 1's server.

Each prints what it measured.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import pytest

from localdiscord import FakeDiscord, Permission
from localdiscord.state import TEXT, Channel, Guild, Member
from tests.support.processes import TOKEN, BotProcess, embed_text, read_db
from tests.support.real_clock import bot_posts, wait_for
from tests.support.tvmaze import SHOW_ID, LocalTvmaze

pytestmark = pytest.mark.slow

MARCH_14 = dt.date(2027, 3, 14)
AIRS = dt.datetime(2027, 3, 14, 8, tzinfo=dt.UTC)
#: How long a proposal or the news may take before the test gives up (not a timing assertion).
GRACE = 20.0
UNAVAILABLE = "release watch: TVmaze is unavailable"
KNOWN = "is proposed or decided already"


def watch_env(tv: LocalTvmaze, admin: Guild, proposals: Channel, owner: Member) -> dict[str, str]:
    return {
        "OWNER_IDS": str(owner.id),
        "ADMIN_GUILD_IDS": str(admin.id),
        "RELEASE_WATCH_TVMAZE_ID": str(SHOW_ID),
        "RELEASE_WATCH_CHANNEL_ID": str(proposals.id),
        "TVMAZE_API_URL": tv.url,
        "RELEASE_WATCH_START_JITTER": "0",
        "RELEASE_WATCH_RETRY_SECONDS": "1",
        "TVMAZE_TIMEOUT": "2",
    }


async def schedule_countdown(fake: FakeDiscord, guild: Guild) -> Channel:
    """A server with daily countdown posts at a time hours away (so only news is posted now)."""
    role = guild.add_role("Moderators", int(Permission.MANAGE_GUILD))
    channel = guild.add_channel("countdown", TEXT)
    moderator = guild.add_member(name="mod", roles=[role])
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=6)).strftime("%H:%M")
    options = {"channel": channel, "time": later, "timezone": "UTC", "cadence": "daily", "mode": "post"}
    record = await fake.slash(guild, channel, moderator, "settings countdown set", options, timeout=10)
    assert "Countdown posts set" in (record.content or ""), record.content
    return channel


def button(message: dict[str, Any], decision: str) -> str:
    ids = [c["custom_id"] for row in message.get("components") or [] for c in row["components"]]
    return next(i for i in ids if re.fullmatch(rf"countdown:watch:{decision}:\d+", i))


async def within_grace(condition: Any) -> float | None:
    return await wait_for(condition, time.time() + GRACE)


async def test_one_process_proposes_once_across_a_kill_and_an_owners_click_reaches_the_servers(
    fake: FakeDiscord, tv: LocalTvmaze, tmp_path: Path
) -> None:
    admin = fake.add_guild("Admin Guild")
    proposals = admin.add_channel("release-watch", TEXT)
    owner, member = admin.add_member(name="owner"), admin.add_member(name="member")
    fans = fake.add_guild("Fan Server")
    tv.announce(MARCH_14, AIRS)
    tv.fail("server_error", times=2)
    bot = BotProcess(fake, tmp_path, tmp_path / "bot.log", extra_env=watch_env(tv, admin, proposals, owner))
    try:
        await bot.start()
        ready = time.time()
        countdown = await schedule_countdown(fake, fans)
        proposed = await within_grace(lambda: len(bot_posts(fake, proposals)) == 1)
        assert proposed is not None, bot.log()[-3000:]
        print(f"proposal {proposed - ready:.2f} s after READY, after two 500s retried 1 s and 2 s later")
        looks = [r.at for r in tv.requests if r.path.endswith("/seasons")]
        assert len(looks) == 3
        assert 0.9 <= looks[1] - looks[0] < 1 + 1.5
        assert 1.9 <= looks[2] - looks[1] < 2 + 1.5
        assert bot.log().count(UNAVAILABLE) == 1, "an outage is logged once"

        [proposal] = bot_posts(fake, proposals)
        refused = await fake.click(admin, proposals, member, proposal, button(proposal, "confirmed"), timeout=10)
        assert refused.ephemeral
        assert "Only the bot's owners can decide" in (refused.content or "")

        # Killed once the proposal is recorded as posted (a kill between the post and that record
        # is the takeover after two minutes, with the same nonce: tests/countdown's e2e covers it).
        state = "SELECT state FROM release_watch_findings"
        assert await within_grace(lambda: read_db(tmp_path / "bot.db", state) == [("proposed",)])
        seen = tv.looks()
        await bot.kill()
        await bot.start()
        assert await within_grace(lambda: tv.looks() > seen), "a new start looks again"
        assert await within_grace(lambda: KNOWN in bot.log()), "the new start's look ended: its finding is known"
        assert len(bot_posts(fake, proposals)) == 1, "proposed once across a kill and a restart"
        assert read_db(tmp_path / "bot.db", "SELECT state FROM release_watch_findings") == [("proposed",)]

        clicked = time.time()
        recorded = await fake.click(admin, proposals, owner, proposal, button(proposal, "confirmed"), timeout=10)
        assert recorded.answered
        heard = await within_grace(lambda: len(bot_posts(fake, countdown)) == 1)
        assert heard is not None, bot.log()[-3000:]
        print(f"release news in the scheduled server {heard - clicked:.2f} s after the owner's click")
        news = bot_posts(fake, countdown)[0]
        assert "Confirmed by Netflix" in embed_text(news)
        assert read_db(tmp_path / "bot.db", "SELECT state, decided_by FROM release_watch_findings") == [
            ("confirmed", owner.id)
        ]
        assert len(bot_posts(fake, proposals)) == 1
    finally:
        log = await bot.end()
    assert TOKEN not in log
    assert "Traceback" not in log, log[-5000:]


@pytest.mark.postgresql_only
async def test_two_processes_on_postgresql_propose_a_finding_once(
    fake: FakeDiscord, tv: LocalTvmaze, tmp_path: Path, store_url: str
) -> None:
    admin = fake.add_guild("Admin Guild", shard=(0, 2))
    proposals = admin.add_channel("release-watch", TEXT)
    owner = admin.add_member(name="owner")
    fans = fake.add_guild("Fan Server", shard=(1, 2))
    tv.announce(MARCH_14)
    bots = []
    for shard in range(2):
        workdir = tmp_path / f"shard-{shard}"
        workdir.mkdir()
        env = watch_env(tv, admin, proposals, owner) | {
            "DATABASE_URL": store_url,
            "SHARD_COUNT": "2",
            "SHARD_IDS": str(shard),
        }
        bots.append(BotProcess(fake, workdir, workdir / "bot.log", extra_env=env))
    try:
        for bot in bots:
            await bot.start(within=60)
        countdown = await schedule_countdown(fake, fans)
        assert await within_grace(lambda: tv.looks() >= 2), "each process looks at start-up"
        assert await within_grace(lambda: len(bot_posts(fake, proposals)) >= 1)
        verdicts = ("release watch: proposed", KNOWN, "is claimed by another process")
        assert await within_grace(lambda: all(any(v in b.log() for v in verdicts) for b in bots)), "both looks ended"
        [proposal] = bot_posts(fake, proposals)
        clicked = time.time()
        recorded = await fake.click(admin, proposals, owner, proposal, button(proposal, "confirmed"), timeout=10)
        assert recorded.answered
        heard = await within_grace(lambda: len(bot_posts(fake, countdown)) == 1)
        assert heard is not None, bots[1].log()[-3000:]
        print(f"news in shard 1's server {heard - clicked:.2f} s after the click answered by shard 0's process")
        assert len(bot_posts(fake, proposals)) == 1, "two processes, one proposal"
    finally:
        logs = [await bot.end() for bot in bots]
    for log in logs:
        assert "Traceback" not in log, log[-5000:]
    assert sum(log.count("release watch: proposed") for log in logs) == 1
