"""Two `python -m bot` processes, shards 0 and 1 of 2, on one PostgreSQL database and one fake Discord.

The story of a small cluster, in one test (starting processes is the slow part):

1. both start (their IDENTIFYs paced across processes) and each answers its own guilds;
2. a countdown slot falls due in guilds of both shards: one post in each, one ledger row;
3. a ``/release update`` made through shard 0's process is announced in the guilds of both,
   mentioning each server's notify role and only it, and puts exactly one premiere event in
   each server's Events list (each process makes its own shards' events);
4. shard 1's process is SIGKILLed during a vote storm on a poll in its guild and started
   again: every acknowledged vote is stored once, its guilds are answered again, nothing is
   posted twice, and shard 0's process answers all the while; every per-guild setting of
   every feature, in the guilds of both shards, survives its restarts and their READY, and
   no server gains a second premiere event;
5. the fake saw no request over Discord's limits: no 429 under the global 50/s, no early IDENTIFY.

Figures (IDENTIFY spacing, post and news latencies, votes) are printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.store import Store
from bot.store.schema import (
    countdown_events,
    countdown_options,
    countdown_posts,
    countdown_schedules,
    departed_guilds,
    guild_languages,
    poll_settings,
    poll_votes,
    polls,
    spoiler_channels,
)
from localdiscord import IDENTIFY_INTERVAL, FakeDiscord, InteractionRecord, Permission
from localdiscord.state import TEXT, Channel, Guild, Member, Role
from tests.support.harness import OPENAPI_SPEC
from tests.support.processes import (
    TOKEN,
    BotProcess,
    click_until_killed,
    counted,
    create_poll_of_choices,
    embed_text,
)
from tests.support.real_clock import bot_posts, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgresql_only]

SHARDS = 2
FANS_PER_SHARD = 2
VOTERS = 30
OPTIONS = 10
#: How long a post or an announcement may take before the test gives up (not a timing assertion).
GRACE = 20.0


@dataclass(frozen=True)
class Server:
    shard: int
    guild: Guild
    channel: Channel
    moderator: Member
    #: The role fans opt into (/settings countdown notify_role), below the bot's own.
    fans: Role


def fan_server(fake: FakeDiscord, name: str, shard: int) -> Server:
    guild = fake.add_guild(name, shard=(shard, SHARDS))
    role = guild.add_role("Moderators", int(Permission.MANAGE_GUILD))
    fans = guild.add_role("Season 2 news", 0, mentionable=True)
    assert guild.bot_role is not None  # the premiere event and the notify role need these two
    guild.set_role_position(guild.bot_role, fans.position + 1)
    guild.set_role_permissions(
        guild.bot_role, guild.bot_role.permissions | int(Permission.MANAGE_EVENTS | Permission.MANAGE_ROLES)
    )
    channel = guild.add_channel("countdown", TEXT)
    return Server(shard, guild, channel, guild.add_member(name="mod", roles=[role]), fans)


def posts_in(fake: FakeDiscord, server: Server, count: int) -> Callable[[], bool]:
    return lambda: len(bot_posts(fake, server.channel)) >= count


async def within_grace(condition: Callable[[], bool]) -> float | None:
    """The wall-clock time ``condition`` first held, or None after GRACE seconds."""
    return await wait_for(condition, time.time() + GRACE)


async def shard_shown(fake: FakeDiscord, server: Server) -> str:
    record = await fake.slash(server.guild, server.channel, server.moderator, "about", timeout=10)
    assert record.callback is not None, "not answered"
    fields = {f["name"]: f["value"] for f in record.callback["data"]["embeds"][0]["fields"]}
    return str(fields["Shard"])


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(OPENAPI_SPEC, token=TOKEN)
    fake.max_concurrency = 1  # both shards in one identify bucket: the processes must take turns
    fake.identify_interval = IDENTIFY_INTERVAL
    fake.global_rate_limit(50)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def processes(fake: FakeDiscord, tmp_path: Path, store_url: str) -> AsyncIterator[list[BotProcess]]:
    bots = []
    for shard in range(SHARDS):
        workdir = tmp_path / f"shard-{shard}"
        workdir.mkdir()
        bots.append(BotProcess(fake, workdir, workdir / "bot.log"))
        bots[-1].extra_env = {"DATABASE_URL": store_url, "SHARD_COUNT": str(SHARDS), "SHARD_IDS": str(shard)}
    try:
        yield bots
    finally:
        logs = [await bot.end() for bot in bots]
    for log in logs:
        assert TOKEN not in log
        assert "Traceback" not in log, log[-5000:]


async def test_two_processes_share_the_work_of_their_shards_and_survive_a_kill(
    fake: FakeDiscord, processes: list[BotProcess], store: Store
) -> None:
    admin = fan_server(fake, "Admin Guild", 0)
    owner = admin.guild.add_member(name="owner")
    servers = [fan_server(fake, f"Fan Server {s}.{n}", s) for s in range(SHARDS) for n in range(FANS_PER_SHARD)]
    polls_server = servers[-1]  # on shard 1: its process is the one killed
    polls_channel = polls_server.guild.add_channel("polls", TEXT)
    voters = [polls_server.guild.add_member(name=f"voter-{n}") for n in range(VOTERS)]
    zero, one = processes
    for bot in processes:
        bot.extra_env |= {"OWNER_IDS": str(owner.id), "ADMIN_GUILD_IDS": str(admin.guild.id)}

    # 1. Both start at once; the second IDENTIFY waits for the first's turn in the shared store.
    await asyncio.gather(zero.start(within=60), one.start(within=60))
    assert await within_grace(lambda: len(fake.gateway.sessions) == SHARDS and fake.gateway.ready.is_set())
    (first, _), (second, _) = fake.gateway.identified_at[:2]
    print(f"IDENTIFY of the second process {second - first:.2f} s after the first (Discord: >= 5 s per bucket)")
    for server in servers:
        assert await shard_shown(fake, server) == f"{server.shard} of 2 (numbered from 0)"

    # 2. A slot due in every fan server at once, written behind the bots' backs: each process
    # finds it on its own pass (a process of some shards looks at least every 5 s).
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=6)).strftime("%H:%M")
    for server in servers:
        options = {"channel": server.channel, "time": later, "timezone": "UTC", "cadence": "daily", "mode": "post"}
        record = await fake.slash(server.guild, server.channel, server.moderator, "settings countdown set", options)
        assert "Countdown posts set" in (record.content or ""), record.content
        pollsters = await set_the_other_settings(fake, server)
        if server is polls_server:
            voters[0].roles.append(pollsters.id)  # who creates the poll below
    today = dt.datetime.now(dt.UTC).date()
    due = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=2)
    async with store.transaction() as conn:
        await conn.execute(
            update(countdown_schedules)
            .where(countdown_schedules.c.guild_id.in_([s.guild.id for s in servers]))
            .values(next_due_at=due, next_slot_date=today)
        )
    for server in servers:
        posted = await within_grace(posts_in(fake, server, 1))
        assert posted is not None, f"shard {server.shard}: nothing posted: {processes[server.shard].log()[-3000:]}"
        print(f"scheduled post in a guild of shard {server.shard}: {posted - due.timestamp():.2f} s after its slot")

    # 3. Release news through shard 0's process reaches the guilds of both.
    record = await fake.slash(
        admin.guild,
        admin.channel,
        owner,
        "release update",
        {"window": "2027-03-14", "confidence": "confirmed", "source": "https://example.org/netflix-announcement"},
        timeout=10,
    )
    assert "Release information updated" in (record.content or ""), record.content
    announced = time.time()
    for server in servers:
        heard = await within_grace(posts_in(fake, server, 2))
        assert heard is not None, f"shard {server.shard} never heard the news: {processes[server.shard].log()[-3000:]}"
        print(f"release news in a guild of shard {server.shard}: {heard - announced:.2f} s after /release update")
        news = bot_posts(fake, server.channel)[-1]
        assert news["mention_roles"] == [str(server.fans.id)], news
        assert not news["mention_everyone"]
    for server in servers:
        made = await within_grace(lambda server=server: len(server.guild.scheduled_events) == 1)
        assert made is not None, f"shard {server.shard}: no premiere event: {processes[server.shard].log()[-3000:]}"
        print(f"premiere event in a guild of shard {server.shard}: {made - announced:.2f} s after /release update")

    # 4. A vote storm on a poll of shard 1's process, which is killed and started again.
    await create_poll_of_choices(fake, polls_server.guild, polls_channel, voters[0], OPTIONS)
    async with store.read() as conn:
        [(poll_id, message_id)] = (await conn.execute(select(polls.c.id, polls.c.message_id))).all()
    pairs = [(voter, option) for voter in range(VOTERS) for option in range(OPTIONS)]
    clicked: dict[tuple[int, int], InteractionRecord] = {}
    for burst, kill_after in ((pairs[:60], 0.15), (pairs[60:120], 0.3)):
        records, _ = await click_until_killed(
            fake, one, polls_server.guild, polls_channel, voters, message_id, poll_id, burst, kill_after,
            once_acknowledged=True,
        )
        clicked.update(records)
        # Shard 0's process serves its guilds while shard 1's is down.
        assert await shard_shown(fake, servers[0]) == "0 of 2 (numbered from 0)"
        killed = time.time()
        await one.start(within=60)
        print(
            f"shard 1's process killed {kill_after:.2f} s into a vote burst; serving again {time.time() - killed:.2f} s later"
        )
        await check_votes(store, poll_id, clicked)
    assert await shard_shown(fake, polls_server) == "1 of 2 (numbered from 0)"
    acknowledged = sum(1 for r in clicked.values() if counted(r))
    assert acknowledged > 0, "no click was acknowledged before the kills"
    print(f"vote storm: {len(clicked)} clicks, {acknowledged} acknowledged, all stored once across 2 kills")

    async with store.read() as conn:
        votes = (await conn.execute(select(poll_votes.c.user_id).where(poll_votes.c.poll_id == poll_id))).all()
    expected = f"{len({v.user_id for v in votes})} voted, {len(votes)} votes"
    shown = await within_grace(lambda: expected in embed_text(fake.get_message(message_id) or {}))
    assert shown is not None, f"the poll message never showed {expected!r}"

    # Nothing doubled: one scheduled post and one announcement per fan server, as the ledger says.
    await asyncio.sleep(2)  # a doubled post would have arrived by now
    for server in servers:
        assert len(bot_posts(fake, server.channel)) == 2, f"{server.guild.name}: a post is missing or doubled"
    async with store.read() as conn:
        rows = (await conn.execute(select(countdown_posts.c.guild_id, countdown_posts.c.state))).all()
    assert sorted(rows) == sorted((s.guild.id, "sent") for s in servers for _ in range(2))
    for server in servers:
        assert len(server.guild.scheduled_events) == 1, f"{server.guild.name}: the premiere event is missing or doubled"
    async with store.read() as conn:
        events = (await conn.execute(select(countdown_events.c.guild_id, countdown_events.c.state))).all()
    assert sorted(events) == sorted((s.guild.id, "live") for s in servers)

    # Every per-guild setting of every feature, of both shards' guilds, survived shard 1's
    # process starting twice (its READY and its catch-up see only the guilds of shard 1).
    assert await settings_rows(store) == {
        table: {s.guild.id for s in servers}
        for table in ("spoilers", "schedules", "creator roles", "languages", "countdown options")
    } | {"departed": set()}

    # 5. Within Discord's limits throughout.
    assert fake.rate_limit_hits == 0
    assert fake.violations == [], fake.violations
    for bot in processes:
        assert await bot.stop() == 0


async def set_the_other_settings(fake: FakeDiscord, server: Server) -> Role:
    """A spoiler channel, a poll creator role, a language, the premiere event and the notify
    role: every other per-guild setting."""
    role = server.guild.add_role("Pollsters", 0)
    for command, options in (
        ("settings spoilers add", {"channel": server.channel}),
        ("settings polls creator_role", {"role": role}),
        ("settings language set", {"language": "en"}),  # a row, and posts stay readable here
        ("settings countdown event", {"state": "on"}),
        ("settings countdown notify_role", {"role": server.fans}),
    ):
        record = await fake.slash(server.guild, server.channel, server.moderator, command, options)
        assert record.callback is not None, f"{command} not answered"
    return role


async def settings_rows(store: Store) -> dict[str, set[int]]:
    """The guilds with a row in each table of per-guild settings (and those marked departed)."""
    tables = {
        "spoilers": spoiler_channels,
        "schedules": countdown_schedules,
        "creator roles": poll_settings,
        "languages": guild_languages,
        "countdown options": countdown_options,
        "departed": departed_guilds,
    }
    async with store.read() as conn:
        return {name: {int(g) for g in await conn.scalars(select(t.c.guild_id))} for name, t in tables.items()}


async def check_votes(store: Store, poll_id: int, clicked: dict[tuple[int, int], InteractionRecord]) -> None:
    async with store.read() as conn:
        rows = (
            await conn.execute(
                select(poll_votes.c.user_id, poll_votes.c.option_index).where(poll_votes.c.poll_id == poll_id)
            )
        ).all()
    stored = {(row.user_id, row.option_index) for row in rows}
    assert len(rows) == len(stored), "a vote is stored twice"
    acknowledged = {pair for pair, record in clicked.items() if counted(record)}
    assert acknowledged - stored == set(), "acknowledged votes are missing"
    assert stored - set(clicked) == set(), "votes nobody cast are stored"
