"""The polls' store, on SQLite and on PostgreSQL: the schema refuses double votes on its own,
batches apply clicks in order at a fixed cost in statements, concurrent clicks never
double-vote, and a commit happens before a click is answered."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from bot.shards import Ownership
from bot.store import Store
from bot.store.schema import poll_options, poll_votes, polls
from cogs.polls import repo
from cogs.polls.ballot_box import BallotBox
from cogs.polls.refresher import TallyRefresher
from cogs.polls.repo import CloseReason
from cogs.polls.rules import VoteChange, build_poll_spec, decide_vote
from cogs.polls.votes import Click, ClickStatus
from tests.support.poll_rows import NOW, posted_poll
from tests.support.stores import fetch_rows


async def votes(store: Store, poll_id: int) -> list[tuple[int, int]]:
    async with store.read() as conn:
        rows = await conn.execute(
            select(poll_votes.c.user_id, poll_votes.c.option_index)
            .where(poll_votes.c.poll_id == poll_id)
            .order_by(poll_votes.c.user_id, poll_votes.c.option_index)
        )
        return [(row.user_id, row.option_index) for row in rows]


async def tally_versions(store: Store, poll_id: int) -> tuple[int, int]:
    async with store.read() as conn:
        row = (
            await conn.execute(select(polls.c.tally_version, polls.c.rendered_version).where(polls.c.id == poll_id))
        ).one()
        return row.tally_version, row.rendered_version


async def fetch(store: Store, poll_id: int) -> repo.Poll | None:
    async with store.read() as conn:
        return await repo.fetch_poll(conn, poll_id)


async def next_job(store: Store) -> datetime | None:
    async with store.read() as conn:
        return await repo.next_poll_job(conn)


async def raw_insert(store: Store, poll_id: int, user_id: int, option: int) -> None:
    async with store.transaction() as conn:
        await conn.execute(
            insert(poll_votes).values(poll_id=poll_id, user_id=user_id, option_index=option, voted_at=NOW)
        )


async def wait_for_lock_waiters(store: Store, count: int) -> None:
    """PostgreSQL: until ``count`` sessions of this database wait for a lock (the race is set up)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(1000):
        async with store.read() as conn:
            if await conn.scalar(query) == count:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} sessions never waited for a lock")


