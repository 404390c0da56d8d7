"""Which countdown post is due next, in a guild's own time zone, daylight saving included."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cogs.countdown.slots import (
    LATE_LIMIT,
    PostingRule,
    Slot,
    SlotError,
    catch_up,
    load_zone,
    local_to_utc,
    next_open_slot,
    next_slot,
    parse_local_time,
    suggest_zones,
)

UTC = dt.UTC
RELEASE = dt.date(2027, 1, 1)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"), [("09:00", dt.time(9)), ("7:05", dt.time(7, 5)), ("23:59", dt.time(23, 59))]
)
def test_moderators_write_24_hour_times(text: str, expected: dt.time) -> None:
    assert parse_local_time(text) == expected


@pytest.mark.parametrize("text", ["25:99", "24:00", "7pm", "7.30", "0900", "", "09:60", "9:5"])
def test_other_times_are_refused(text: str) -> None:
    with pytest.raises(SlotError) as caught:
        parse_local_time(text)
    assert caught.value.reason == "bad_time"


@pytest.mark.parametrize("name", ["Mars/Olympus", "PST", "../../etc/passwd", "", "asia/seoul"])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(SlotError):
        load_zone(name)


def test_zone_autocomplete_finds_cities_by_their_words() -> None:
    assert suggest_zones("new york")[0] == "America/New_York"
    assert suggest_zones("seoul") == ["Asia/Seoul"]
    assert "UTC" in suggest_zones("")
    assert len(suggest_zones("a")) == 25


def test_daily_posts_at_the_local_time_of_the_zone() -> None:
    rule = PostingRule(dt.time(9), "Asia/Seoul", "daily")
    slot = next_slot(rule, at(2026, 11, 25, 12), release_start=RELEASE, last_day=None)
    assert slot == Slot(at(2026, 11, 26, 0), dt.date(2026, 11, 26), None)  # 09:00 KST is 00:00 UTC


def test_a_slot_exactly_now_is_already_past() -> None:
    rule = PostingRule(dt.time(12), "UTC", "daily")
    slot = next_slot(rule, at(2026, 11, 25, 12), release_start=RELEASE, last_day=None)
    assert slot is not None
    assert slot.due_at == at(2026, 11, 26, 12)


def test_weekly_posts_on_its_weekday_and_on_milestones() -> None:
    rule = PostingRule(dt.time(10), "UTC", "weekly", weekday=0)  # Mondays
    days = []
    now = at(2026, 11, 1)
    while (slot := next_slot(rule, now, release_start=RELEASE, last_day=RELEASE)) is not None:
        days.append((slot.local_date, slot.milestone))
        now = slot.due_at
    mondays = [dt.date(2026, 11, d) for d in (2, 9, 16, 23, 30)] + [dt.date(2026, 12, d) for d in (7, 14, 21, 28)]
    milestones = {
        dt.date(2026, 11, 12): 50,
        dt.date(2026, 12, 2): 30,
        dt.date(2026, 12, 18): 14,
        dt.date(2026, 12, 25): 7,
        dt.date(2026, 12, 29): 3,
        dt.date(2026, 12, 31): 1,
        dt.date(2027, 1, 1): 0,
    }
    expected = sorted([(day, None) for day in mondays] + list(milestones.items()))
    assert days == expected


def test_milestones_post_only_on_milestone_days() -> None:
    rule = PostingRule(dt.time(8), "Europe/Berlin", "milestones")
    days = []
    now = at(2026, 1, 1)
    while (slot := next_slot(rule, now, release_start=RELEASE, last_day=None)) is not None:
        days.append(slot.milestone)
        now = slot.due_at
    assert days == [100, 50, 30, 14, 7, 3, 1, 0]


def test_posts_stop_after_a_confirmed_release_day() -> None:
    rule = PostingRule(dt.time(8), "UTC", "daily")
    assert next_slot(rule, at(2027, 1, 1, 9), release_start=RELEASE, last_day=RELEASE) is None
    assert next_slot(rule, at(2027, 1, 1, 9), release_start=RELEASE, last_day=None) is not None


def test_a_time_inside_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    zone = load_zone("America/New_York")
    # 14 March 2027: 02:00 jumps to 03:00. 02:30 does not exist; it is posted at 03:30 EDT.
    assert local_to_utc(dt.date(2027, 3, 14), dt.time(2, 30), zone) == at(2027, 3, 14, 7, 30)
    assert at(2027, 3, 14, 7, 30).astimezone(zone).time() == dt.time(3, 30)
    rule = PostingRule(dt.time(2, 30), "America/New_York", "daily")
    days = []
    now = at(2027, 3, 12)
    for _ in range(4):
        slot = next_slot(rule, now, release_start=None, last_day=None)
        assert slot is not None
        days.append((slot.local_date, slot.due_at))
        now = slot.due_at
    assert days == [
        (dt.date(2027, 3, 12), at(2027, 3, 12, 7, 30)),
        (dt.date(2027, 3, 13), at(2027, 3, 13, 7, 30)),
        (dt.date(2027, 3, 14), at(2027, 3, 14, 7, 30)),
        (dt.date(2027, 3, 15), at(2027, 3, 15, 6, 30)),
    ]


def test_a_time_that_occurs_twice_is_posted_once_at_its_first_occurrence() -> None:
    zone = load_zone("America/New_York")
    # 7 November 2027: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    assert local_to_utc(dt.date(2027, 11, 7), dt.time(1, 30), zone) == at(2027, 11, 7, 5, 30)
    rule = PostingRule(dt.time(1, 30), "America/New_York", "daily")
    first = next_slot(rule, at(2027, 11, 7, 0), release_start=None, last_day=None)
    assert first is not None
    assert first.due_at == at(2027, 11, 7, 5, 30)
    second = next_slot(rule, first.due_at, release_start=None, last_day=None)
    assert second is not None
    assert second.local_date == dt.date(2027, 11, 8)


@given(
    st.sampled_from(["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Seoul", "America/Santiago"]),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    st.datetimes(
        min_value=dt.datetime(2026, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=dt.datetime(2028, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_daily_slots_are_one_per_local_day_and_always_later(zone: str, local: dt.time, start: dt.datetime) -> None:
    rule = PostingRule(local, zone, "daily")
    now = start
    seen = set()
    for _ in range(5):
        slot = next_slot(rule, now, release_start=None, last_day=None)
        assert slot is not None
        assert slot.due_at > now
        assert slot.local_date not in seen
        seen.add(slot.local_date)
        now = slot.due_at
    assert len(seen) == 5


def test_a_slot_missed_by_less_than_an_hour_is_still_posted() -> None:
    rule = PostingRule(dt.time(9), "UTC", "daily")
    due = Slot(at(2026, 11, 26, 9), dt.date(2026, 11, 26), None)
    result = catch_up(rule, due, at(2026, 11, 26, 9, 59), release_start=RELEASE, last_day=None)
    assert result.slot == due
    assert result.skipped == ()
    assert result.next_slot is not None
    assert result.next_slot.local_date == dt.date(2026, 11, 27)


def test_slots_missed_longer_are_skipped_and_only_the_recent_one_posted() -> None:
    rule = PostingRule(dt.time(9), "UTC", "daily")
    due = Slot(at(2026, 11, 26, 9), dt.date(2026, 11, 26), None)
    late = catch_up(rule, due, at(2026, 11, 26, 9) + LATE_LIMIT, release_start=RELEASE, last_day=None)
    assert late.slot is None
    assert late.skipped == (due,)
    days_down = catch_up(rule, due, at(2026, 11, 28, 9, 30), release_start=RELEASE, last_day=None)
    assert [s.local_date for s in days_down.skipped] == [dt.date(2026, 11, 26), dt.date(2026, 11, 27)]
    assert days_down.slot is not None
    assert days_down.slot.local_date == dt.date(2026, 11, 28)


def test_an_invisible_character_pasted_with_a_zone_or_time_is_ignored() -> None:
    assert load_zone("Asia/Seoul\u200b").key == "Asia/Seoul"
    assert parse_local_time("\u202e09:00") == dt.time(9, 0)


def test_a_new_time_on_a_day_that_had_its_post_starts_the_next_day() -> None:
    """Posted at 08:00, moved to 08:30 at 08:10: the next post is tomorrow 08:30, and today is named."""
    rule = PostingRule(dt.time(8, 30), "Asia/Seoul", "daily")
    now = local_to_utc(dt.date(2026, 12, 1), dt.time(8, 10), load_zone("Asia/Seoul"))
    slot, passed = next_open_slot(rule, now, release_start=RELEASE, last_day=None, posted={dt.date(2026, 12, 1)})
    assert slot is not None
    assert slot.local_date == dt.date(2026, 12, 2)
    assert slot.due_at == local_to_utc(dt.date(2026, 12, 2), dt.time(8, 30), load_zone("Asia/Seoul"))
    assert [p.local_date for p in passed] == [dt.date(2026, 12, 1)]

    same, none_passed = next_open_slot(rule, now, release_start=RELEASE, last_day=None, posted=())
    assert same is not None
    assert same.local_date == dt.date(2026, 12, 1)
    assert none_passed == ()


def test_catching_up_passes_over_days_that_already_had_their_post() -> None:
    """A zone moved west: the schedule walks onto a local day posted under the old zone."""
    rule = PostingRule(dt.time(9), "UTC", "daily")
    due = Slot(at(2026, 12, 1, 9), dt.date(2026, 12, 1), None)
    result = catch_up(
        rule, due, at(2026, 12, 1, 9, 1), release_start=RELEASE, last_day=None, posted={dt.date(2026, 12, 2)}
    )
    assert result.slot == due
    assert result.next_slot is not None
    assert result.next_slot.local_date == dt.date(2026, 12, 3)
    assert [s.local_date for s in result.already_posted] == [dt.date(2026, 12, 2)]

    posted_today = catch_up(
        rule, due, at(2026, 12, 1, 9, 1), release_start=RELEASE, last_day=None, posted={dt.date(2026, 12, 1)}
    )
    assert posted_today.slot is None
    assert posted_today.skipped == ()
    assert [s.local_date for s in posted_today.already_posted] == [dt.date(2026, 12, 1)]
    assert posted_today.next_slot is not None
    assert posted_today.next_slot.local_date == dt.date(2026, 12, 2)
