"""1,000 guilds whose countdown posts are due in the same minute, against a 50 requests/s limit.

The real bot and store run against the fake Discord with Discord's global limit of 50
requests per second enforced (``fake.global_rate_limit(per_second=50)``). Every guild
has a daily schedule whose local time is 13:00 UTC (in five different zones: UTC
13:00, Europe/London 13:00, Asia/Seoul 22:00, America/New_York 08:00, Asia/Kolkata
18:30 on the benchmark's date). The clock is moved to 13:00 and the one dispatcher is
woken; the benchmark waits until every guild has its post.

Reported: the time from the due instant to the last post, compared with the floor the
limit sets (guilds / 50 per second, 20 s for 1,000), the busiest one-second window of
requests, 429s, duplicates (a channel with more than one post, or a slot claimed twice)
and misses (a channel with none).

Schedules are written through the feature's repository rather than 1,000 slash
commands: what is measured is the posting, not the settings command.

Run: ``.venv/bin/python bench/bench_countdown_fanout.py [--guilds N]``.
Writes ``bench/results/countdown_fanout.json``. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import print_rows  # noqa: E402
from bench._fanout import GLOBAL_LIMIT, ZONES, count_posts, read_ledger  # noqa: E402
from bot.settings import Settings  # noqa: E402
from localdiscord import TEXT, FakeDiscord, point_discord_py_at, wait_until  # noqa: E402
from tests.support.harness import OPENAPI_SPEC, FakeClock, Harness, build_world  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "countdown_fanout.json"
DUE = dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.UTC)


async def run(guild_count: int, wait_seconds: float) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    fake = FakeDiscord(OPENAPI_SPEC)
    fake.max_guilds_per_shard = None  # one connection, as the figures in README were measured
    await fake.start()
    restore = point_discord_py_at(fake)
    workdir = tempfile.TemporaryDirectory(prefix="countdown-bench-")
    try:
        world = build_world(fake)
        channels = [world["general"]]
        for n in range(guild_count - 1):
            channels.append(fake.add_guild(f"Fan server {n}").add_channel("countdown", TEXT))
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            discord_token=fake.token,
            database_path=Path(workdir.name) / "bot.db",
            discord_api_base_url=fake.api_base_url,
            discord_gateway_url=fake.gateway_url,
        )
        clock = FakeClock(DUE - dt.timedelta(minutes=30))
        h = Harness(fake=fake, settings=settings, clock=clock, **world)
        await h.start()
        cog = h.bot.get_cog("CountdownCog")
        assert cog is not None
        repo = sys.modules["cogs.countdown.repo"]
        slots = sys.modules["cogs.countdown.slots"]
        posting = sys.modules["cogs.countdown.posting"]
        async with h.bot.store.read() as conn:
            record = await repo.fetch_current_record(conn)
        for index, channel in enumerate(channels):
            zone, local = ZONES[index % len(ZONES)]
            rule = slots.PostingRule(slots.parse_local_time(local), zone, "daily")
            slot = slots.next_slot(rule, clock.now(), release_start=record.window.start, last_day=None)
            assert slot is not None, zone
            assert slot.due_at == DUE, (zone, slot)
            saved = await repo.save_schedule(
                h.bot.store,
                guild_id=channel.guild_id,
                channel_id=channel.id,
                rule=rule,
                mode="post",
                slot=slot,
                current_change_id=record.id,
                by=1,
                now=clock.now(),
            )
            assert saved, "no other writer changes the record here"
        fake.global_rate_limit(per_second=GLOBAL_LIMIT)
        requests_before = len(fake.requests)
        hits_before = fake.rate_limit_hits

        clock.set(DUE)
        started = time.perf_counter()
        h.bot.scheduler.wake()

        def posted() -> int:
            return sum(1 for c in channels if fake.channel_messages(c.id))

        finished = await wait_until(lambda: posted() == guild_count, timeout=wait_seconds)
        await cog.posts.idle()
        await asyncio.sleep(0.5)  # anything extra (a duplicate) would show up now
        posts = count_posts(fake, channels, requests_before, started)
        await h.stop()

        return {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
            "pacer_per_second": h.bot.rest_pacer.per_second,
            "workers": posting.WORKERS,
            "queue_size": posting.QUEUE_SIZE,
            "all_posted": finished,
            **posts,
            "rate_limit_hits": fake.rate_limit_hits - hits_before,
            **(await read_ledger(settings.database_path)),
            "violations": len(fake.violations),
        }
    finally:
        restore()
        await fake.close()
        workdir.cleanup()


def print_table(result: dict[str, Any]) -> None:
    rows = [
        ("guilds due at the same instant", f"{result['guilds']}"),
        (
            "limit / pacer",
            f"{result['global_limit_per_second']}/s global, posts paced at {result['pacer_per_second']}/s",
        ),
        ("time to last post", f"{result['seconds_to_last_post']} s"),
        ("floor set by the limit", f"{result['floor_seconds']} s"),
        ("ratio to the floor", f"{result['ratio_to_floor']}"),
        ("busiest one-second window", f"{result['busiest_second_requests']} requests"),
        ("429s / violations", f"{result['rate_limit_hits']} / {result['violations']}"),
        (
            "posted once / duplicates / missed",
            f"{result['channels_with_one_post']} / {result['duplicates']} / {result['missed']}",
        ),
        ("ledger", f"{result['ledger']} (slots claimed twice: {result['slots_claimed_twice']})"),
    ]
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.guilds, args.timeout))
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
