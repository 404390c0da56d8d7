"""The store misbehaving: locked by another writer, disk full. Clear answers, nothing
corrupt or half-written, and the bot works again once the cause goes away.

A database from a newer schema version is refused at start-up with one clear line,
exit status 2, and left as it was: tests/process/test_entry_point.py
(test_a_newer_database_is_refused_and_kept), so it is not repeated here.

The bot's SQLite connections wait up to busy_timeout (2 s) for a lock. Some tests lower
it so "longer than the timeout" takes a fraction of a second. These are SQLite's own
failures; PostgreSQL's (a restarted server) are in tests/store/test_faults_postgres.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from cogs.countdown import repo as countdown_repo
from localdiscord import InteractionRecord, wait_until
from localdiscord.interactions import DEFERRED_CHANNEL_MESSAGE
from tests.support.countdown import messages as countdown_posts
from tests.support.countdown import set_daily, tick
from tests.support.harness import Harness
from tests.support.polls import create, current, poll_messages, stored_votes, vote_ids
from tests.support.stores import fetch_rows, read_with

pytestmark = pytest.mark.sqlite_only

GENERIC_BUG_ANSWER = "Something went wrong on our side"
BIG_OPTIONS = " | ".join(f"Option {n} " + "z" * 70 for n in range(20))


@contextlib.asynccontextmanager
async def writer_holding_the_lock(h: Harness, seconds: float) -> AsyncIterator[asyncio.Future[None]]:
    """Another process's writer: BEGIN EXCLUSIVE on its own connection for ``seconds``.

    Waits first until the bot's start-up work is done, so the lock meets the command under
    test. Yields once the lock is held; the yielded future resolves when it was released.
    """
    await h.settle(0.3)
    path = h.bot.store.path
    taken = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            taken.set()
            threading.Event().wait(seconds)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    released = asyncio.ensure_future(asyncio.to_thread(hold))
    assert await asyncio.to_thread(taken.wait, 10), "the other writer never got the lock"
    try:
        yield released
    finally:
        await released


async def set_busy_timeout(h: Harness, milliseconds: int) -> None:
    await h.bot.store.set_busy_timeout(milliseconds)


async def integrity(h: Harness) -> str:
    rows = await fetch_rows(h.bot.store, "PRAGMA integrity_check")
    return str(rows[0][0])


async def spoiler_rows(h: Harness) -> list[int]:
    rows = await fetch_rows(h.bot.store, "SELECT channel_id FROM spoiler_channels ORDER BY channel_id")
    return [int(row[0]) for row in rows]


def limit_pages(h: Harness, pages: int) -> None:
    """SQLite's max_page_count is per connection: every connection the bot takes gets it."""

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {int(pages)}")
        cursor.fetchall()
        cursor.close()

    engine = h.bot.store.engine.sync_engine
    for listener in getattr(h, "_page_limits", []):
        event.remove(engine, "checkout", listener)
    event.listen(engine, "checkout", on_checkout)
    h._page_limits = [on_checkout]  # type: ignore[attr-defined]


async def page_count(h: Harness) -> int:
    return int((await fetch_rows(h.bot.store, "PRAGMA page_count"))[0][0])


def answer_of(record: InteractionRecord) -> tuple[str, bool]:
    """(content, ephemeral) of the bot's answer, whether it deferred first or not."""
    if record.callback_type == 5:
        assert record.followups, "deferred but never answered"
        followup = record.followups[0]
        return followup.get("content") or "", bool(int(followup.get("flags") or 0) & 64)
    return record.content or "", record.ephemeral


async def add_spoilers(h: Harness, channel: Any) -> InteractionRecord:
    return await h.slash(h.moderator, h.general, "settings spoilers add", channel=channel)


# -- locked ----------------------------------------------------------------------------------


async def test_a_writer_holding_the_lock_for_a_moment_is_waited_for(harness: Harness) -> None:
    h = harness
    async with writer_holding_the_lock(h, 1.5):
        record = await add_spoilers(h, h.in_category)
    assert record.answered
    assert record.latency is not None
    assert record.latency > 1.2, "the bot waited for the lock"
    assert record.content == f"Spoilers are now shown openly in <#{h.in_category.id}>."
    assert await spoiler_rows(h) == [h.in_category.id]


@pytest.mark.slow
async def test_a_lock_longer_than_discord_waits_for_an_answer_still_gets_one(harness: Harness) -> None:
    h = harness
    h.expect_errors()  # the late answer is refused by Discord; what matters is that the user got one
    async with writer_holding_the_lock(h, 3.6):
        record = await h.fake.slash(
            h.guild, h.general, h.moderator, "settings spoilers add", {"channel": h.in_category}, wait=False
        )
    await record.wait_acknowledged(1.5)
    assert record.answered, "the moderator was told nothing"


