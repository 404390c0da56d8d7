"""The timed behaviours on the real clock: `python -m bot` as a real process, no injected clock.

Frozen-clock tests cannot see a due time compared with a later clock reading, or a
promise the ledger will not keep; these can. They wait for real minutes, so they are few:
one story of a server's day (a post at the next whole minute, a poll closing at a
one-minute deadline, the time moved after today's post) and one of release news reaching
a hundred scheduled servers, with the bot killed in the middle. Each prints what it measured.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
import zoneinfo
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from localdiscord import FakeDiscord, Permission
from localdiscord.state import TEXT, Channel, Guild, Member
from tests.support.processes import TOKEN, BotProcess, read_db
from tests.support.real_clock import bot_posts, wait_for

pytestmark = pytest.mark.slow

UTC = dt.UTC
PASS_LINE = re.compile(r"scheduler pass (\d+) at")
#: How long past its due time a post or a poll's results may take before the test gives up.
GRACE = 20.0


def scheduler_passes(bot: BotProcess) -> int:
    """The dispatcher's pass counter as the bot logged it (DEBUG), 0 before the first pass."""
    numbers = [int(n) for n in PASS_LINE.findall(bot.log())]
    return max(numbers, default=0)


def a_zone_far_from_midnight(margin: dt.timedelta) -> zoneinfo.ZoneInfo:
    """A zone whose local day does not change within ``margin``, so "today" stays today."""
    now = dt.datetime.now(UTC)
    for name in ("UTC", "Asia/Seoul", "America/New_York"):
        zone = zoneinfo.ZoneInfo(name)
        if (now + margin).astimezone(zone).date() == now.astimezone(zone).date():
            return zone
    raise AssertionError("no zone is far enough from midnight")  # cannot happen: they are hours apart


def moderators_guild(fake: FakeDiscord, name: str) -> tuple[Guild, Channel, Member]:
    guild = fake.add_guild(name)
    role = guild.add_role("Moderators", int(Permission.MANAGE_GUILD))
    channel = guild.add_channel("countdown", TEXT)
    moderator = guild.add_member(name="moderator", roles=[role])
    return guild, channel, moderator


async def set_countdown(
    fake: FakeDiscord, guild: Guild, channel: Channel, moderator: Member, local: str, zone: str
) -> str:
    options = {"channel": channel, "time": local, "timezone": zone, "cadence": "daily", "mode": "post"}
    record = await fake.slash(guild, channel, moderator, "settings countdown set", options, timeout=10)
    assert record.ephemeral, record.content
    assert "Countdown posts set" in record.content, record.content
    return str(record.content)


def ledger(db: Path) -> list[tuple[Any, ...]]:
    return read_db(db, "SELECT guild_id, slot_key, state FROM countdown_posts")


