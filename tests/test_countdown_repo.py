"""The countdown's store: a slot is claimed once, failures pause, unfinished sends come back,
and requests are paced under Discord's global limit."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.store import Store
from cogs.countdown import repo
from cogs.countdown.posting import RequestPacer, slot_nonce
from cogs.countdown.record import ReleaseRecord, pack_replaces
from cogs.countdown.slots import PostingRule, Slot
from cogs.countdown.window import parse_window

NOW = dt.datetime(2026, 11, 25, 13, tzinfo=dt.UTC)
RULE = PostingRule(dt.time(13), "UTC", "daily")
SLOT = Slot(NOW, dt.date(2026, 11, 25), None)


def claim(guild_id: int = 1, key: str = SLOT.key) -> repo.Claim:
    return repo.Claim(guild_id, key, 10, "post", "scheduled", 1, slot_nonce(guild_id, key), NOW)


async def add_schedule(store: Store, guild_id: int = 1) -> None:
    await repo.save_schedule(
        store, guild_id=guild_id, channel_id=10, rule=RULE, mode="post", slot=SLOT, current_change_id=1, by=5, now=NOW
    )


async def ledger(store: Store, guild_id: int = 1) -> list[tuple[str, str, int | None]]:
    async with store.read() as conn:
        return await repo.fetch_ledger(conn, guild_id)


async def fetch_schedule(store: Store, guild_id: int = 1) -> repo.Schedule | None:
    async with store.read() as conn:
        return await repo.fetch_schedule(conn, guild_id)


async def test_a_slot_is_claimed_only_once(store: Store) -> None:
    await add_schedule(store)
    first = await repo.claim_slots(store, [claim()], [repo.Advance(1, None)], [], [], NOW)
    again = await repo.claim_slots(store, [claim()], [], [], [], NOW + dt.timedelta(seconds=1))
    assert [job.claim.slot_key for job in first] == [SLOT.key]
    assert again == []
    assert await ledger(store) == [(SLOT.key, "claimed", None)]


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
    schedule = await fetch_schedule(store)
    assert schedule is not None
    assert schedule.paused
    assert schedule.consecutive_failures == 3
    async with store.read() as conn:
        due, news = await repo.earliest_due(conn, 1)
    assert (due, news) == (None, False)  # a paused schedule is never due

    await add_schedule(store)  # setting it again resumes it
    [job] = await repo.claim_slots(store, [claim(key="day:2026-11-28")], [], [], [], NOW)
    await repo.mark_sent(store, job, message_id=99, kept_message=False, now=NOW)
    schedule = await fetch_schedule(store)
    assert schedule is not None
    assert not schedule.paused
    assert schedule.consecutive_failures == 0
    assert schedule.last_post_message_id == 99
    assert schedule.last_error is None


async def test_sends_a_crash_left_unconfirmed_are_due_again_at_start(store: Store) -> None:
    await add_schedule(store)
    await repo.claim_slots(store, [claim()], [repo.Advance(1, None)], [], [], NOW)
    async with store.read() as conn:
        assert await repo.earliest_due(conn, 1) == (None, False)  # in flight: not due again
    assert await repo.requeue_unfinished(store, NOW + dt.timedelta(seconds=30)) == 1
    async with store.read() as conn:
        [job] = await repo.due_retries(conn, NOW + dt.timedelta(seconds=30), 10)
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
    async with store.read() as conn:
        history = await repo.fetch_history(conn)
    assert [(r.origin, r.window.label) for r in history] == [("owner", "2027-03-14"), ("pack", "early 2027")]


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