async def test_a_lock_past_the_busy_timeout_is_answered_writes_nothing_and_passes(harness: Harness) -> None:
    h = harness
    h.expect_errors()  # the failed write is logged
    await set_busy_timeout(h, 300)
    async with writer_holding_the_lock(h, 1.5):
        refused = await add_spoilers(h, h.in_category)
        about = await h.slash(h.member, h.general, "about")  # what needs no write keeps working
        countdown = await h.slash(h.member, h.general, "countdown")  # reads too (WAL)
    content, ephemeral = answer_of(refused)
    assert ephemeral, content
    assert "Spoilers are now shown openly" not in content
    assert about.answered
    assert countdown.answered
    assert await spoiler_rows(h) == []
    assert await integrity(h) == "ok"

    again = await add_spoilers(h, h.in_category)  # the other writer is gone: works again
    assert again.content == f"Spoilers are now shown openly in <#{h.in_category.id}>."
    assert await spoiler_rows(h) == [h.in_category.id]


async def test_votes_during_a_lock_are_either_counted_or_refused_never_both(harness: Harness) -> None:
    h = harness
    h.expect_errors()
    _, message = await create(h)
    await set_busy_timeout(h, 300)
    voters = [h.guild.add_member(name=f"locked-out-{n}") for n in range(6)]
    stored_message = current(h, message)
    async with writer_holding_the_lock(h, 1.5):
        records = [
            await h.fake.click(h.guild, h.general, voter, stored_message, vote_ids(message)[n % 3], wait=False)
            for n, voter in enumerate(voters)
        ]
        assert all([await r.wait_acknowledged(3) for r in records])
    counted = {
        (voter.id, n % 3)
        for n, (voter, record) in enumerate(zip(voters, records, strict=True))
        if "is counted" in (record.content or "")
    }
    for record in records:
        assert record.ephemeral
    assert await stored_votes(h, 1) == counted, "every vote answered as counted is stored, and no other"

    after = await h.click(voters[0], h.general, current(h, message), vote_ids(message)[0])
    assert "is counted" in (after.content or "") or "took back" in (after.content or "")
    assert await integrity(h) == "ok"


async def test_a_scheduled_post_blocked_by_a_lock_is_posted_once_when_it_is_released(harness: Harness) -> None:
    h = harness
    h.expect_errors()  # the scheduler logs the failed run and backs off
    await set_daily(h)
    await set_busy_timeout(h, 300)
    async with writer_holding_the_lock(h, 1.5):
        await tick(h, dt.timedelta(hours=1))  # 13:00: the claim cannot be written
        assert countdown_posts(h, h.general) == []
    await tick(h, dt.timedelta(seconds=31))  # the scheduler's back-off is over
    assert await wait_until(lambda: len(countdown_posts(h, h.general)) == 1)
    await tick(h, dt.timedelta(minutes=5))
    assert len(countdown_posts(h, h.general)) == 1
    ledger = await read_with(h.bot.store, countdown_repo.fetch_ledger, h.guild.id)
    assert ledger == [("day:2026-11-25", "sent", int(countdown_posts(h, h.general)[0]["id"]))]


async def test_a_write_waits_for_the_lock_even_while_another_read_is_open(harness: Harness) -> None:
    h = harness
    h.expect_errors()
    async with writer_holding_the_lock(h, 1.5), h.bot.store.read() as conn:
        result = await conn.stream(text("SELECT kind FROM pack_entries"))
        await result.fetchmany(1)  # another coroutine in the middle of reading
        try:
            record = await add_spoilers(h, h.in_category)
        finally:
            await result.close()
    assert record.content == f"Spoilers are now shown openly in <#{h.in_category.id}>."


# -- disk full -------------------------------------------------------------------------------


async def fill_with_polls(h: Harness, limit: int = 60) -> tuple[int, InteractionRecord]:
    """Create big polls until one fails; returns how many succeeded and the failed one."""
    for made in range(limit):
        record = await h.slash(h.member, h.general, "poll create", question=f"Filler {made}?", options=BIG_OPTIONS)
        assert await record.wait_followups(), record.callback
        if "is up" not in (record.followups[0].get("content") or ""):
            return made, record
    raise AssertionError(f"{limit} big polls fitted: the store never filled up")


async def assert_no_half_written_polls(h: Harness, *, full: bool = False) -> None:
    """``full``: the disk is still full, so a poll whose message could not be attached may
    remain (it takes no votes and no message shows it) until the next /poll create."""
    store = h.bot.store
    assert await integrity(h) == "ok"
    unposted = [int(row[0]) for row in await fetch_rows(store, "SELECT id FROM polls WHERE message_id IS NULL")]
    if full:
        cog: Any = h.bot.get_cog("Polls")
        assert set(unposted) <= cog._to_discard, "a poll without its message was left behind, and forgotten"
    else:
        assert unposted == [], "a poll without its message was left behind"
    counts = await fetch_rows(
        store,
        "SELECT p.id, count(o.option_index) FROM polls p LEFT JOIN poll_options o ON o.poll_id = p.id GROUP BY p.id",
    )
    assert all(row[1] in (3, 20) for row in counts), [tuple(row) for row in counts]
    polls = await fetch_rows(store, "SELECT message_id FROM polls WHERE message_id IS NOT NULL")
    assert sorted(int(row[0]) for row in polls) == sorted(int(m["id"]) for m in poll_messages(h, h.general)), (
        "every poll message posted belongs to a stored poll"
    )


