"""SIGKILL: `python -m bot` as a real process, killed at random moments, then restarted.

- During a burst of votes, 20 times: after each restart every vote the fake Discord
  saw acknowledged ("is counted") is in the poll_votes table, none twice, and no vote
  is there that nobody cast.
- Around scheduled countdown posts: the process is killed while slots fall due and
  are being claimed and sent; in the end every slot is posted exactly once (the
  retries reuse the slot's nonce, which Discord honours) and none is lost within the
  nonce grace period.

The fake Discord runs in the test's event loop on 127.0.0.1; the random moments come
from a seeded generator so a failure can be replayed (the seed is in the test id).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cogs.countdown.posting import slot_nonce
from localdiscord import FakeDiscord, InteractionRecord, Permission
from localdiscord.state import TEXT, Channel, Guild, Member
from tests.support.processes import (
    TOKEN,
    BotProcess,
    click_until_killed,
    counted,
    create_poll_of_choices,
    embed_text,
    read_db,
    slow_replies,
)

pytestmark = pytest.mark.slow

KILLS = 20
SEED = 7


@pytest.fixture
async def bot(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[BotProcess]:
    process = BotProcess(fake, tmp_path, tmp_path / "bot.log")
    try:
        yield process
    finally:
        log = await process.end()
    assert TOKEN not in log
    assert "never-log-this-token" not in log
    assert "Traceback" not in log, log[-5000:]


# -- votes -------------------------------------------------------------------------------------


OPTIONS = 20
VOTERS = 40
CLICKS_PER_BURST = 40


async def test_votes_acknowledged_before_a_sigkill_are_all_stored_once(
    fake: FakeDiscord, bot: BotProcess, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    guild = fake.add_guild("Kill Test Guild")
    channel = guild.add_channel("polls", TEXT)
    voters = [guild.add_member(name=f"voter-{n}") for n in range(VOTERS)]
    db = tmp_path / "bot.db"
    await bot.start()

    await create_poll_of_choices(fake, guild, channel, voters[0], OPTIONS)
    [(poll_id, message_id)] = read_db(db, "SELECT id, message_id FROM polls")

    # Every (voter, option) pair is clicked at most once, so each acknowledged click is one vote.
    pairs = [(voter, option) for voter in range(VOTERS) for option in range(OPTIONS)]
    rng.shuffle(pairs)
    clicked: dict[tuple[int, int], InteractionRecord] = {}
    in_flight = 0
    for kill in range(KILLS):
        burst, pairs = pairs[:CLICKS_PER_BURST], pairs[CLICKS_PER_BURST:]
        kill_after = rng.uniform(0.02, 0.25)
        records, killed_at = await click_until_killed(
            fake, bot, guild, channel, voters, message_id, poll_id, burst, kill_after
        )
        clicked.update(records)
        in_flight += sum(1 for r in records.values() if r.dispatched_at < killed_at and not r.answered)
        await bot.start()
        check_votes(db, poll_id, voters, clicked, f"after kill {kill + 1} at {kill_after:.3f} s")

    acknowledged = sum(1 for record in clicked.values() if counted(record))
    assert acknowledged > KILLS * 3, f"only {acknowledged} clicks were acknowledged: the kills came too early"
    assert in_flight > 0, "no kill ever caught a click between its dispatch and its answer"
    print(f"{len(clicked)} clicks, {acknowledged} acknowledged, {in_flight} in flight at a kill")

    # The message was left behind by the kills; the restarted bot brings it up to date.
    voted = read_db(db, "SELECT count(DISTINCT user_id), count(*) FROM poll_votes WHERE poll_id = ?", (poll_id,))[0]
    expected = f"{voted[0]} voted, {voted[1]} votes"
    for _ in range(300):
        shown = fake.get_message(message_id)
        if shown is not None and expected in embed_text(shown):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the poll message never showed {expected!r}")
    assert await bot.stop() == 0
    assert read_db(db, "PRAGMA integrity_check") == [("ok",)]


def check_votes(
    db: Path,
    poll_id: int,
    voters: list[Member],
    clicked: dict[tuple[int, int], InteractionRecord],
    when: str,
) -> None:
    rows = read_db(db, "SELECT user_id, option_index FROM poll_votes WHERE poll_id = ?", (poll_id,))
    stored = set(rows)
    assert len(rows) == len(stored), f"{when}: a vote is stored twice"
    acknowledged = {pair for pair, record in clicked.items() if counted(record)}
    assert acknowledged - stored == set(), f"{when}: acknowledged votes are missing"
    assert stored - set(clicked) == set(), f"{when}: votes nobody cast are stored"
    for pair, record in clicked.items():
        if record.answered:
            assert counted(record), f"{when}: click {pair} got {record.content!r}"


# -- scheduled posts ---------------------------------------------------------------------------


#: Enough guilds due at once that sending them (paced at 45 per second) takes most of a second.
GUILDS = 30
POST_KILLS = 6


@dataclass(frozen=True)
class Planned:
    guild: Guild
    channel: Channel
    slot_key: str


async def test_scheduled_posts_killed_mid_send_are_posted_once_and_none_is_lost(
    fake: FakeDiscord, bot: BotProcess, tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    db = tmp_path / "bot.db"
    slow_replies(fake, "POST", "/channels/{channel_id}/messages", 0.1)
    places = []
    for n in range(GUILDS):
        guild = fake.add_guild(f"Countdown Guild {n}")
        moderators = guild.add_role("Moderators", int(Permission.MANAGE_GUILD))
        places.append((guild, guild.add_channel("countdown", TEXT), guild.add_member(name="mod", roles=[moderators])))
    await bot.start()
    # A real time far from now, so the rule's own next slot never falls inside the test.
    far = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=12)).strftime("%H:%M")
    for guild, channel, moderator in places:
        options = {"channel": channel, "time": far, "timezone": "UTC", "cadence": "daily", "mode": "post"}
        record = await fake.slash(guild, channel, moderator, "settings countdown set", options, timeout=10)
        assert "Countdown posts set" in (record.content or ""), record.content
    assert await bot.stop() == 0

    planned: list[Planned] = []
    first_day = dt.date(2031, 1, 1)
    for cycle in range(POST_KILLS):
        # While the bot is down: each guild whose last slot was claimed gets a new one falling
        # due three seconds from now (an unclaimed one is still due, and stays as it is).
        now = dt.datetime.now(dt.UTC)
        claimed = {(row[0], row[1]) for row in read_db(db, "SELECT guild_id, slot_key FROM countdown_posts")}
        for index, (guild, channel, _) in enumerate(places):
            earlier = [slot for slot in planned if slot.guild is guild]
            if earlier and (guild.id, earlier[-1].slot_key) not in claimed:
                continue
            day = first_day + dt.timedelta(days=cycle * GUILDS + index)
            due = (now + dt.timedelta(seconds=3)).replace(microsecond=0)
            write_db(
                db,
                "UPDATE countdown_schedules SET next_due_at = ?, next_slot_date = ? WHERE guild_id = ?",
                (due.isoformat(), day.isoformat(), guild.id),
            )
            planned.append(Planned(guild, channel, f"day:{day.isoformat()}"))
        sent_before = len(message_posts(fake))
        await bot.start()
        # The slots fall due about when the bot is ready, and sending them takes most of a
        # second: kill it at a random moment after its first post of this run.
        for _ in range(300):
            if len(message_posts(fake)) > sent_before:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the bot posted nothing within 6 s of connecting")
        await asyncio.sleep(rng.uniform(0.0, 0.6))
        await bot.kill()
        check_posts(fake, db, planned, final=False)

    await bot.start()  # the last run may finish what the kills left
    for _ in range(200):
        states = read_db(db, "SELECT state FROM countdown_posts WHERE state != 'sent'")
        if not states and len(read_db(db, "SELECT 1 FROM countdown_posts")) == len(planned):
            break
        await asyncio.sleep(0.05)
    assert await bot.stop() == 0
    check_posts(fake, db, planned, final=True)
    nonces = [r.body.get("nonce") for r in message_posts(fake)]
    resent = {nonce for nonce in nonces if nonces.count(nonce) > 1}
    assert resent, "no post was ever resent after a kill: the kills missed the sends"


def message_posts(fake: FakeDiscord) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]


def write_db(path: Path, sql: str, params: tuple[Any, ...]) -> None:
    conn = sqlite3.connect(path, timeout=10)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def check_posts(fake: FakeDiscord, db: Path, planned: list[Planned], *, final: bool) -> None:
    ledger = {
        (row[0], row[1]): (row[2], row[3])
        for row in read_db(db, "SELECT guild_id, slot_key, state, message_id FROM countdown_posts")
    }
    for slot in planned:
        nonce = slot_nonce(slot.guild.id, slot.slot_key)
        posted = [m for m in fake.channel_messages(slot.channel) if m.get("nonce") == nonce]
        assert len(posted) <= 1, f"{slot.slot_key} of {slot.guild.name} was posted {len(posted)} times"
        sends = [r for r in fake.requests if r.method == "POST" and r.path == f"/channels/{slot.channel.id}/messages"]
        assert all(r.body.get("nonce") in planned_nonces(planned) for r in sends), "a post without its slot's nonce"
        assert all(r.body.get("enforce_nonce") is True for r in sends)
        if final:
            assert ledger.get((slot.guild.id, slot.slot_key), (None,))[0] == "sent", (slot, ledger)
            assert len(posted) == 1, f"{slot.slot_key} of {slot.guild.name} was lost"
            assert ledger[(slot.guild.id, slot.slot_key)][1] == int(posted[0]["id"])
    if final:
        for slot in planned:
            others = [m for m in fake.channel_messages(slot.channel) if m.get("nonce") not in planned_nonces(planned)]
            assert others == [], "the channel got a post that was not planned"


def planned_nonces(planned: list[Planned]) -> set[str]:
    return {slot_nonce(slot.guild.id, slot.slot_key) for slot in planned}
