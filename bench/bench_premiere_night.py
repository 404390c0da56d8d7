"""Premiere night: a release change fans out to every scheduled server while members vote and ask /countdown.

    .venv/bin/python bench/bench_premiere_night.py [--guilds 10000] [--votes 200] [--countdowns 100]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--skip-one-process]

On PostgreSQL (a fresh database per run on ``--database-url``'s server, dropped after it), one
fake Discord enforcing the global limit of 50 requests/s for the bot token. ``--guilds``
servers have a countdown schedule (written before the bot starts, through the feature's
repository; their regular post is a day away). An owner runs ``/release update`` in the admin
server; from that instant, for as long as the fan-out's floor (guilds / 50 s), ``--votes``
clicks a second (each member clicks each option of a poll once, so every click is a new
vote) and ``--countdowns`` ``/countdown`` calls a second arrive, half on each shard's fan
server. Reported per run:

- the fan-out: time from the change to the last announcement, against its floor, duplicates
  and misses;
- every interaction's p50 / p99 and whether all were answered within Discord's 3 s;
- votes lost (acknowledged as counted, absent from the store) or doubled (stored without an
  acknowledgement, or tallied twice);
- peak RSS (VmHWM) of each bot process.

Runs: two processes (SHARD_IDS 0 and 1 of SHARD_COUNT 2), then one process with both shards,
then the bare-bot baseline (``bench/baseline_bot.py``: /ping and its button at the same rates,
no store, no fan-out), as in the other benchmarks. Writes ``bench/results/premiere_night.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    BotProcess,
    Outcome,
    Prepared,
    VotingWorld,
    click_payload,
    dispatch_all,
    machine,
    new_fake,
    postgres_server_url,
    print_rows,
    quiesce,
    slash_payload,
    start_ready,
    wait_commands,
)
from bench._fanout import GLOBAL_LIMIT, count_posts  # noqa: E402
from bench.bench_fanout_processes import fresh_database  # noqa: E402
from bench.run import BASELINE_BUTTON, VOTE_BUTTON, seed_schedules  # noqa: E402
from bot.store import Store  # noqa: E402
from localdiscord import TEXT, FakeDiscord, wait_until  # noqa: E402
from localdiscord.state import Channel, Member  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "premiere_night.json"
SHARDS = 2
#: Options of each poll (every member clicks each once).
OPTIONS = 10
log = logging.getLogger("bench.premiere_night")


def fan_servers(fake: FakeDiscord, members: int) -> list[VotingWorld]:
    """One big fan server on each shard, where the votes and /countdown calls come from."""
    worlds = []
    for shard in range(SHARDS):
        guild = fake.add_guild(f"Premiere Fans {shard}", shard=(shard, SHARDS))
        channel = guild.add_channel("premiere-night", TEXT)
        worlds.append(VotingWorld(guild, channel, [guild.add_member(name=f"fan-{n}") for n in range(members)]))
    return worlds


async def create_poll(fake: FakeDiscord, world: VotingWorld) -> tuple[dict[str, Any], list[str]]:
    record = await fake.slash(
        world.guild,
        world.channel,
        world.members[0],
        "poll create",
        {
            "question": "Who returns in season 2?",
            "options": " | ".join(f"Choice {n}" for n in range(OPTIONS)),
            "max_choices": OPTIONS,
        },
        timeout=30,
    )
    if not await record.wait_followups(1, timeout=30):
        raise RuntimeError(f"/poll create was not completed: {record.callback}")
    message = fake.channel_messages(world.channel.id)[-1]
    buttons = [
        c["custom_id"]
        for row in message.get("components") or []
        for c in row.get("components") or []
        if VOTE_BUTTON.match(c.get("custom_id", ""))
    ]
    return message, buttons


def interleave(*streams: list[Prepared]) -> list[Prepared]:
    out: list[Prepared] = []
    for group in zip(*streams, strict=False):
        out.extend(group)
    return out


def vote_summary(outcome: Outcome, stored: set[tuple[int, int, int]], clicks: dict[int, tuple[int, int, int]]) -> Any:
    """Lost: acknowledged as counted but not stored; doubled: stored without being acknowledged."""
    counted = {clicks[r.id] for r in outcome.records if r.answered and "is counted" in json.dumps(r.callback or {})}
    clicked = set(clicks.values())
    return {
        "acknowledged_as_counted": len(counted),
        "stored": len(stored & clicked),
        "lost": len(counted - stored),
        "doubled": len((stored & clicked) - counted),
    }


async def run_bot(
    label: str, processes: list[dict[str, str]], guilds: int, database_url: str, votes: float, countdowns: float
) -> dict[str, Any]:
    fake = await new_fake()
    fake.recommended_shards = SHARDS
    admin = fake.add_guild("Bot Admin", shard=(0, SHARDS))
    owner = admin.add_member(name="owner")
    ops = admin.add_channel("ops", TEXT)
    floor = guilds / GLOBAL_LIMIT
    # Enough members that each clicks each option of its server's poll at most once.
    members = int(votes * floor * 1.2 / SHARDS / OPTIONS) + 10
    worlds = fan_servers(fake, members)
    channels: list[Channel] = [
        fake.add_guild(f"Scheduled {n}", shard=(n % SHARDS, SHARDS)).add_channel("countdown", TEXT)
        for n in range(guilds)
    ]
    procs: list[BotProcess] = []
    try:
        async with fresh_database(database_url, keep=False) as url:
            assert url is not None
            started = time.perf_counter()
            await seed_schedules(
                url, [(c.guild_id, c.id) for c in channels], dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            )
            log.info("%s: seeded %d schedules in %.0f s", label, guilds, time.perf_counter() - started)
            fake.global_rate_limit(per_second=GLOBAL_LIMIT)
            common = {
                "DATABASE_URL": url,
                "SHARD_COUNT": str(SHARDS),
                "OWNER_IDS": str(owner.id),
                "ADMIN_GUILD_IDS": str(admin.id),
            }
            with tempfile.TemporaryDirectory(prefix="premiere-") as tmp:
                procs = list(
                    await asyncio.gather(
                        *(
                            start_ready("bot", fake, Path(tmp) / f"p{n}", timeout=600, extra_env=common | extra)
                            for n, extra in enumerate(processes)
                        )
                    )
                )
                await wait_commands(fake, ["countdown", "poll"], timeout=60)
                if not await wait_until(lambda: any(c["name"] == "release" for c in fake.commands_for(admin)), 60):
                    raise RuntimeError("/release was not synced to the admin server")
                polls = [await create_poll(fake, world) for world in worlds]
                count = int(votes * floor)
                clicks: dict[int, tuple[int, int, int]] = {}
                streams: list[list[Prepared]] = []
                for world, (message, buttons) in zip(worlds, polls, strict=True):
                    poll_id = int(VOTE_BUTTON.match(buttons[0]).group(1))  # type: ignore[union-attr]
                    stream = []
                    for i in range(count // SHARDS):
                        member: Member = world.members[i // OPTIONS]
                        option = i % OPTIONS
                        prepared = click_payload(fake, world, member, message, buttons[option])
                        clicks[int(prepared.payload["id"])] = (poll_id, member.id, option)
                        stream.append(prepared)
                    streams.append(stream)
                vote_stream = interleave(*streams)
                n_countdowns = int(countdowns * floor)
                countdown_stream = [
                    slash_payload(fake, worlds[i % SHARDS], worlds[i % SHARDS].members[i % members], "countdown")
                    for i in range(n_countdowns)
                ]
                quiesce(fake)
                requests_before = len(fake.requests)
                change = await fake.slash(
                    admin,
                    ops,
                    owner,
                    "release update",
                    {"window": "2027-03-14", "confidence": "confirmed", "source": "Netflix press release"},
                    wait=False,
                )
                change_at = change.dispatched_at
                vote_run, countdown_run = await asyncio.gather(
                    dispatch_all(fake, vote_stream, votes), dispatch_all(fake, countdown_stream, countdowns)
                )
                await wait_until(lambda: all(fake.channel_messages(c.id) for c in channels), floor * 3 + 60, 0.2)
                await asyncio.sleep(1.0)
                posts = count_posts(fake, channels, requests_before, change_at)
                rss = [p.status().get("VmHWM", 0) // 1024 for p in procs]
                store = await Store.open(url)
                try:
                    async with store.read() as conn:
                        rows = (
                            await conn.exec_driver_sql("SELECT poll_id, user_id, option_index FROM poll_votes")
                        ).all()
                finally:
                    await store.close()
                exits = [await p.stop() for p in procs]
                errors = [line for p in procs for line in p.errors()][:5]
        stored = {(int(a), int(b), int(c)) for a, b, c in rows}
        everything = Outcome(
            vote_run.records + countdown_run.records,
            min(vote_run.first_dispatch, countdown_run.first_dispatch),
            max(vote_run.last_dispatch, countdown_run.last_dispatch),
            votes + countdowns,
        )
        return {
            "label": label,
            "processes": len(processes),
            "guilds": guilds,
            "fan_out": posts,
            "release_change_answered": change.answered,
            "votes": vote_run.summary(),
            "countdown": countdown_run.summary(),
            "all_interactions": everything.summary(),
            "all_answered_within_3_s": everything.not_acknowledged == 0
            and everything.late == 0
            and max(everything.latencies, default=0) < 3.0,
            "vote_ledger": vote_summary(vote_run, stored, clicks),
            "peak_rss_mb": rss,
            "exit_codes": exits,
            "logged_errors": errors,
        }
    finally:
        for proc in procs:
            await proc.stop()
        await fake.close()


async def run_baseline(seconds: float, votes: float, countdowns: float) -> dict[str, Any]:
    """The bare bot at the same interaction rates: /ping for /countdown, its button for the vote."""
    fake = await new_fake()
    worlds = fan_servers(fake, 200)
    with tempfile.TemporaryDirectory(prefix="premiere-baseline-") as tmp:
        proc = await start_ready("baseline", fake, Path(tmp), timeout=120)
        try:
            await wait_commands(fake, ["ping"])
            messages = []
            for world in worlds:
                record = await fake.slash(world.guild, world.channel, world.members[0], "ping", timeout=10)
                assert record.original is not None
                messages.append(record.original)
            clicks = [
                click_payload(
                    fake, worlds[i % SHARDS], worlds[i % SHARDS].members[i % 200], messages[i % SHARDS], BASELINE_BUTTON
                )
                for i in range(int(votes * seconds))
            ]
            pings = [
                slash_payload(fake, worlds[i % SHARDS], worlds[i % SHARDS].members[i % 200], "ping")
                for i in range(int(countdowns * seconds))
            ]
            quiesce(fake)
            click_run, ping_run = await asyncio.gather(
                dispatch_all(fake, clicks, votes), dispatch_all(fake, pings, countdowns)
            )
            rss = proc.status().get("VmHWM", 0) // 1024
        finally:
            await proc.stop()
            await fake.close()
    return {"button": click_run.summary(), "/ping": ping_run.summary(), "peak_rss_mb": rss, "seconds": seconds}


def print_table(result: dict[str, Any]) -> None:
    rows = [("guilds / store", f"{result['guilds']:,} scheduled servers; PostgreSQL, a fresh database per run")]
    rows.append(
        (
            "load during the fan-out",
            f"{result['votes_per_second']} vote clicks/s + {result['countdowns_per_second']} /countdown/s",
        )
    )
    for run in result["runs"]:
        fan = run["fan_out"]
        label = run["label"]
        rows += [
            (
                f"{label}: fan-out",
                f"{fan['seconds_to_last_post']} s, floor {fan['floor_seconds']:g} s, ratio {fan['ratio_to_floor']}; duplicates {fan['duplicates']}, missed {fan['missed']}",
            ),
            (
                f"{label}: vote p50 / p99 ms",
                f"{run['votes']['p50_ms']} / {run['votes']['p99_ms']} ({run['votes']['interactions']} clicks)",
            ),
            (
                f"{label}: /countdown p50 / p99 ms",
                f"{run['countdown']['p50_ms']} / {run['countdown']['p99_ms']} ({run['countdown']['interactions']} calls)",
            ),
            (
                f"{label}: all answered within 3 s",
                f"{run['all_answered_within_3_s']} (max {run['all_interactions']['max_ms']} ms)",
            ),
            (f"{label}: votes lost / doubled", f"{run['vote_ledger']['lost']} / {run['vote_ledger']['doubled']}"),
            (f"{label}: peak RSS MB per process", " / ".join(str(mb) for mb in run["peak_rss_mb"])),
        ]
    base = result.get("baseline")
    if base:
        rows += [
            ("bare bot: button p50 / p99 ms", f"{base['button']['p50_ms']} / {base['button']['p99_ms']}"),
            ("bare bot: /ping p50 / p99 ms", f"{base['/ping']['p50_ms']} / {base['/ping']['p99_ms']}"),
            ("bare bot: peak RSS MB", str(base["peak_rss_mb"])),
        ]
    print_rows(rows)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    two = [{"SHARD_IDS": str(shard)} for shard in range(SHARDS)]
    runs.append(await run_bot("two processes", two, args.guilds, args.database_url, args.votes, args.countdowns))
    print_rows([("two processes", json.dumps(runs[-1]["fan_out"]))])
    if not args.skip_one_process:
        runs.append(await run_bot("one process", [{}], args.guilds, args.database_url, args.votes, args.countdowns))
    baseline = await run_baseline(min(args.guilds / GLOBAL_LIMIT, 30.0), args.votes, args.countdowns)
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "guilds": args.guilds,
        "votes_per_second": args.votes,
        "countdowns_per_second": args.countdowns,
        "runs": runs,
        "baseline": baseline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=10_000, help="scheduled servers (default 10000)")
    parser.add_argument("--votes", type=float, default=200.0, help="vote clicks a second during the fan-out")
    parser.add_argument("--countdowns", type=float, default=100.0, help="/countdown calls a second during it")
    parser.add_argument("--database-url", default=None, help="the PostgreSQL server (default: BENCH_DATABASE_URL's)")
    parser.add_argument("--skip-one-process", action="store_true", help="only the two-process run")
    args = parser.parse_args()
    args.database_url = args.database_url or postgres_server_url()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = asyncio.run(measure(args))
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