@pytest.fixture
async def bot(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[BotProcess]:
    process = BotProcess(fake, tmp_path, tmp_path / "bot.log", log_level="DEBUG")
    try:
        yield process
    finally:
        log = await process.end()
    assert TOKEN not in log
    assert "Traceback" not in log, log[-5000:]
    assert fake.violations == [], "requests broke Discord's limits or schema"


async def test_a_days_promises_are_kept_on_the_real_clock(fake: FakeDiscord, bot: BotProcess, tmp_path: Path) -> None:
    """A post at the next whole minute (once), a poll closing at its one-minute deadline, and
    the time moved after today's post: confirmation, /settings show and what happens agree."""
    zone = a_zone_far_from_midnight(dt.timedelta(minutes=5))
    guild, channel, moderator = moderators_guild(fake, "Real Clock Guild")
    polls = guild.add_channel("polls", TEXT)
    member = guild.add_member(name="fan")
    await bot.start()

    now = dt.datetime.now(UTC)
    due = (now + dt.timedelta(seconds=20)).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    local = due.astimezone(zone).strftime("%H:%M")
    confirmed = await set_countdown(fake, guild, channel, moderator, local, zone.key)
    assert f"<t:{int(due.timestamp())}:F>" in confirmed  # the promise: today, at the next whole minute

    created = await fake.slash(
        guild,
        polls,
        member,
        "poll create",
        {"question": "Who returns?", "options": "On Jo | Su Hyeok", "duration": "1m"},
    )
    assert await created.wait_followups(1, timeout=10)
    poll_closes = time.time() + 60  # within the callback's round trip of the stored deadline
    results = lambda: any("has closed" in (m.get("content") or "") for m in bot_posts(fake, polls))  # noqa: E731
    watching_results = asyncio.create_task(wait_for(results, poll_closes + GRACE))  # seen as it happens

    posted_at = await wait_for(lambda: len(bot_posts(fake, channel)) >= 1, due.timestamp() + GRACE)
    assert posted_at is not None, f"nothing was posted by {due} + {GRACE} s: {bot.log()[-3000:]}"
    print(f"scheduled post: {posted_at - due.timestamp():.2f} s after its slot")

    # Moved to the next minute after today's post: the promise is tomorrow, and it is kept.
    moved_due = due + dt.timedelta(minutes=1)
    moved_local = moved_due.astimezone(zone).strftime("%H:%M")
    moved = await set_countdown(fake, guild, channel, moderator, moved_local, zone.key)
    tomorrow = int((moved_due + dt.timedelta(days=1)).timestamp())
    assert f"<t:{tomorrow}:F>" in moved, moved
    assert "has already been posted" in moved
    show = await fake.slash(guild, channel, moderator, "settings countdown show", timeout=10)
    assert f"<t:{tomorrow}:F>" in str(show.embeds), show.embeds

    closed_at = await watching_results
    assert closed_at is not None, f"the poll's results were not posted: {bot.log()[-3000:]}"
    print(f"poll results: {closed_at - poll_closes:+.2f} s after its deadline")

    await wait_for(lambda: False, moved_due.timestamp() + 5)  # past the moved time, today
    assert len(bot_posts(fake, channel)) == 1  # exactly once, and nothing at the moved time today
    assert [(key, state) for _, key, state in ledger(tmp_path / "bot.db")] == [
        (f"day:{due.astimezone(zone).date().isoformat()}", "sent")
    ]
    assert "already had its post" in bot.log()
    assert await bot.stop() == 0


async def test_release_news_reaches_a_hundred_scheduled_servers_in_seconds_across_a_kill(
    fake: FakeDiscord, bot: BotProcess, tmp_path: Path
) -> None:
    admin, admin_channel, _ = moderators_guild(fake, "Admin Guild")
    owner = admin.add_member(name="owner")
    bot.extra_env = {"OWNER_IDS": str(owner.id), "ADMIN_GUILD_IDS": str(admin.id)}
    guilds = [moderators_guild(fake, f"Fan Server {n}") for n in range(100)]
    await bot.start()

    # Regular posts six hours away: nothing is due but the news.
    later = (dt.datetime.now(UTC) + dt.timedelta(hours=6)).strftime("%H:%M")
    await set_countdown(fake, *guilds[0], later, "UTC")
    idle_from, idle_passes = time.time(), scheduler_passes(bot)
    await asyncio.sleep(20)
    idle = scheduler_passes(bot) - idle_passes
    print(f"idle: {idle} dispatcher passes in {time.time() - idle_from:.0f} s")
    assert idle <= 2, "an idle bot with nothing due keeps waking up"

    async def announce(window: str) -> float:
        record = await fake.slash(
            admin,
            admin_channel,
            owner,
            "release update",
            {"window": window, "confidence": "confirmed", "source": "https://example.org/netflix-announcement"},
            timeout=10,
        )
        assert "Release information updated" in record.content, record.content
        return time.time()

    # One scheduled server.
    started = await announce("2027-03-14")
    heard = await wait_for(lambda: len(bot_posts(fake, guilds[0][1])) == 1, started + GRACE)
    assert heard is not None, f"the one scheduled server never heard the news: {bot.log()[-3000:]}"
    print(f"1 scheduled server: announced {heard - started:.2f} s after /release update")

    for guild, channel, moderator in guilds[1:]:
        await set_countdown(fake, guild, channel, moderator, later, "UTC")
    await asyncio.sleep(1)
    before = scheduler_passes(bot)

    # A hundred, with the bot killed once a third have heard it, then started again.
    started = await announce("2027-03-21")
    second = {guild.id: 2 if guild is guilds[0][0] else 1 for guild, _, _ in guilds}
    heard_by = lambda: sum(len(bot_posts(fake, ch)) >= second[g.id] for g, ch, _ in guilds)  # noqa: E731
    third = await wait_for(lambda: heard_by() >= 34, started + GRACE)
    assert third is not None, f"the news did not go out: {bot.log()[-3000:]}"
    passes_during = scheduler_passes(bot) - before
    print(f"100 scheduled servers: a third heard it {third - started:.2f} s after; {passes_during} passes so far")
    assert passes_during <= 10, "the dispatcher spins while news is pending"
    await bot.kill()
    killed_with = heard_by()
    await bot.start()
    everyone = await wait_for(lambda: heard_by() == 100, time.time() + GRACE)
    assert everyone is not None, f"only {heard_by()} of 100 heard the news after the restart"
    print(f"100 scheduled servers: all heard it {everyone - started:.2f} s after (killed at {killed_with})")

    await asyncio.sleep(2)  # anything doubled would have arrived by now
    for guild, channel, _ in guilds:
        assert len(bot_posts(fake, channel)) == second[guild.id], f"{guild.name} got the news twice or not at all"
    changes = [(guild_id, state) for guild_id, key, state in ledger(tmp_path / "bot.db") if key.startswith("change:")]
    assert sorted(changes) == sorted((guild.id, "sent") for guild, _, _ in guilds for _ in range(second[guild.id]))
    assert await bot.stop() == 0


#: The grace period of the next test, in seconds: long enough to see the settings kept.
GRACE_PERIOD = 6.0


async def test_a_removed_servers_settings_are_kept_then_purged_when_its_grace_period_ends(
    fake: FakeDiscord, bot: BotProcess, tmp_path: Path
) -> None:
    """The guild keeper's purge is a scheduler source: on the real clock, a server that removed
    the bot keeps its settings through the grace period and loses them when it ends."""
    bot.extra_env["GUILD_GRACE_DAYS"] = repr(GRACE_PERIOD / 86_400)
    guild, channel, moderator = moderators_guild(fake, "Leaving Server")
    await bot.start()
    added = await fake.slash(guild, channel, moderator, "settings spoilers add", {"channel": channel}, timeout=10)
    assert added.ephemeral, added.content
    db = tmp_path / "bot.db"

    def spoiler_rows() -> list[tuple[Any, ...]]:
        return read_db(db, "SELECT channel_id FROM spoiler_channels WHERE guild_id = ?", (guild.id,))

    assert spoiler_rows() == [(channel.id,)]
    fake.remove_guild(guild)
    left = time.time()
    marked = await wait_for(lambda: read_db(db, "SELECT guild_id FROM departed_guilds") == [(guild.id,)], left + GRACE)
    assert marked is not None, "the removal was never recorded"
    assert spoiler_rows() == [(channel.id,)], "purged at once, not kept for the grace period"
    purged = await wait_for(lambda: not spoiler_rows(), left + GRACE_PERIOD + GRACE)
    assert purged is not None, f"not purged after the grace period: {bot.log()[-3000:]}"
    assert purged >= marked + GRACE_PERIOD - 1, "purged before its grace period ended"
    assert read_db(db, "SELECT guild_id FROM departed_guilds") == []
    print(f"settings of a removed server purged {purged - left:.2f} s after it left (grace period {GRACE_PERIOD} s)")
