"""What the two fan-out benchmarks share: the limit, the zones, and how the posts are counted.

``bench/bench_countdown_fanout.py`` runs the bot in process with a fake clock;
``bench/run.py`` runs ``python -m bot`` as a process on the real clock. Both count the
posts the same way: from the fake's request log and the bot's ledger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from bot.store import Store
from bot.store.schema import countdown_posts
from localdiscord import FakeDiscord
from localdiscord.state import Channel

if TYPE_CHECKING:
    from bench._common import BotDatabase

#: Discord's global limit for a bot token, enforced by the fake during the fan-out.
GLOBAL_LIMIT = 50
#: Zones the guilds' schedules are spread over (with the local time that is 13:00 UTC on 2026-11-25).
ZONES = (
    ("UTC", "13:00"),
    ("Europe/London", "13:00"),
    ("Asia/Seoul", "22:00"),
    ("America/New_York", "08:00"),
    ("Asia/Kolkata", "18:30"),
)


def busiest_second(times: Sequence[float]) -> int:
    """The most requests that started within any one-second window."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, stamp in enumerate(ordered):
        while stamp - ordered[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def count_posts(fake: FakeDiscord, channels: Sequence[Channel], requests_before: int, due_at: float) -> dict[str, Any]:
    """Posts since request ``requests_before``: time of the last from ``due_at`` (perf_counter), spread, misses."""
    window = fake.requests[requests_before:]
    sends = [r for r in window if r.method == "POST" and r.path.endswith("/messages")]
    ok_sends = [r for r in sends if r.status < 300]
    per_channel = Counter(len(fake.channel_messages(c.id)) for c in channels)
    floor = len(channels) / GLOBAL_LIMIT
    last_post = max(r.time for r in ok_sends) - due_at if ok_sends else float("nan")
    return {
        "guilds": len(channels),
        "global_limit_per_second": GLOBAL_LIMIT,
        "seconds_to_last_post": round(last_post, 3),
        "floor_seconds": floor,
        "ratio_to_floor": round(last_post / floor, 3),
        "busiest_second_requests": busiest_second([r.time for r in window]),
        "post_requests": len(sends),
        "channels_with_one_post": per_channel.get(1, 0),
        "duplicates": sum(count * (n - 1) for n, count in per_channel.items() if n > 1),
        "missed": per_channel.get(0, 0),
    }


LEDGER_STATES = "SELECT state, count(*) FROM countdown_posts GROUP BY state"
SLOTS_CLAIMED_TWICE = (
    "SELECT count(*) FROM (SELECT guild_id, slot_key FROM countdown_posts "
    "GROUP BY guild_id, slot_key HAVING count(*) > 1) AS twice"
)


async def fetch_ledger(db: BotDatabase) -> dict[str, Any]:
    """``read_ledger`` of a bot's database on either store."""
    states = await db.fetch(LEDGER_STATES)
    claimed_twice = (await db.fetch(SLOTS_CLAIMED_TWICE))[0][0]
    return {"ledger": {state: int(n) for state, n in states}, "slots_claimed_twice": int(claimed_twice)}


async def read_ledger(database: Path | str) -> dict[str, Any]:
    """The countdown ledger's states and any slot claimed twice, on either store (a file or a URL)."""
    store = await Store.open(database)
    try:
        async with store.read() as conn:
            states = (
                await conn.execute(select(countdown_posts.c.state, func.count()).group_by(countdown_posts.c.state))
            ).all()
            twice = (
                select(countdown_posts.c.guild_id, countdown_posts.c.slot_key)
                .group_by(countdown_posts.c.guild_id, countdown_posts.c.slot_key)
                .having(func.count() > 1)
                .subquery()
            )
            claimed_twice = (await conn.execute(select(func.count()).select_from(twice))).scalar_one()
    finally:
        await store.close()
    return {"ledger": {state: count for state, count in states}, "slots_claimed_twice": claimed_twice}