@asynccontextmanager
async def statements_of(store: Store) -> AsyncIterator[list[str]]:
    """The SQL statements ``store`` sends, BEGIN/COMMIT aside. SQLite: what SQLite runs (its
    trace, which sees statements sent past SQLAlchemy too; an executemany counts once per
    row). PostgreSQL: through SQLAlchemy (an executemany counts once), and straight on
    asyncpg (the vote path's kept connection)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            sent.append(" ".join(statement.split()))

    def record_on_driver(query: Any) -> None:
        sent.append(" ".join(query.query.split()))

    def record_on_sqlite(statement: str) -> None:  # what SQLite itself runs, SQLAlchemy's or not
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA"):
            sent.append(" ".join(statement.split()))

    traced: list[Any] = []

    def trace(dbapi_connection: Any, *_args: Any) -> None:
        dbapi_connection.set_trace_callback(record_on_sqlite)
        traced.append(dbapi_connection)

    inline_conn = getattr(store, "_inline_conn", None)  # SqliteStore's small transactions' kept connection
    if inline_conn is not None:  # opened by a first click
        trace(inline_conn.connection.driver_connection)
    driver = None
    driver_conn = getattr(store, "_driver_conn", None)  # PostgresqlStore's vote path connection
    if driver_conn is not None:  # opened by a first click
        driver = (await driver_conn.get_raw_connection()).driver_connection
        driver.add_query_logger(record_on_driver)
    hook = ("checkout", trace) if store.is_sqlite else ("before_cursor_execute", record)
    for engine in store.engines:
        event.listen(engine, *hook)
    try:
        yield sent
    finally:
        for engine in store.engines:
            event.remove(engine, *hook)
        for dbapi_connection in traced:
            dbapi_connection.set_trace_callback(None)
        if driver is not None:
            await asyncio.sleep(0.01)  # asyncpg calls its loggers soon after the query, not during it
            driver.remove_query_logger(record_on_driver)


def kinds(statements: list[str]) -> list[str]:
    """Each run of statements of one kind (SELECT, INSERT, ...) once, in order."""
    return [kind for kind, _ in itertools.groupby(statement.split()[0] for statement in statements)]


# -- the schema on its own ---------------------------------------------------------------


async def test_the_schema_refuses_the_same_vote_twice(store: Store) -> None:
    poll_id = await posted_poll(store, max_choices=3)
    await raw_insert(store, poll_id, 7, 0)
    with pytest.raises(IntegrityError):
        await raw_insert(store, poll_id, 7, 0)
    assert await votes(store, poll_id) == [(7, 0)]


async def test_the_schema_refuses_a_vote_beyond_max_choices_or_on_a_closed_poll_or_a_missing_option(
    store: Store,
) -> None:
    poll_id = await posted_poll(store, max_choices=1)
    await raw_insert(store, poll_id, 7, 0)
    with pytest.raises(IntegrityError, match="max_choices"):
        await raw_insert(store, poll_id, 7, 1)
    with pytest.raises(IntegrityError):
        await raw_insert(store, poll_id, 8, 5)
    assert await repo.close_poll(store, poll_id, NOW, CloseReason.COMMAND)
    with pytest.raises(IntegrityError, match="closed"):
        await raw_insert(store, poll_id, 9, 0)
    assert await votes(store, poll_id) == [(7, 0)]


async def test_options_are_unique_ignoring_case_in_the_schema_too(store: Store) -> None:
    poll_id = await posted_poll(store, options="Su-hyeok | On-jo")
    with pytest.raises(IntegrityError):
        async with store.transaction() as conn:
            await conn.execute(
                update(poll_options)
                .where(poll_options.c.poll_id == poll_id, poll_options.c.option_index == 1)
                .values(label="SU-HYEOK")
            )
    async with store.read() as conn:
        labels = await conn.scalars(
            select(poll_options.c.label).where(poll_options.c.poll_id == poll_id).order_by(poll_options.c.option_index)
        )
        assert list(labels) == ["Su-hyeok", "On-jo"]


@pytest.mark.postgresql_only  # SQLite has one writer at a time: they never overlap there
async def test_two_transactions_voting_at_once_on_postgresql_stay_within_max_choices(store: Store) -> None:
    """The trigger locks the poll's row: the second vote waits for the first commit, then counts it."""
    poll_id = await posted_poll(store, max_choices=1)
    async with store.transaction() as first:
        await first.execute(insert(poll_votes).values(poll_id=poll_id, user_id=7, option_index=0, voted_at=NOW))
        second = asyncio.create_task(raw_insert(store, poll_id, 7, 1))
        await wait_for_lock_waiters(store, 1)
    with pytest.raises(IntegrityError, match="max_choices"):
        await second
    assert await votes(store, poll_id) == [(7, 0)]


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


async def test_a_batch_costs_one_read_and_one_statement_per_kind_of_write_however_many_clicks(store: Store) -> None:
    """The vote path's cost: nothing per click, nothing per poll. On PostgreSQL the whole
    batch is one statement, the server-side function, in a transaction of its own."""
    first, second, third, warm = [await posted_poll(store, max_choices=2) for _ in range(4)]
    await repo.apply_clicks(store, [Click(warm, 7, 0)], NOW)  # opens the connection the vote path keeps
    async with statements_of(store) as lone:
        [result] = await repo.apply_clicks(store, [Click(first, 7, 0)], NOW)
    assert result.transition is not None
    assert result.transition.change is VoteChange.VOTED
    on_server = ["SELECT status, change, before, after FROM poll_apply_clicks($1, $2, $3, $4)"]
    if store.is_sqlite:  # rows of one executemany (and a trigger's firing) trace one after the other
        assert kinds(lone) == ["SELECT", "INSERT", "UPDATE"], lone
    else:
        assert lone == on_server

    burst = [Click(poll, user, option) for poll in (first, second, third) for user in range(20) for option in (1, 2)]
    burst += [Click(first, 7, 0)]  # retracts the lone vote: a delete
    async with statements_of(store) as sent:
        results = await repo.apply_clicks(store, burst, NOW)
    assert all(r.status is ClickStatus.APPLIED for r in results)
    if store.is_sqlite:
        assert kinds(sent) == ["SELECT", "DELETE", "INSERT", "UPDATE"], sent
    else:
        assert sent == on_server
    assert len(await votes(store, second)) == 40
    assert (7, 0) not in await votes(store, first)
    assert [(await tally_versions(store, poll))[0] for poll in (first, second, third)] == [2, 1, 1]


