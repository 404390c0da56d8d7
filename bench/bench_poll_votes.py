"""A burst of votes on one poll, through the fake Discord, against the real bot and store.

2,000 members cast 10,000 clicks on one poll. Clicks are dispatched as
INTERACTION_CREATE without waiting (``fake.click(..., wait=False)``), keeping
``--in-flight`` of them outstanding at a time (a closed loop: the next click goes out
when one is acknowledged), and no member ever has two clicks in flight, so the
expected final votes follow from the click order by the same rule the bot applies.

Reported: clicks per second handled, the 50th/99th percentile time from a click's
dispatch to its acknowledgement, whether every click was acknowledged, whether the
votes in the store equal the votes the acknowledged clicks add up to, whether the
final message tally equals the store, and how many times the poll message was edited.

Run: ``.venv/bin/python bench/bench_poll_votes.py [--members N] [--clicks N] [--in-flight N]``.
Writes ``bench/results/poll_votes.json``. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import percentile, print_rows  # noqa: E402
from bot.settings import Settings  # noqa: E402
from cogs.polls.rules import decide_vote  # noqa: E402
from localdiscord import TEXT, FakeDiscord, point_discord_py_at  # noqa: E402
from tests.support.bare_bot import run_bare_bot, stop_bare_bot  # noqa: E402
from tests.support.harness import OPENAPI_SPEC, FakeClock, Harness, build_world  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "poll_votes.json"
OPTIONS = ("On-jo", "Su-hyeok", "Nam-ra", "Cheong-san")
_DESCRIPTION_COUNT = re.compile(r"\*\*(\d+)\*\* \(")


def click_plan(rng: random.Random, members: int, clicks: int) -> list[tuple[int, int]]:
    """Who clicks which option, in order: random members, random options."""
    return [(rng.randrange(members), rng.randrange(len(OPTIONS))) for _ in range(clicks)]


@dataclass
class Drive:
    latencies: list[float] = field(default_factory=list)
    acknowledged: list[tuple[int, int]] = field(default_factory=list)  # (voter, option), per voter in order
    failures: int = 0
    elapsed: float = 0.0


async def drive_clicks(
    fake: FakeDiscord,
    guild: Any,
    channel: Any,
    voters: list[Any],
    message: dict[str, Any],
    custom_id: Callable[[int], str],
    plan: list[tuple[int, int]],
    in_flight: int,
) -> Drive:
    """Dispatch the planned clicks keeping ``in_flight`` outstanding; a voter never has two at once."""
    drive = Drive()
    busy: set[int] = set()
    pending: deque[tuple[int, int]] = deque(plan)
    outstanding: set[asyncio.Task[None]] = set()

    async def one_click(voter: int, option: int) -> None:
        record = await fake.click(guild, channel, voters[voter], message, custom_id(option), wait=False)
        if await record.wait_acknowledged(timeout=10.0) and record.latency is not None:
            drive.latencies.append(record.latency)
            drive.acknowledged.append((voter, option))
        else:
            drive.failures += 1
        busy.discard(voter)

    started = time.perf_counter()
    while pending or outstanding:
        deferred: list[tuple[int, int]] = []
        while pending and len(outstanding) < in_flight:
            voter, option = pending.popleft()
            if voter in busy:
                deferred.append((voter, option))
                continue
            busy.add(voter)
            task = asyncio.create_task(one_click(voter, option))
            outstanding.add(task)
            task.add_done_callback(outstanding.discard)
        pending.extendleft(reversed(deferred))
        if outstanding:
            await asyncio.wait(set(outstanding), return_when=asyncio.FIRST_COMPLETED)
    drive.elapsed = time.perf_counter() - started
    return drive


async def run_baseline(members: int, clicks: int, in_flight: int, seed: int) -> dict[str, Any]:
    """The same clicks on the bare bot's button (discord.py + the fake, no feature): the yardstick."""
    fake = FakeDiscord(OPENAPI_SPEC)
    await fake.start()
    restore = point_discord_py_at(fake)
    try:
        guild = fake.add_guild("Baseline")
        channel = guild.add_channel("general", TEXT)
        voters = [guild.add_member(name=f"fan-{n}") for n in range(members)]
        bot, task = await run_bare_bot(fake)
        try:
            ping = await fake.slash(guild, channel, voters[0], "ping")
            message = fake.channel_messages(channel.id)[-1] if fake.channel_messages(channel.id) else ping.original
            plan = click_plan(random.Random(seed), members, clicks)
            drive = await drive_clicks(fake, guild, channel, voters, message, lambda _: "bare:ack:1", plan, in_flight)
        finally:
            await stop_bare_bot(bot, task)
        return {
            "clicks_per_second": round(len(drive.latencies) / drive.elapsed, 1),
            "ack_p50_ms": round(percentile(drive.latencies, 0.50) * 1000, 2),
            "ack_p99_ms": round(percentile(drive.latencies, 0.99) * 1000, 2),
            "not_acknowledged": drive.failures,
        }
    finally:
        restore()
        await fake.close()


