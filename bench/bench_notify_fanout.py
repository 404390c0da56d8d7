"""Release news to 5,000 scheduled servers, each with a notify role, at Discord's 50 requests/s,
while members click "Notify me".

The real bot and store run against the fake Discord with Discord's global limit of 50
requests per second enforced. Every server has a countdown schedule and a notify role
(written through the feature's repositories: what is measured is the fan-out, not the
settings commands). An owner's ``/release update`` confirms a date; every server's news
post mentions its role and carries the button. Meanwhile members of the first server
click "Notify me" on its news post (``--clicks-per-second``, each click a role change the
bot makes outside the paced fan-out, as Discord counts it against the same limit).

Measured twice in one run: first the same fan-out without notify roles or clicks (the
baseline), then with them; the ratio of the two is printed beside each one's ratio to the floor.

Reported: the time from the update to the last news post against the floor the limit sets
(servers / 50 per second: 100 s for 5,000), the ratio of the two, the busiest one-second
window, 429s, duplicates and misses, news posts whose mentions were not exactly their role,
and the clicks answered with their slowest answer.

Run: ``.venv/bin/python bench/bench_notify_fanout.py [--guilds N] [--clicks-per-second R]``.
Writes ``bench/results/notify_fanout.json``. A script, never a timed test.
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
from bench._fanout import GLOBAL_LIMIT, busiest_second, read_ledger  # noqa: E402
from bot.settings import Settings  # noqa: E402
from localdiscord import TEXT, FakeDiscord, Permission, point_discord_py_at, wait_until  # noqa: E402
from localdiscord.state import Channel  # noqa: E402
from tests.support.harness import OPENAPI_SPEC, FakeClock, Harness, build_world  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "notify_fanout.json"
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
NOTIFY = "countdown:notify"
CLICKERS = 20


class RunningClock(FakeClock):
    """The bot's clock from ``NOW`` on, moving with real time: the scheduler's back-offs (which
    a frozen clock would never let pass) expire as they do in production."""

    def __init__(self, start: dt.datetime) -> None:
        super().__init__(start)
        self._started = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.now()

    def now(self) -> dt.datetime:
        return super().now() + dt.timedelta(seconds=time.monotonic() - self._started)


def news_posts(fake: FakeDiscord, channel: Channel) -> list[dict[str, Any]]:
    """The bot's own posts in a channel (not answers to commands or clicks)."""
    return [m for m in fake.channel_messages(channel.id) if "interaction_metadata" not in m and not m["flags"] & 64]


def has_button(message: dict[str, Any]) -> bool:
    return any(c.get("custom_id") == NOTIFY for row in message.get("components", []) for c in row.get("components", []))


class PostCounter:
    """Channels with a post so far, read from the fake's request log a new entry at a time (a
    scan of every channel each time would hold the event loop the bot's pacer runs on)."""

    def __init__(self, fake: FakeDiscord, start: int) -> None:
        self.fake = fake
        self.seen = start
        self.channels: set[str] = set()

    def __call__(self) -> int:
        requests = self.fake.requests
        for request in requests[self.seen :]:
            if request.method == "POST" and request.path.endswith("/messages") and request.status < 300:
                self.channels.add(request.path.split("/")[2])
        self.seen = len(requests)
        return len(self.channels)


