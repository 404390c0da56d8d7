"""The polls' store: the schema refuses double votes on its own, batches apply clicks in order,
concurrent clicks never double-vote, and a commit happens before a click is answered."""

from __future__ import annotations

import asyncio
import itertools
import random
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import Store, to_db_time
from cogs.polls import repo
from cogs.polls.ballot_box import BallotBox
from cogs.polls.refresher import TallyRefresher
from cogs.polls.repo import Click, ClickStatus, CloseReason
from cogs.polls.rules import VoteChange, build_poll_spec, decide_vote

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "polls.db")
    yield opened
    await opened.close()


async def posted_poll(
    store: Store, *, options: str = "a | b | c", max_choices: int = 1, duration: str | None = None
) -> int:
    spec = build_poll_spec(question="Who returns?", options=options, max_choices=max_choices, duration=duration)
    poll = await repo.create_poll(store, guild_id=1, channel_id=2, creator_id=3, spec=spec, now=NOW)
    await repo.attach_message(store, poll.id, 1000 + poll.id)
    return poll.id


async def votes(store: Store, poll_id: int) -> list[tuple[int, int]]:
    rows = await store.conn.execute_fetchall(
        "SELECT user_id, option_index FROM poll_votes WHERE poll_id = ? ORDER BY user_id, option_index", (poll_id,)
    )
    return [(row[0], row[1]) for row in rows]


async def raw_insert(store: Store, poll_id: int, user_id: int, option: int) -> None:
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO poll_votes (poll_id, user_id, option_index, voted_at) VALUES (?, ?, ?, ?)",
            (poll_id, user_id, option, to_db_time(NOW)),
        )


# -- the schema on its own ---------------------------------------------------------------


async def test_the_schema_refuses_the_same_vote_twice(store: Store) -> None:
    poll_id = await posted_poll(store, max_choices=3)
    await raw_insert(store, poll_id, 7, 0)
    with pytest.raises(sqlite3.IntegrityError):
        await raw_insert(store, poll_id, 7, 0)
    assert await votes(store, poll_id) == [(7, 0)]


async def test_the_schema_refuses_a_vote_beyond_max_choices_or_on_a_closed_poll_or_a_missing_option(
    store: Store,
) -> None:
    poll_id = await posted_poll(store, max_choices=1)
    await raw_insert(store, poll_id, 7, 0)
    with pytest.raises(sqlite3.IntegrityError, match="max_choices"):
        await raw_insert(store, poll_id, 7, 1)
    with pytest.raises(sqlite3.IntegrityError):
        await raw_insert(store, poll_id, 8, 5)
    assert await repo.close_poll(store, poll_id, NOW, CloseReason.COMMAND)
    with pytest.raises(sqlite3.IntegrityError, match="closed"):
        await raw_insert(store, poll_id, 9, 0)
    assert await votes(store, poll_id) == [(7, 0)]


async def test_options_are_unique_ignoring_case_in_the_schema_too(store: Store) -> None:
    poll_id = await posted_poll(store)
    with pytest.raises(sqlite3.IntegrityError):
        async with store.transaction() as conn:
            await conn.execute("UPDATE poll_options SET label = 'A' WHERE poll_id = ? AND option_index = 1", (poll_id,))


# -- applying clicks ---------------------------------------------------------------------


async def test_a_batch_applies_clicks_in_order_and_writes_only_the_net_change(store: Store) -> None:
    poll_id = await posted_poll(store, max_choices=2)
    clicks = [
        Click(poll_id, 7, 0),
        Click(poll_id, 7, 1),
        Click(poll_id, 7, 2),
        Click(poll_id, 7, 0),
        Click(poll_id, 8, 2),
    ]
    results = await repo.apply_clicks(store, clicks, NOW)
    assert [r.transition.change for r in results if r.transition] == [
        VoteChange.VOTED,
        VoteChange.VOTED,
        VoteChange.REFUSED_LIMIT,
        VoteChange.RETRACTED,
        VoteChange.VOTED,
    ]
    assert await votes(store, poll_id) == [(7, 1), (8, 2)]
    tally, version = await repo.read_tally(store, poll_id, 3)
    assert (tally.counts, tally.voters, version) == ((0, 1, 1), 2, 1)


async def test_clicks_on_closed_unknown_or_expired_polls_change_nothing(store: Store) -> None:
    closed = await posted_poll(store)
    await repo.close_poll(store, closed, NOW, CloseReason.COMMAND)
    expiring = await posted_poll(store, duration="30m")
    results = await repo.apply_clicks(
        store,
        [Click(closed, 7, 0), Click(999, 7, 0), Click(expiring, 7, 9), Click(expiring, 7, 0)],
        NOW + timedelta(minutes=30),
    )
    assert [r.status for r in results] == [
        ClickStatus.CLOSED,
        ClickStatus.UNKNOWN_POLL,
        ClickStatus.CLOSED,
        ClickStatus.CLOSED,
    ]
    assert await votes(store, closed) == []
    assert await votes(store, expiring) == []


async def test_a_poll_that_was_never_posted_takes_no_votes_and_is_discarded_at_startup(store: Store) -> None:
    spec = build_poll_spec(question="Q", options="a | b")
    poll = await repo.create_poll(store, guild_id=1, channel_id=2, creator_id=3, spec=spec, now=NOW)
    [result] = await repo.apply_clicks(store, [Click(poll.id, 7, 0)], NOW)
    assert result.status is ClickStatus.UNKNOWN_POLL
    assert await repo.discard_all_unposted_polls(store) == 1
    assert await repo.fetch_poll(store.conn, poll.id) is None


