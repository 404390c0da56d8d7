"""The countdown's planner: plain values in, the plan of one scheduler pass out (no bot, no store)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from cogs.countdown.planning import NONCE_GRACE, Passed, Plan, plan_next_slot, plan_pass, slot_nonce
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.repo import Advance, Claim, PostJob, Schedule
from cogs.countdown.slots import PostingRule, Slot
from cogs.countdown.window import ReleaseWindow

NOW = dt.datetime(2026, 11, 25, 13, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 25)
RULE = PostingRule(dt.time(13), "UTC", "daily")
SLOT = Slot(NOW, TODAY, None)
TOMORROW = Slot(NOW + dt.timedelta(days=1), TODAY + dt.timedelta(days=1), None)
RECORD = ReleaseRecord(
    awaited="Season 2",
    window=ReleaseWindow("quarter", dt.date(2027, 1, 1), dt.date(2027, 3, 31), "early 2027"),
    confidence="estimated",
    source_title="press",
    source_url=None,
    source_date=dt.date(2025, 9, 18),
    origin="pack",
    recorded_at=NOW,
    id=3,
)


def schedule(guild_id: int, slot: Slot | None = SLOT, announced: int = RECORD.id) -> Schedule:
    return Schedule(
        guild_id=guild_id,
        channel_id=guild_id * 10,
        rule=RULE,
        mode="post",
        next_due_at=slot.due_at if slot else None,
        next_slot_date=slot.local_date if slot else None,
        message_id=None,
        announced_change_id=announced,
        last_post_at=None,
        last_post_message_id=None,
        last_error=None,
        last_error_detail=None,
        last_error_at=None,
        consecutive_failures=0,
        paused=False,
    )


def retry(guild_id: int, claimed_at: dt.datetime, key: str = SLOT.key) -> PostJob:
    claim = Claim(guild_id, key, guild_id * 10, "post", "scheduled", RECORD.id, slot_nonce(guild_id, key), NOW)
    return PostJob(claim, claimed_at, 1)


def plan(
    now: dt.datetime = NOW,
    record: ReleaseRecord | None = RECORD,
    *,
    due_retries: tuple[PostJob, ...] = (),
    with_news: tuple[Schedule, ...] = (),
    due: tuple[Schedule, ...] = (),
    posted: dict[int, frozenset[dt.date]] | None = None,
    in_flight: frozenset[tuple[int, str]] = frozenset(),
    room: int = 10,
) -> Plan:
    return plan_pass(
        now,
        record,
        due_retries=due_retries,
        with_news=with_news,
        due=due,
        posted=posted or {},
        in_flight=in_flight,
        room=room,
    )


def test_nothing_due_plans_nothing() -> None:
    nothing = plan()
    assert nothing == Plan()
    assert not nothing.claims_anything


def test_a_due_slot_is_claimed_and_its_schedule_moves_to_the_next_day() -> None:
    made = plan(due=(schedule(1),))
    assert made.claims == (Claim(1, SLOT.key, 10, "post", "scheduled", RECORD.id, slot_nonce(1, SLOT.key), NOW),)
    assert made.advances == (Advance(1, TOMORROW, moves_from=SLOT),)
    assert made.claims_anything


def test_a_slot_on_a_milestone_day_is_claimed_as_that_milestone() -> None:
    week_before = replace(
        RECORD, window=ReleaseWindow("day", TODAY + dt.timedelta(days=7), TODAY + dt.timedelta(days=7), "soon")
    )
    made = plan(record=week_before, due=(schedule(1, Slot(NOW, TODAY, 7)),))
    [claim] = made.claims
    assert claim.occasion == "milestone"


def test_without_a_record_a_due_slot_is_still_posted_and_there_is_no_news() -> None:
    made = plan(record=None, with_news=(schedule(2, announced=0),), due=(schedule(1),))
    assert [(claim.guild_id, claim.occasion, claim.change_id) for claim in made.claims] == [(1, "scheduled", 0)]
    assert made.announced == ()


def test_a_slot_more_than_an_hour_late_is_skipped_and_the_schedule_moves_on() -> None:
    made = plan(NOW + dt.timedelta(hours=2), due=(schedule(1),))
    assert made.claims == ()
    assert made.passed == (Passed(1, SLOT, "too_late"),)
    assert made.advances == (Advance(1, TOMORROW, moves_from=SLOT),)


def test_a_slot_less_than_an_hour_late_is_still_posted() -> None:
    made = plan(NOW + dt.timedelta(minutes=59), due=(schedule(1),))
    assert [claim.slot_key for claim in made.claims] == [SLOT.key]
    assert made.passed == ()


def test_after_a_long_outage_only_the_latest_slot_is_posted_the_missed_days_are_skipped() -> None:
    two_days_ago = Slot(NOW - dt.timedelta(days=2), TODAY - dt.timedelta(days=2), None)
    yesterday = Slot(NOW - dt.timedelta(days=1), TODAY - dt.timedelta(days=1), None)
    made = plan(NOW + dt.timedelta(minutes=5), due=(schedule(1, two_days_ago),))
    assert [claim.slot_key for claim in made.claims] == [SLOT.key]
    assert made.passed == (Passed(1, two_days_ago, "too_late"), Passed(1, yesterday, "too_late"))
    assert made.advances == (Advance(1, TOMORROW, moves_from=two_days_ago),)


def test_a_day_that_already_had_its_post_is_passed_over() -> None:
    made = plan(due=(schedule(1),), posted={1: frozenset({TODAY})})
    assert made.claims == ()
    assert made.passed == (Passed(1, SLOT, "already_posted"),)
    assert made.advances == (Advance(1, TOMORROW, moves_from=SLOT),)


def test_news_is_claimed_once_per_guild_and_marked_announced() -> None:
    made = plan(with_news=(schedule(1, None, announced=2), schedule(2, None, announced=0)))
    assert [(claim.guild_id, claim.slot_key, claim.occasion, claim.due_at) for claim in made.claims] == [
        (1, "change:3", "change", NOW),
        (2, "change:3", "change", NOW),
    ]
    assert made.claims[0].nonce == slot_nonce(1, "change:3")
    assert made.announced == ((1, RECORD.id), (2, RECORD.id))


def test_a_retry_within_the_nonce_grace_is_sent_again() -> None:
    made = plan(due_retries=(retry(1, NOW - NONCE_GRACE),))
    assert made.retries == ((1, SLOT.key),)
    assert made.abandoned == ()
    assert made.claims_anything


def test_a_retry_past_the_nonce_grace_is_abandoned_never_resent() -> None:
    old = retry(1, NOW - NONCE_GRACE - dt.timedelta(seconds=1))
    made = plan(due_retries=(old,))
    assert made.retries == ()
    assert made.abandoned == (old,)
    assert not made.claims_anything  # abandoning is written on its own


def test_a_retry_still_being_sent_is_left_alone() -> None:
    made = plan(due_retries=(retry(1, NOW),), in_flight=frozenset({(1, SLOT.key)}))
    assert made == Plan()


def test_retries_come_first_then_news_then_due_slots_within_the_room() -> None:
    news = (schedule(3, None, announced=0), schedule(4, None, announced=0))
    made = plan(due_retries=(retry(1, NOW), retry(2, NOW)), with_news=news, due=(schedule(5),), room=3)
    assert made.retries == ((1, SLOT.key), (2, SLOT.key))
    assert [claim.guild_id for claim in made.claims] == [3]
    assert made.announced == ((3, RECORD.id),)
    assert made.advances == ()  # no room left: the due schedule stays due for the next pass


def test_due_slots_fill_the_room_news_left_and_the_rest_wait() -> None:
    made = plan(with_news=(schedule(9, None, announced=0),), due=(schedule(1), schedule(2), schedule(3)), room=3)
    assert [(claim.guild_id, claim.occasion) for claim in made.claims] == [
        (9, "change"),
        (1, "scheduled"),
        (2, "scheduled"),
    ]
    assert [advance.guild_id for advance in made.advances] == [1, 2]


def test_abandoned_and_in_flight_retries_take_no_room() -> None:
    old = retry(1, NOW - NONCE_GRACE - dt.timedelta(seconds=1))
    busy = retry(2, NOW)
    made = plan(due_retries=(old, busy), due=(schedule(3),), in_flight=frozenset({(2, SLOT.key)}), room=2)
    assert made.abandoned == (old,)
    assert [claim.guild_id for claim in made.claims] == [3]


def test_no_room_plans_nothing() -> None:
    made = plan(due_retries=(retry(1, NOW),), with_news=(schedule(2, None, announced=0),), due=(schedule(3),), room=0)
    assert made == Plan()


def test_a_new_schedule_starts_after_the_days_that_already_had_their_post() -> None:
    before_today = NOW - dt.timedelta(hours=1)
    assert plan_next_slot(RULE, RECORD, before_today) == (SLOT, ())
    assert plan_next_slot(RULE, RECORD, before_today, frozenset({TODAY})) == (TOMORROW, (SLOT,))


def test_regular_posts_stop_after_a_confirmed_release_day() -> None:
    confirmed = replace(RECORD, window=ReleaseWindow("day", TODAY, TODAY, "today"), confidence="confirmed")
    assert plan_next_slot(RULE, confirmed, NOW) == (None, ())