async def run(guild_count: int, clicks_per_second: float, wait_seconds: float, *, notify: bool) -> dict[str, Any]:
    """One fan-out: with a notify role in every server and members clicking (``notify``), or
    without either (the baseline measured beside it)."""
    logging.basicConfig(level=logging.WARNING)
    fake = FakeDiscord(OPENAPI_SPEC)
    fake.max_guilds_per_shard = None  # one connection, as the countdown fan-out is measured
    await fake.start()
    restore = point_discord_py_at(fake)
    workdir = tempfile.TemporaryDirectory(prefix="notify-bench-")
    try:
        world = build_world(fake)
        home = world["guild"]
        assert home.bot_role is not None
        home.bot_role.permissions |= int(Permission.MANAGE_ROLES)
        channels = [world["general"]]
        roles = [home.add_role("Season 2 news", 0, mentionable=True)]
        home.bot_role.position = roles[0].position + 1
        clickers = [home.add_member(name=f"fan-{n}") for n in range(CLICKERS)]
        for n in range(guild_count - 1):
            guild = fake.add_guild(f"Fan server {n}")
            channels.append(guild.add_channel("countdown", TEXT))
            roles.append(guild.add_role("Season 2 news", 0, mentionable=True))
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            discord_token=fake.token,
            database_path=Path(workdir.name) / "bot.db",
            discord_api_base_url=fake.api_base_url,
            discord_gateway_url=fake.gateway_url,
            owner_ids=(world["owner"].id,),
            admin_guild_ids=(home.id,),
        )
        h = Harness(fake=fake, settings=settings, clock=RunningClock(NOW), **world)
        await h.start()
        repo = sys.modules["cogs.countdown.repo"]
        slots = sys.modules["cogs.countdown.slots"]
        async with h.bot.store.read() as conn:
            record = await repo.fetch_current_record(conn)
        # A daily slot far from now: only the news is posted during the run.
        rule = slots.PostingRule(slots.parse_local_time("23:00"), "UTC", "daily")
        slot = slots.next_slot(rule, NOW, release_start=record.window.start, last_day=None)
        for channel, role in zip(channels, roles, strict=True):
            saved = await repo.save_schedule(
                h.bot.store,
                guild_id=channel.guild_id,
                channel_id=channel.id,
                rule=rule,
                mode="post",
                slot=slot,
                current_change_id=record.id,
                by=1,
                now=NOW,
            )
            assert saved
            if notify:
                await repo.save_notify_role(h.bot.store, channel.guild_id, role.id, by=1, now=NOW)
        fake.global_rate_limit(per_second=GLOBAL_LIMIT)
        requests_before = len(fake.requests)
        hits_before = fake.rate_limit_hits

        started = time.perf_counter()
        update = await h.slash(
            world["owner"],
            world["in_category"],
            "release update",
            window="2027-03-14",
            confidence="confirmed",
            source="https://example.org/aoaad-s2",
        )
        assert "Release information updated" in (update.content or ""), update.content
        count = PostCounter(fake, requests_before)
        latencies: list[float] = []
        clicks = 0
        if notify:
            # Members click "Notify me" on the first server's news while the others' news goes out.
            assert await wait_until(lambda: bool(news_posts(fake, channels[0])), timeout=wait_seconds)
            news = news_posts(fake, channels[0])[0]
            while count() < guild_count and time.perf_counter() - started < wait_seconds:
                member = clickers[clicks % CLICKERS]
                record_ = await h.fake.click(home, channels[0], member, news, NOTIFY, wait=False)
                clicks += 1
                await asyncio.sleep(1 / clicks_per_second)
                if await record_.wait_acknowledged(3):
                    latencies.append(record_.latency)
        else:
            await wait_until(lambda: count() >= guild_count, timeout=wait_seconds, interval=0.5)
        finished = count() >= guild_count
        await asyncio.sleep(0.5)  # anything extra (a duplicate) would show up now
        window = fake.requests[requests_before:]
        sends = [r for r in window if r.method == "POST" and r.path.endswith("/messages") and r.status < 300]
        last = max(r.time for r in sends) - started if sends else float("nan")
        first = min(r.time for r in sends) - started if sends else float("nan")
        per_channel = [len(news_posts(fake, c)) for c in channels]
        wrong_mentions = sum(
            1
            for channel, role in zip(channels, roles, strict=True)
            for m in news_posts(fake, channel)
            if m["mention_roles"] != ([str(role.id)] if notify else [])
            or m["mention_everyone"]
            or has_button(m) != notify
        )
        floor = guild_count / GLOBAL_LIMIT
        cached = len(h.bot.guilds)
        await h.stop()
        return {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
            "guilds": guild_count,
            "notify_roles": notify,
            "global_limit_per_second": GLOBAL_LIMIT,
            "pacer_per_second": h.bot.rest_pacer.per_second,
            "all_posted": finished,
            "seconds_to_first_post": round(first, 3),
            "seconds_to_last_post": round(last, 3),
            "floor_seconds": floor,
            "ratio_to_floor": round(last / floor, 3),
            "busiest_second_requests": busiest_second([r.time for r in window]),
            "rate_limit_hits": fake.rate_limit_hits - hits_before,
            "duplicates": sum(n - 1 for n in per_channel if n > 1),
            "missed": sum(1 for n in per_channel if n == 0),
            "wrong_mentions": wrong_mentions,
            "clicks": clicks,
            "clicks_answered": len(latencies),
            "slowest_click_seconds": round(max(latencies), 3) if latencies else None,
            "role_changes": sum(1 for r in window if "/roles/" in r.path and r.status < 300),
            "violations": len(fake.violations),
            "guilds_in_cache": cached,
            **(await read_ledger(settings.database_path)),
        }
    finally:
        restore()
        await fake.close()
        workdir.cleanup()


def print_table(result: dict[str, Any]) -> None:
    rows = [
        (
            "servers (notify role in each)" if result["notify_roles"] else "servers (no notify role)",
            f"{result['guilds']}",
        ),
        ("limit / pacer", f"{result['global_limit_per_second']}/s global, paced at {result['pacer_per_second']}/s"),
        ("time to first / last news post", f"{result['seconds_to_first_post']} / {result['seconds_to_last_post']} s"),
        ("floor set by the limit", f"{result['floor_seconds']} s"),
        ("ratio to the floor", f"{result['ratio_to_floor']}"),
        ("busiest one-second window", f"{result['busiest_second_requests']} requests"),
        ("429s / violations", f"{result['rate_limit_hits']} / {result['violations']}"),
        (
            "duplicates / missed / wrong mentions",
            f"{result['duplicates']} / {result['missed']} / {result['wrong_mentions']}",
        ),
        (
            "Notify me clicks (answered, slowest)",
            f"{result['clicks']} ({result['clicks_answered']}, {result['slowest_click_seconds']} s), "
            f"{result['role_changes']} role changes",
        ),
    ]
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=5000)
    parser.add_argument("--clicks-per-second", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=400.0)
    args = parser.parse_args()
    baseline = asyncio.run(run(args.guilds, args.clicks_per_second, args.timeout, notify=False))
    result = asyncio.run(run(args.guilds, args.clicks_per_second, args.timeout, notify=True))
    result["baseline"] = baseline
    result["ratio_to_baseline"] = round(result["seconds_to_last_post"] / baseline["seconds_to_last_post"], 3)
    print("baseline: the same fan-out without notify roles or clicks, measured first")
    print_table(baseline)
    print("\nwith a notify role in every server, members clicking Notify me")
    print_table(result)
    print(f"\nratio to the baseline: {result['ratio_to_baseline']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