async def test_a_click_that_changes_nothing_leaves_the_tally_version_alone(store: Store) -> None:
    poll_id = await posted_poll(store)
    results = await repo.apply_clicks(store, [Click(poll_id, 7, 0), Click(poll_id, 7, 0)], NOW)
    assert [r.transition.change for r in results if r.transition] == [VoteChange.VOTED, VoteChange.RETRACTED]
    assert await votes(store, poll_id) == []
    assert await tally_versions(store, poll_id) == (0, 0)

    # One click at a time (PostgreSQL decides a lone click without the batch's bookkeeping).
    full = await posted_poll(store, max_choices=2)
    for option in (0, 1):
        await repo.apply_clicks(store, [Click(full, 7, option)], NOW)
    refused, retracted = [
        (await repo.apply_clicks(store, [Click(full, 7, option)], NOW))[0].transition for option in (2, 1)
    ]
    assert [refused and refused.change, retracted and retracted.change] == [
        VoteChange.REFUSED_LIMIT,
        VoteChange.RETRACTED,
    ]
    assert await repo.close_poll(store, full, NOW, CloseReason.COMMAND)
    [closed] = await repo.apply_clicks(store, [Click(full, 7, 0)], NOW)
    assert closed.status is ClickStatus.CLOSED
    assert await votes(store, full) == [(7, 0)]
    assert await tally_versions(store, full) == (3, 0)  # two votes and a retraction


