"""Discord's global limit across processes: each takes the share of its shards, or the one it is given."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.client import HyosanBot
from bot.pacing import REST_PER_SECOND, RequestPacer, rest_share
from bot.settings import Settings


def test_a_process_that_runs_every_shard_takes_the_whole_budget() -> None:
    assert rest_share(None, None, None).per_second == REST_PER_SECOND
    assert rest_share(None, 16, None).per_second == REST_PER_SECOND


@pytest.mark.parametrize(
    ("shard_count", "shard_ids", "fraction"),
    [(2, [0], 0.5), (2, [1], 0.5), (4, [0, 1], 0.5), (4, [3], 0.25), (3, [0, 2], 2 / 3), (2, [0, 1], 1.0)],
)
def test_a_process_takes_the_share_of_its_shards(shard_count: int, shard_ids: list[int], fraction: float) -> None:
    share = rest_share(None, shard_count, shard_ids)
    assert share.fraction == pytest.approx(fraction)
    assert share.per_second == pytest.approx(REST_PER_SECOND * fraction)


def test_processes_that_split_the_shards_stay_under_the_limit_together() -> None:
    """Shards 0-2, 3-4 and 5-9 of 10 in three processes: 47/s in all, under Discord's 50."""
    splits = [range(3), range(3, 5), range(5, 10)]
    total = sum(rest_share(None, 10, ids).per_second for ids in splits)
    assert total == pytest.approx(REST_PER_SECOND)
    assert total < 50


def test_an_explicit_share_overrides_the_shards() -> None:
    share = rest_share(0.2, 2, [0])
    assert share.fraction == 0.2
    assert share.per_second == pytest.approx(9.4)
    assert share.describe() == "9.4 requests/s for paced sends (REST_RATE_SHARE=0.2 of 47/s)"


def test_the_share_is_explained_in_one_line() -> None:
    assert rest_share(None, 4, [0, 1]).describe() == (
        "23.5 requests/s for paced sends (2/4 of 47/s: the share of this process's shards)"
    )
    assert rest_share(None, None, None).describe() == (
        "47 requests/s for paced sends (all of 47/s: this process runs every shard)"
    )


@pytest.mark.parametrize(
    ("explicit", "count", "ids", "reason"),
    [(0.0, None, None, "within"), (1.5, None, None, "within"), (None, 2, [2], "not shards of 2")],
)
def test_an_impossible_share_is_refused(
    explicit: float | None, count: int | None, ids: list[int] | None, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        rest_share(explicit, count, ids)


def test_the_bot_paces_at_its_share_from_the_settings(tmp_path: Path) -> None:
    """The pacer every bulk send waits on (countdown posts, poll edits and results) runs at the share."""
    base = {"_env_file": None, "database_path": tmp_path / "bot.db"}
    half = HyosanBot(Settings(**base, shard_count=2, shard_ids=(1,)))  # type: ignore[arg-type]
    assert half.rest_pacer.per_second == pytest.approx(REST_PER_SECOND / 2)
    chosen = HyosanBot(Settings(**base, shard_count=2, shard_ids=(1,), rest_rate_share=0.1))  # type: ignore[arg-type]
    assert chosen.rest_pacer.per_second == pytest.approx(REST_PER_SECOND * 0.1)
    whole = HyosanBot(Settings(**base))  # type: ignore[arg-type]
    assert whole.rest_pacer.per_second == pytest.approx(REST_PER_SECOND)


def test_a_pacer_at_half_the_budget_spaces_starts_twice_as_far_apart() -> None:
    now = [10.0]
    pacer = RequestPacer(REST_PER_SECOND / 2, clock=lambda: now[0])
    starts = [10.0 + pacer.reserve() for _ in range(50)]
    assert max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts) <= 25  # half of 50 in any second
    with pytest.raises(ValueError, match="positive"):
        RequestPacer(0)


async def test_a_turn_that_comes_while_discord_holds_the_bot_back_is_taken_again_after() -> None:
    """A global 429 pauses the HTTP client; the sends held back then go out paced, not in a burst."""
    now = [0.0]
    clear = asyncio.Event()
    pacer = RequestPacer(20, clock=lambda: now[0], global_clear=lambda: clear)
    clear.clear()  # discord.py is waiting out a global 429
    held = asyncio.create_task(pacer.wait_turn())
    await asyncio.sleep(0.01)
    assert not held.done(), "no send while the client is held back"
    clear.set()
    await asyncio.wait_for(held, 5)
    assert pacer.reserve() == pytest.approx(2 / 20), "the turn of the pause was dropped and a fresh one booked"


async def test_the_logged_in_bot_holds_its_paced_sends_on_discord_pys_global_flag(harness: Any) -> None:
    """The flag is discord.py's own (private) one: were it renamed, the pacer would silently never wait."""
    flag = harness.bot._global_limit_clear()
    assert isinstance(flag, asyncio.Event)
    assert flag.is_set(), "no global 429 is being waited out"
