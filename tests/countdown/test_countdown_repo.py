"""The countdown's store: a slot is claimed once, failures pause, unfinished sends come back,
and requests are paced under Discord's global limit."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from bot.shards import Ownership
from bot.store import Store
from cogs.countdown import repo
from cogs.countdown.posting import RequestPacer, slot_nonce
from cogs.countdown.record import ReleaseRecord, pack_replaces
from cogs.countdown.slots import Slot
from cogs.countdown.window import parse_window
from tests.support.countdown_records import NOW, RULE, SLOT, keep, record_version
from tests.support.shards import guild_on
from tests.support.stores import fetch_rows, read_with


def claim(guild_id: int = 1, key: str = SLOT.key) -> repo.Claim:
    return repo.Claim(guild_id, key, 10, "post", "scheduled", 1, slot_nonce(guild_id, key), NOW)


async def add_schedule(store: Store, guild_id: int = 1) -> None:
    await repo.save_schedule(
        store, guild_id=guild_id, channel_id=10, rule=RULE, mode="post", slot=SLOT, current_change_id=1, by=5, now=NOW
    )


async def test_a_slot_is_claimed_only_once(store: Store) -> None:
    await add_schedule(store)
    first = await repo.claim_slots(store, [claim()], [repo.Advance(1, None)], [], [], NOW)
    again = await repo.claim_slots(store, [claim()], [], [], [], NOW + dt.timedelta(seconds=1))
    assert [job.claim.slot_key for job in first] == [SLOT.key]
    assert again == []
    assert await read_with(store, repo.fetch_ledger, 1) == [(SLOT.key, "claimed", None)]


async def test_turning_posts_off_and_on_does_not_repost_the_same_day(store: Store) -> None:
    await add_schedule(store)
    await repo.claim_slots(store, [claim()], [], [], [], NOW)
    assert await repo.delete_schedule(store, 1)
    await add_schedule(store)
    assert await repo.claim_slots(store, [claim()], [], [], [], NOW) == []


async def test_three_failures_in_a_row_pause_and_a_success_resets_the_count(store: Store) -> None:
    await add_schedule(store)
    for day in range(3):
        [job] = await repo.claim_slots(store, [claim(key=f"day:2026-11-2{5 + day}")], [], [], [], NOW)
        paused = await repo.mark_failed(store, job, state="failed", error="missing_access", detail="50001", now=NOW)
        assert paused == (day == 2)
    schedule = await read_with(store, repo.fetch_schedule, 1)
    assert schedule is not None
    assert schedule.paused
    assert schedule.consecutive_failures == 3
    due, news = await read_with(store, repo.earliest_due, 1)
    assert (due, news) == (None, False)  # a paused schedule is never due

    await add_schedule(store)  # setting it again resumes it
    [job] = await repo.claim_slots(store, [claim(key="day:2026-11-28")], [], [], [], NOW)
    await repo.mark_sent(store, job, message_id=99, kept_message=False, now=NOW)
    schedule = await read_with(store, repo.fetch_schedule, 1)
    assert schedule is not None
    assert not schedule.paused
    assert schedule.consecutive_failures == 0
    assert schedule.last_post_message_id == 99
    assert schedule.last_error is None


async def test_sends_a_crash_left_unconfirmed_are_due_again_at_start(store: Store) -> None:
    await add_schedule(store)
    await repo.claim_slots(store, [claim()], [repo.Advance(1, None)], [], [], NOW)
    assert await read_with(store, repo.earliest_due, 1) == (None, False)  # in flight: not due again
    assert await repo.requeue_unfinished(store, NOW + dt.timedelta(seconds=30)) == 1
    [job] = await read_with(store, repo.due_retries, NOW + dt.timedelta(seconds=30), 10)
    assert job.claim.nonce == slot_nonce(1, SLOT.key)
    assert job.claimed_at == NOW


async def test_an_owner_record_survives_an_older_pack_and_every_change_is_history(store: Store) -> None:
    def version(origin: str, window: str, source_date: dt.date) -> ReleaseRecord:
        return ReleaseRecord("Season 2", parse_window(window), "estimated", "src", None, source_date, origin, NOW)  # type: ignore[arg-type]

    def keep(schedule: repo.Schedule, record: ReleaseRecord, at: dt.datetime) -> Slot | None:
        return schedule.next_slot(record.window.start)

    pack = version("pack", "early 2027", dt.date(2025, 9, 18))
    assert await repo.seed_from_pack(store, pack, NOW, keep, pack_replaces) is not None
    assert await repo.seed_from_pack(store, pack, NOW, keep, pack_replaces) is None
    await repo.record_change(store, version("owner", "2027-03-14", dt.date(2026, 11, 20)), NOW, keep)
    assert await repo.seed_from_pack(store, pack, NOW, keep, pack_replaces) is None
    history = await read_with(store, repo.fetch_history)
    assert [(r.origin, r.window.label) for r in history] == [("owner", "2027-03-14"), ("pack", "early 2027")]


async def test_times_come_back_as_aware_utc_datetimes_and_days_as_dates(store: Store) -> None:
    seoul = ZoneInfo("Asia/Seoul")
    due = (NOW + dt.timedelta(microseconds=123456)).astimezone(seoul)  # stored from another offset
    await repo.seed_from_pack(
        store, record_version("pack", "early 2027", dt.date(2025, 9, 18)), NOW, keep, pack_replaces
    )
    await repo.save_schedule(
        store,
        guild_id=1,
        channel_id=10,
        rule=RULE,
        mode="post",
        slot=Slot(due, dt.date(2026, 11, 25), None),
        current_change_id=1,
        by=5,
        now=due,
    )
    schedule = await read_with(store, repo.fetch_schedule, 1)
    assert schedule is not None
    assert schedule.next_due_at == due
    assert schedule.next_due_at is not None
    assert schedule.next_due_at.tzinfo == dt.UTC
    assert schedule.next_slot_date == dt.date(2026, 11, 25)
    assert type(schedule.next_slot_date) is dt.date
    assert schedule.paused is False
    assert schedule.announced_change_id == 1

    record = await read_with(store, repo.fetch_current_record)
    assert record is not None
    assert (record.recorded_at, record.recorded_at.tzinfo) == (NOW, dt.UTC)
    assert (type(record.window.start), type(record.source_date)) == (dt.date, dt.date)

    [job] = await repo.claim_slots(store, [claim()], [], [], [], due)
    await repo.requeue_unfinished(store, due)
    [retry] = await read_with(store, repo.due_retries, NOW + dt.timedelta(seconds=1), 10)
    assert retry.claimed_at == due
    assert retry.claimed_at.tzinfo == dt.UTC
    assert retry.claim == job.claim
    assert await read_with(store, repo.earliest_due, 1) == (due, False)
    [row] = await fetch_rows(store, "SELECT due_at, claimed_at, retry_at FROM countdown_posts")
    assert row.claimed_at is not None  # the raw column holds a time on both databases

    await repo.mark_sent(store, retry, message_id=99, kept_message=True, now=due)
    schedule = await read_with(store, repo.fetch_schedule, 1)
    assert schedule is not None
    assert (schedule.last_post_at, schedule.message_id, schedule.last_post_message_id) == (due, 99, 99)


async def test_a_slot_that_failed_for_good_is_claimed_again_but_no_other_state_is(store: Store) -> None:
    await add_schedule(store)
    [job] = await repo.claim_slots(store, [claim()], [], [], [], NOW)
    await repo.mark_failed(store, job, state="failed", error="missing_access", detail="50001", now=NOW)
    assert await read_with(store, repo.fetch_ledger, 1) == [(SLOT.key, "failed", None)]

    later = NOW + dt.timedelta(hours=1)
    moved = replace(claim(), channel_id=11)  # a moderator fixed the channel
    [again] = await repo.claim_slots(store, [moved], [], [], [], later)
    assert (again.claim, again.claimed_at, again.attempts) == (moved, later, 0)
    [row] = await fetch_rows(
        store, "SELECT channel_id, state, attempts, retry_at, finished_at, claimed_at FROM countdown_posts"
    )
    assert (row.channel_id, row.state, row.attempts, row.retry_at, row.finished_at) == (11, "claimed", 0, None, None)

    assert await repo.claim_slots(store, [claim()], [], [], [], later) == []  # claimed: not twice
    await repo.mark_sent(store, again, message_id=99, kept_message=False, now=later)
    assert await repo.claim_slots(store, [claim()], [], [], [], later) == []  # sent: never again
    assert await read_with(store, repo.fetch_ledger, 1) == [(SLOT.key, "sent", 99)]

    other = claim(key="day:2026-11-26")
    [job] = await repo.claim_slots(store, [other], [], [], [], later)
    await repo.mark_failed(store, job, state="abandoned", error="unconfirmed", detail=None, now=later)
    assert await repo.claim_slots(store, [other], [], [], [], later) == []  # abandoned: maybe posted


async def test_due_slots_retries_and_restarts_touch_only_the_owned_guilds(store: Store) -> None:
    mine, theirs = guild_on(1, 2), guild_on(0, 2)
    for guild_id in (mine, theirs):
        await add_schedule(store, guild_id)
    shard_1 = Ownership.of(2, [1])
    # One row of room: the other shard's guild, due as early, must not take it.
    assert [s.guild_id for s in await read_with(store, repo.due_schedules, NOW, 1, shard_1)] == [mine]
    assert [s.guild_id for s in await read_with(store, repo.schedules_with_news, 2, 1, shard_1)] == [mine]
    assert await read_with(store, repo.earliest_due, 2, Ownership.of(4, [3])) == (None, False)
    advances = [repo.Advance(mine, None), repo.Advance(theirs, None)]
    await repo.claim_slots(store, [claim(mine), claim(theirs)], advances, [], [], NOW)
    soon = NOW + dt.timedelta(seconds=30)
    assert await repo.requeue_unfinished(store, soon, shard_1) == 1
    assert [job.claim.guild_id for job in await read_with(store, repo.due_retries, soon, 10)] == [mine]
    assert await read_with(store, repo.due_retries, soon, 10, Ownership.of(2, [0])) == []
    assert await read_with(store, repo.earliest_due, 1, shard_1) == (soon, False)
    assert await repo.requeue_unfinished(store, soon) == 1  # the other process's guild, at its start


async def test_posted_days_are_the_regular_days_claimed_sent_or_abandoned_since_the_lookback(store: Store) -> None:
    await add_schedule(store)
    keys = ["day:2026-11-22", "day:2026-11-23", "day:2026-11-24", "day:2026-11-25", "change:1"]
    jobs = {
        job.claim.slot_key: job for job in await repo.claim_slots(store, [claim(key=k) for k in keys], [], [], [], NOW)
    }
    await repo.mark_sent(store, jobs["day:2026-11-23"], message_id=5, kept_message=False, now=NOW)
    await repo.mark_failed(store, jobs["day:2026-11-24"], state="failed", error="x", detail=None, now=NOW)
    await repo.mark_failed(store, jobs["day:2026-11-25"], state="abandoned", error="x", detail=None, now=NOW)
    posted = await read_with(store, repo.posted_days, [1, 2], NOW - repo.POSTED_LOOKBACK)
    assert posted == {1: frozenset({dt.date(2026, 11, 23), dt.date(2026, 11, 25)})}


async def test_a_schedule_planned_against_an_older_record_is_not_saved(store: Store) -> None:
    await repo.seed_from_pack(
        store, record_version("pack", "early 2027", dt.date(2025, 9, 18)), NOW, keep, pack_replaces
    )
    await repo.record_change(store, record_version("owner", "2027-03-14", dt.date(2026, 11, 20)), NOW, keep)
    values = {"guild_id": 1, "channel_id": 10, "rule": RULE, "mode": "post", "slot": SLOT, "by": 5, "now": NOW}
    assert not await repo.save_schedule(store, current_change_id=1, **values)  # type: ignore[arg-type]
    assert await read_with(store, repo.fetch_schedule, 1) is None
    assert await repo.save_schedule(store, current_change_id=2, **values)  # type: ignore[arg-type]
    assert await read_with(store, repo.fetch_schedule, 1) is not None


async def test_an_advance_leaves_a_schedule_that_moved_since_it_was_read(store: Store) -> None:
    await add_schedule(store)  # read as due with SLOT ...
    tomorrow = Slot(NOW + dt.timedelta(days=1), dt.date(2026, 11, 26), None)
    later = Slot(NOW + dt.timedelta(hours=5), dt.date(2026, 11, 25), None)
    await repo.save_schedule(  # ... then saved again with a new time before the claim
        store, guild_id=1, channel_id=10, rule=RULE, mode="post", slot=later, current_change_id=1, by=5, now=NOW
    )
    await repo.claim_slots(store, [claim()], [repo.Advance(1, tomorrow, moves_from=SLOT)], [], [], NOW)
    schedule = await read_with(store, repo.fetch_schedule, 1)
    assert schedule is not None
    assert schedule.next_slot(None) == later
    await repo.claim_slots(store, [], [repo.Advance(1, tomorrow, moves_from=later)], [], [], NOW)
    schedule = await read_with(store, repo.fetch_schedule, 1)
    assert schedule is not None
    assert schedule.next_slot(None) == tomorrow


async def test_news_is_marked_announced_up_to_the_newest_change_only(store: Store) -> None:
    await add_schedule(store)
    await repo.claim_slots(store, [], [], [(1, 3)], [], NOW)
    await repo.claim_slots(store, [], [], [(1, 2)], [], NOW)  # an older change never lowers it
    schedule = await read_with(store, repo.fetch_schedule, 1)
    assert schedule is not None
    assert schedule.announced_change_id == 3


async def test_two_processes_starting_at_once_take_the_pack_record_once(store_url: str) -> None:
    first, second = await Store.open(store_url), await Store.open(store_url)
    try:
        older = record_version("pack", "2027", dt.date(2025, 1, 1))
        await repo.seed_from_pack(first, older, NOW, keep, pack_replaces)
        await repo.save_schedule(
            first, guild_id=1, channel_id=10, rule=RULE, mode="post", slot=SLOT, current_change_id=1, by=5, now=NOW
        )
        newer = record_version("pack", "early 2027", dt.date(2025, 9, 18))
        seeded = await asyncio.gather(
            *(repo.seed_from_pack(store, newer, NOW, keep, pack_replaces) for store in (first, second))
        )
        assert sum(result is not None for result in seeded) == 1
        history = await read_with(first, repo.fetch_history)
        assert [record.window.label for record in history] == ["early 2027", "2027"]
    finally:
        await first.close()
        await second.close()


def test_the_pacer_spaces_requests_evenly_without_a_burst() -> None:
    now = [100.0]
    pacer = RequestPacer(45, clock=lambda: now[0])
    waits = [pacer.reserve() for _ in range(90)]
    assert waits[0] == 0
    assert waits[45] == pytest.approx(1.0)
    starts = [100.0 + w for w in waits]
    assert max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts) <= 46  # under 50 in any second
    now[0] = 200.0
    assert pacer.reserve() == 0  # idle time is not saved up as a burst


async def test_the_same_change_recorded_twice_at_once_is_one_version(store: Store, store_url: str) -> None:
    """Two owners (or two processes' /release update) record one change at the same moment:
    the second finds it current under the record lock and writes nothing."""
    await repo.seed_from_pack(
        store, record_version("pack", "early 2027", dt.date(2025, 9, 18)), NOW, keep, pack_replaces
    )
    other = await Store.open(store_url)
    try:
        change = record_version("owner", "2027-03-14", dt.date(2026, 11, 20))
        results = await asyncio.gather(
            repo.record_change(store, change, NOW, keep), repo.record_change(other, change, NOW, keep)
        )
    finally:
        await other.close()
    assert sorted(result is None for result in results) == [False, True]
    history = await read_with(store, repo.fetch_history)
    assert [(r.origin, r.window.label) for r in history] == [("owner", "2027-03-14"), ("pack", "early 2027")]


async def test_an_update_keeps_what_the_current_version_awaits(store: Store) -> None:
    """/release update changes the window, not what is awaited: that is read under the record
    lock with the current version (only the pack changes it)."""
    seeded = replace(record_version("pack", "early 2027", dt.date(2025, 9, 18)), awaited="Season 2 (Part 1)")
    await repo.seed_from_pack(store, seeded, NOW, keep, pack_replaces)
    stored = await repo.record_change(store, record_version("owner", "2027-03-14", dt.date(2026, 11, 20)), NOW, keep)
    assert stored is not None
    assert stored.awaited == "Season 2 (Part 1)"
    current = await read_with(store, repo.fetch_current_record)
    assert current is not None
    assert (current.awaited, current.window.label) == ("Season 2 (Part 1)", "2027-03-14")
    # The same window again is no change, whatever the caller said was awaited.
    assert (
        await repo.record_change(store, record_version("owner", "2027-03-14", dt.date(2026, 11, 20)), NOW, keep) is None
    )