async def check_full_store(h: Harness, make_room: Any) -> None:
    """Fill the store with polls, check the failure, make room, check recovery."""
    _, first = await create(h)
    await h.click(h.member2, h.general, current(h, first), vote_ids(first)[1])
    made, failed = await fill_with_polls(h)
    print(f"the store was full after {made} big polls: {answer_of(failed)}")
    content, ephemeral = answer_of(failed)
    assert ephemeral, content
    assert "is up" not in content
    await assert_no_half_written_polls(h, full=True)
    assert await stored_votes(h, 1) == {(h.member2.id, 1)}, "what was stored before is intact"

    await make_room()
    record, message = await create(h, question="After the clean-up?")
    assert "is up" in record.followups[0]["content"]
    counted = await h.click(h.member, h.general, current(h, message), vote_ids(message)[0])
    assert "is counted" in (counted.content or "")
    await assert_no_half_written_polls(h)


async def test_a_full_database_file_refuses_the_write_cleanly_and_recovers(harness: Harness) -> None:
    """A size-limited file: max_page_count on the bot's connection, set to what the file has now."""
    h = harness
    h.expect_errors()  # the failed writes are logged
    limit_pages(h, await page_count(h) + 2)

    async def make_room() -> None:
        limit_pages(h, 1073741823)

    await check_full_store(h, make_room)


async def run_command(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, check=False)


def can_mount_tmpfs() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.mark.slow
@pytest.mark.skipif(not can_mount_tmpfs(), reason="mounting a tmpfs needs root")
async def test_a_full_disk_refuses_the_write_cleanly_and_recovers_when_space_is_freed(
    harness: Harness, tmp_path: Path
) -> None:
    """A real ENOSPC: the database on a tiny tmpfs, grown again once it is full."""
    h = harness
    tiny = tmp_path / "tiny-disk"
    tiny.mkdir()
    mounted = await run_command("mount", "-t", "tmpfs", "-o", "size=640k", "tmpfs", str(tiny))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        await h.restart(database_url=str(tiny / "bot.db"))
        h.expect_errors()

        async def make_room() -> None:
            remounted = await run_command("mount", "-o", "remount,size=16m", str(tiny))
            assert remounted.returncode == 0, remounted.stderr

        await check_full_store(h, make_room)
        await h.stop()
        with sqlite3.connect(tiny / "bot.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        with contextlib.suppress(Exception):
            await h.stop()
        await run_command("umount", "-l", str(tiny))


@pytest.mark.parametrize("cause", ["locked", "full"])
async def test_a_store_failure_gets_a_specific_answer_not_the_bug_message(harness: Harness, cause: str) -> None:
    h = harness
    h.expect_errors()
    await set_busy_timeout(h, 300)
    if cause == "locked":
        async with writer_holding_the_lock(h, 1.0):
            record = await add_spoilers(h, h.in_category)
    else:
        limit_pages(h, await page_count(h))
        _, record = await fill_with_polls(h)
    content, ephemeral = answer_of(record)
    assert ephemeral
    assert GENERIC_BUG_ANSWER not in content, content


async def test_a_vote_that_waits_past_three_seconds_is_acknowledged_first_then_answered_and_kept(
    harness: Harness,
) -> None:
    """Another process holds the write lock for 3.6 s: the click is acknowledged privately at
    ACK_SLOW_VOTE_AFTER (Discord would drop it at 3 s), then answered when the vote commits."""
    h = harness
    _, message = await create(h)
    await set_busy_timeout(h, 6000)
    async with writer_holding_the_lock(h, 3.6):
        record = await h.click(h.member2, h.general, current(h, message), vote_ids(message)[1])
        assert record.callback_type == DEFERRED_CHANNEL_MESSAGE
        assert record.ephemeral
    assert await record.wait_followups(1, timeout=8)
    assert "is counted" in record.followups[0]["content"]
    assert record.rejected_callbacks == []
    assert await stored_votes(h, 1) == {(h.member2.id, 1)}


async def test_a_vote_answered_too_late_anyway_is_kept_and_logged_as_late_not_as_a_bug(
    harness: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should even the early acknowledgement come too late (here: switched off), the vote
    stays committed and the log says "too late", not "bug"."""
    h = harness
    cog = h.bot.get_cog("Polls")
    monkeypatch.setattr(sys.modules[type(cog).__module__], "ACK_SLOW_VOTE_AFTER", 60.0)
    _, message = await create(h)
    await set_busy_timeout(h, 6000)
    async with writer_holding_the_lock(h, 3.6):
        record = await h.click(h.member2, h.general, current(h, message), vote_ids(message)[1])
        assert await wait_until(lambda: bool(record.rejected_callbacks), timeout=8)
    assert record.rejected_callbacks == [(404, 10062)]
    assert await stored_votes(h, 1) == {(h.member2.id, 1)}
    assert "answered a component interaction too late" in caplog.text