async def run(members: int, clicks: int, in_flight: int, max_choices: int, seed: int) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(seed)
    fake = FakeDiscord(OPENAPI_SPEC)
    await fake.start()
    restore = point_discord_py_at(fake)
    workdir = tempfile.TemporaryDirectory(prefix="poll-bench-")
    try:
        world = build_world(fake)
        voters = [world["guild"].add_member(name=f"fan-{n}") for n in range(members)]
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            discord_token=fake.token,
            database_path=Path(workdir.name) / "bot.db",
            discord_api_base_url=fake.api_base_url,
            discord_gateway_url=fake.gateway_url,
        )
        h = Harness(fake=fake, settings=settings, clock=FakeClock(), **world)
        await h.start()
        created = await h.slash(
            h.member,
            h.general,
            "poll create",
            question="Who returns in season 2?",
            options=" | ".join(OPTIONS),
            max_choices=max_choices,
        )
        await created.wait_followups()
        message = h.fake.channel_messages(h.general.id)[-1]
        poll_id = int(message["components"][0]["components"][0]["custom_id"].split(":")[2])
        edits_before = _message_edits(fake, message)

        plan = click_plan(rng, members, clicks)
        drive = await drive_clicks(
            fake, h.guild, h.general, voters, message, lambda option: f"poll:vote:{poll_id}:{option}", plan, in_flight
        )
        latencies, failures, elapsed = drive.latencies, drive.failures, drive.elapsed
        expected: dict[int, tuple[int, ...]] = {}
        for voter, option in drive.acknowledged:
            user = voters[voter].id
            expected[user] = decide_vote(expected.get(user, ()), option, max_choices).after

        # Let the refresher make its last (exact) edit.
        cog = h.bot.get_cog("Polls")
        await asyncio.sleep(cog.refresher.interval + 1.0)  # type: ignore[union-attr]
        edits = _message_edits(fake, message) - edits_before
        await h.stop()

        stored = _stored_votes(settings.database_path, poll_id)
        expected_votes = {(user, option) for user, options in expected.items() for option in options}
        final = fake.get_message(int(message["id"]))
        shown_counts = [int(n) for n in _DESCRIPTION_COUNT.findall(final["embeds"][0]["description"])]
        stored_counts = [sum(1 for _, o in stored if o == i) for i in range(len(OPTIONS))]
        return {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
            "members": members,
            "clicks": clicks,
            "in_flight": in_flight,
            "max_choices": max_choices,
            "seconds": round(elapsed, 3),
            "clicks_per_second": round(len(latencies) / elapsed, 1),
            "ack_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "ack_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "ack_max_ms": round(max(latencies) * 1000, 2),
            "ack_mean_ms": round(statistics.fmean(latencies) * 1000, 2),
            "acknowledged": len(latencies),
            "not_acknowledged": failures,
            "votes_in_store": len(stored),
            "votes_acknowledged": len(expected_votes),
            "acknowledged_equals_stored": stored == expected_votes,
            "final_tally_shown": shown_counts,
            "final_tally_stored": stored_counts,
            "final_tally_exact": shown_counts == stored_counts,
            "message_edits": edits,
            "refresh_interval_s": cog.refresher.interval,  # type: ignore[union-attr]
            "rate_limit_hits": fake.rate_limit_hits,
            "violations": len(fake.violations),
        }
    finally:
        restore()
        await fake.close()
        workdir.cleanup()


def _message_edits(fake: FakeDiscord, message: dict[str, Any]) -> int:
    path = f"/channels/{message['channel_id']}/messages/{message['id']}"
    return sum(1 for r in fake.requests if r.method == "PATCH" and r.path.endswith(path) and r.status < 300)


def _stored_votes(database: Path, poll_id: int) -> set[tuple[int, int]]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT user_id, option_index FROM poll_votes WHERE poll_id = ?", (poll_id,))
        return {(int(user), int(option)) for user, option in rows}


def print_table(result: dict[str, Any]) -> None:
    rows = [
        ("members / clicks / in flight", f"{result['members']} / {result['clicks']} / {result['in_flight']}"),
        ("clicks per second", f"{result['clicks_per_second']}"),
        ("dispatch→ack p50", f"{result['ack_p50_ms']} ms"),
        ("dispatch→ack p99", f"{result['ack_p99_ms']} ms"),
        ("acknowledged / not", f"{result['acknowledged']} / {result['not_acknowledged']}"),
        (
            "votes acknowledged = stored",
            f"{result['votes_acknowledged']} = {result['votes_in_store']}: {result['acknowledged_equals_stored']}",
        ),
        ("final tally shown = stored", f"{result['final_tally_shown']}: {result['final_tally_exact']}"),
        ("poll message edits", f"{result['message_edits']} (one per {result['refresh_interval_s']} s at most)"),
        ("429s / violations", f"{result['rate_limit_hits']} / {result['violations']}"),
    ]
    baseline = result.get("bare_bot_baseline")
    if baseline:
        rows.append(
            (
                "bare bot, same clicks",
                f"{baseline['clicks_per_second']}/s, p50 {baseline['ack_p50_ms']} ms, p99 {baseline['ack_p99_ms']} ms"
                f" (polls at {result['ratio_to_bare_bot']}×)",
            )
        )
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--clicks", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--max-choices", type=int, default=1)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare-bot yardstick run")
    args = parser.parse_args()
    result = asyncio.run(run(args.members, args.clicks, args.in_flight, args.max_choices, args.seed))
    if not args.no_baseline:
        baseline = asyncio.run(run_baseline(args.members, args.clicks, args.in_flight, args.seed))
        result["bare_bot_baseline"] = baseline
        result["ratio_to_bare_bot"] = round(result["clicks_per_second"] / baseline["clicks_per_second"], 2)
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