async def test_hundreds_of_concurrent_clicks_match_the_rule_applied_in_order(store: Store) -> None:
    poll_id = await posted_poll(store, options="a | b | c | d", max_choices=2)
    box = BallotBox(store, lambda: NOW, max_batch=50)
    rng = random.Random(6)
    clicks = [Click(poll_id, rng.randrange(40), rng.randrange(4)) for _ in range(600)]
    results = await asyncio.gather(*(box.cast(click) for click in clicks))
    await box.close()
    expected: dict[int, tuple[int, ...]] = {}
    for click, result in zip(clicks, results, strict=True):
        transition = decide_vote(expected.get(click.user_id, ()), click.option_index, 2)
        assert result.transition == transition, "each answer names the choices the member really holds"
        expected[click.user_id] = transition.after
    assert await votes(store, poll_id) == sorted((user, o) for user, held in expected.items() for o in held)


async def test_a_click_is_answered_only_after_its_commit(store: Store, tmp_path: Path) -> None:
    poll_id = await posted_poll(store)
    box = BallotBox(store, lambda: NOW)
    await box.cast(Click(poll_id, 7, 1))
    # Another connection, as a restarted process would open: the vote is already on disk.
    with sqlite3.connect(tmp_path / "polls.db") as other:
        assert other.execute("SELECT user_id, option_index FROM poll_votes").fetchall() == [(7, 1)]
    await box.close()


async def test_a_failing_batch_is_retried_click_by_click_so_one_bad_click_costs_no_one_else(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll_id = await posted_poll(store)
    calls: list[int] = []
    real = repo.apply_clicks

    async def flaky(store_: Store, clicks: list[Click], now: datetime) -> list[repo.ClickResult]:
        calls.append(len(clicks))
        if len(clicks) > 1 or clicks[0].user_id == 13:
            raise sqlite3.OperationalError("disk I/O error")
        return await real(store_, clicks, now)

    monkeypatch.setattr("cogs.polls.ballot_box.apply_clicks", flaky)
    box = BallotBox(store, lambda: NOW)
    outcomes = await asyncio.gather(
        *(box.cast(Click(poll_id, user, 0)) for user in (11, 12, 13, 14)), return_exceptions=True
    )
    await box.close()
    assert [isinstance(o, Exception) for o in outcomes] == [False, False, True, False]
    assert await votes(store, poll_id) == [(11, 0), (12, 0), (14, 0)]


# -- deadlines ----------------------------------------------------------------------------


async def test_deadlines_close_at_the_deadline_time_and_stay_due_until_announced(store: Store) -> None:
    soon = await posted_poll(store, duration="30m")
    later = await posted_poll(store, duration="2h")
    await posted_poll(store)  # no deadline
    assert await repo.next_poll_job(store.conn) == NOW + timedelta(minutes=30)
    assert await repo.close_expired_polls(store, NOW + timedelta(hours=1)) == [soon]
    closed = await repo.fetch_poll(store.conn, soon)
    assert closed is not None
    assert closed.closed_at == NOW + timedelta(minutes=30)
    assert closed.close_reason is CloseReason.DEADLINE
    assert await repo.next_poll_job(store.conn) == NOW + timedelta(minutes=30), "still to be announced"
    await repo.mark_announced(store, soon)
    assert await repo.next_poll_job(store.conn) == NOW + timedelta(hours=2)
    assert await repo.close_poll(store, later, NOW, CloseReason.COMMAND)
    assert not await repo.close_poll(store, later, NOW, CloseReason.COMMAND), "a second close changes nothing"


# -- the refresher ------------------------------------------------------------------------


async def test_the_refresher_edits_at_once_then_at_most_once_per_interval() -> None:
    edits: list[float] = []
    loop = asyncio.get_running_loop()

    async def refresh(poll_id: int) -> None:
        edits.append(loop.time())

    refresher = TallyRefresher(refresh, interval=0.2)
    start = loop.time()
    for _ in range(50):
        refresher.mark_dirty(1)
        await asyncio.sleep(0.01)  # 0.5 s of clicks
    clicking = loop.time() - start
    await asyncio.sleep(0.3)
    assert 2 <= len(edits) <= clicking / 0.2 + 2, "50 changes, a handful of edits"
    assert edits[0] - start < 0.1, "the first change after a quiet spell shows at once"
    gaps = [b - a for a, b in itertools.pairwise(edits)]
    assert all(gap >= 0.19 for gap in gaps)
    assert not refresher.pending(1)
    await refresher.close()


async def test_forgetting_a_poll_waits_for_an_edit_in_flight_and_drops_the_pending_one() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[int] = []

    async def refresh(poll_id: int) -> None:
        started.set()
        await release.wait()
        finished.append(poll_id)

    refresher = TallyRefresher(refresh, interval=10)
    refresher.mark_dirty(5)
    await started.wait()
    refresher.mark_dirty(5)  # would wait 10 s for the next edit
    forgetting = asyncio.create_task(refresher.forget(5))
    await asyncio.sleep(0.01)
    assert not forgetting.done(), "an edit in flight is not cut off mid-way"
    release.set()
    await forgetting
    assert finished == [5]
    assert not refresher.pending(5)