@pytest.mark.postgresql_only  # SQLite has one writer at a time: they never overlap there
async def test_clicks_of_two_processes_on_one_poll_at_once_still_follow_the_rule_on_postgresql(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Batches of two processes on one poll take turns on the poll's row (the server-side
    function locks it first): each decides on what the other committed, none is refused."""
    poll_id = await posted_poll(store, max_choices=2)
    other_process = await Store.open(store.url)
    mine, theirs = BallotBox(store, lambda: NOW), BallotBox(other_process, lambda: NOW)
    try:
        async with store.transaction() as holder:  # holds the poll's row, as a slow batch would
            await holder.execute(select(polls.c.id).where(polls.c.id == poll_id).with_for_update())
            first = asyncio.create_task(mine.cast(Click(poll_id, 7, 0)))
            await wait_for_lock_waiters(store, 1)
            second = asyncio.gather(theirs.cast(Click(poll_id, 7, 1)), theirs.cast(Click(poll_id, 7, 2)))
            await wait_for_lock_waiters(store, 2)
        voted = await first
        more = await second
    finally:
        await mine.close()
        await theirs.close()
        await other_process.close()
    assert voted.transition is not None
    assert voted.transition.after == (0,)
    assert [r.transition.change for r in more if r.transition] == [VoteChange.VOTED, VoteChange.REFUSED_LIMIT]
    assert more[0].transition is not None
    assert more[0].transition.after == (0, 1), "the answer names what the member really holds"
    assert await votes(store, poll_id) == [(7, 0), (7, 1)]
    assert "retrying them one by one" not in caplog.text


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
    assert [r.status for r in await repo.apply_clicks(store, [Click(expiring, 7, 5)], NOW)] == [
        ClickStatus.UNKNOWN_OPTION
    ]


async def test_a_poll_that_was_never_posted_takes_no_votes_and_is_discarded_at_startup(store: Store) -> None:
    spec = build_poll_spec(question="Q", options="a | b")
    poll = await repo.create_poll(store, guild_id=1, channel_id=2, creator_id=3, spec=spec, now=NOW)
    [result] = await repo.apply_clicks(store, [Click(poll.id, 7, 0)], NOW)
    assert result.status is ClickStatus.UNKNOWN_POLL
    assert await repo.discard_all_unposted_polls(store) == 1
    assert await fetch(store, poll.id) is None


async def test_a_starting_process_discards_only_the_unposted_polls_of_its_own_shards(store: Store) -> None:
    """Another process may be between storing its poll and attaching the message right now."""
    spec = build_poll_spec(question="Q", options="a | b")
    mine, theirs = 0 << 22, 1 << 22  # guild ids on shards 0 and 1 of 2
    for guild_id in (mine, theirs):
        await repo.create_poll(store, guild_id=guild_id, channel_id=2, creator_id=3, spec=spec, now=NOW)
    assert await repo.discard_all_unposted_polls(store, Ownership.of(2, [0])) == 1
    left = await fetch_rows(store, "SELECT guild_id FROM polls")
    assert [int(row[0]) for row in left] == [theirs]


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


async def test_a_click_is_answered_only_after_its_commit(store: Store) -> None:
    poll_id = await posted_poll(store)
    box = BallotBox(store, lambda: NOW)
    await box.cast(Click(poll_id, 7, 1))
    # Another store on the same database, as a restarted process would open: the vote is there.
    restarted = await Store.open(store.url)
    try:
        assert await votes(restarted, poll_id) == [(7, 1)]
    finally:
        await restarted.close()
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
            raise OSError("disk I/O error")
        return await real(store_, clicks, now)

    monkeypatch.setattr("cogs.polls.ballot_box.apply_clicks", flaky)
    box = BallotBox(store, lambda: NOW)
    outcomes = await asyncio.gather(
        *(box.cast(Click(poll_id, user, 0)) for user in (11, 12, 13, 14)), return_exceptions=True
    )
    await box.close()
    assert [isinstance(o, Exception) for o in outcomes] == [False, False, True, False]
    assert await votes(store, poll_id) == [(11, 0), (12, 0), (14, 0)]


# -- reading ------------------------------------------------------------------------------


async def test_a_poll_reads_back_with_aware_times_and_real_flags(store: Store) -> None:
    spec = build_poll_spec(question="Who returns?", options="a | b", duration="2h", anonymous=True)
    created = await repo.create_poll(store, guild_id=1, channel_id=2, creator_id=3, spec=spec, now=NOW)
    await repo.attach_message(store, created.id, 555)
    poll = await fetch(store, created.id)
    assert poll is not None
    assert poll.created_at == NOW
    assert poll.created_at.tzinfo is not None
    assert poll.closes_at == NOW + timedelta(hours=2)
    assert (poll.anonymous, poll.hide_results, poll.spoiler, poll.announced) == (True, False, False, False)
    assert (poll.message_id, poll.options) == (555, ("a", "b"))
    assert created == repo.Poll(**{**{f: getattr(poll, f) for f in poll.__slots__}, "message_id": None})


async def test_the_autocomplete_finds_polls_by_any_case_of_a_fragment_or_by_id(store: Store) -> None:
    who = await posted_poll(store, question="Who returns in season two?")
    odds = await posted_poll(store, question="100% sure_thing?")
    await posted_poll(store, question="Who returns? (another server)", guild_id=9)
    closed = await posted_poll(store, question="WHO is the villain?")
    await repo.close_poll(store, closed, NOW, CloseReason.COMMAND)

    async def found(search: str, *, open_only: bool = False) -> list[int]:
        async with store.read() as conn:
            return [p.id for p in await repo.find_guild_polls(conn, 1, search, open_only=open_only)]

    assert await found("who") == [closed, who], "newest first, any case, this guild only"
    assert await found("SEASON") == [who]
    assert await found("who", open_only=True) == [who]
    assert await found("%") == [odds], "a % in the search is a percent sign, not a wildcard"
    assert await found("s_r") == [], 'nor is an underscore (it would match "sur")'
    assert await found("e_th") == [odds]
    assert await found(f"#{who}") == [who]
    assert await found(str(odds)) == [odds]
    assert len(await found("")) == 3


async def test_open_polls_are_listed_newest_first_with_their_options(store: Store) -> None:
    older = await posted_poll(store, options="a | b")
    newer = await posted_poll(store, options="x | y | z")
    done = await posted_poll(store)
    await repo.close_poll(store, done, NOW, CloseReason.COMMAND)
    async with store.read() as conn:
        listed = await repo.list_open_polls(conn, 1, limit=10)
        assert await repo.count_open_polls(conn, 1) == 2
        assert [p.id for p in await repo.list_open_polls(conn, 1, limit=1)] == [newer]
    assert [(p.id, p.options) for p in listed] == [(newer, ("x", "y", "z")), (older, ("a", "b"))]


async def test_ballots_name_voters_with_their_times_except_in_anonymous_polls(store: Store) -> None:
    named = await posted_poll(store, max_choices=2)
    secret = await posted_poll(store, anonymous=True)
    await repo.apply_clicks(store, [Click(named, 8, 1), Click(named, 7, 0)], NOW)
    await repo.apply_clicks(store, [Click(named, 7, 2), Click(secret, 7, 0)], NOW + timedelta(minutes=1))
    named_poll, secret_poll = await fetch(store, named), await fetch(store, secret)
    assert named_poll is not None
    assert secret_poll is not None
    async with store.read() as conn:
        ballots = await repo.fetch_ballots(conn, named_poll)
        with pytest.raises(PermissionError):
            await repo.fetch_ballots(conn, secret_poll)
        assert await repo.member_choices(conn, named, 7) == (0, 2)
    assert ballots == [
        repo.Ballot(7, 0, NOW),
        repo.Ballot(8, 1, NOW),
        repo.Ballot(7, 2, NOW + timedelta(minutes=1)),
    ]


async def test_a_rendered_version_never_moves_backwards_and_stale_polls_are_found(store: Store) -> None:
    poll_id = await posted_poll(store)
    await repo.apply_clicks(store, [Click(poll_id, 7, 0)], NOW)
    await repo.apply_clicks(store, [Click(poll_id, 8, 0)], NOW)
    async with store.read() as conn:
        assert await repo.stale_open_polls(conn) == [poll_id]
    await repo.mark_rendered(store, poll_id, 2)
    await repo.mark_rendered(store, poll_id, 1)  # a slower edit finishing late
    assert await tally_versions(store, poll_id) == (2, 2)
    async with store.read() as conn:
        assert await repo.stale_open_polls(conn) == []


async def test_the_creator_role_is_set_replaced_and_lifted(store: Store) -> None:
    async def role() -> int | None:
        async with store.read() as conn:
            return await repo.fetch_creator_role(conn, 1)

    assert await role() is None
    await repo.set_creator_role(store, 1, 50)
    await repo.set_creator_role(store, 1, 51)
    assert await role() == 51
    await repo.set_creator_role(store, 1, None)
    assert await role() is None
    async with store.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(polls)) == 0


# -- deadlines ----------------------------------------------------------------------------


async def test_deadlines_close_at_the_deadline_time_and_stay_due_until_announced(store: Store) -> None:
    soon = await posted_poll(store, duration="30m")
    later = await posted_poll(store, duration="2h")
    await posted_poll(store)  # no deadline
    assert await next_job(store) == NOW + timedelta(minutes=30)
    assert await repo.close_expired_polls(store, NOW + timedelta(hours=1)) == [soon]
    closed = await fetch(store, soon)
    assert closed is not None
    assert closed.closed_at == NOW + timedelta(minutes=30)
    assert closed.close_reason is CloseReason.DEADLINE
    assert await next_job(store) == NOW + timedelta(minutes=30), "still to be announced"
    await repo.mark_announced(store, soon)
    assert await next_job(store) == NOW + timedelta(hours=2)
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
