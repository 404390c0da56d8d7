"""Release windows as owners type them, and which record wins between pack and owner."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cogs.countdown.record import ReleaseRecord, check_owner_update, pack_replaces, split_source
from cogs.countdown.window import MAX_SEASON_DAYS, ReleaseWindow, WindowError, classify_span, parse_window

D = dt.date


@pytest.mark.parametrize(
    ("text", "precision", "start", "end", "label"),
    [
        ("2027-03-14", "day", D(2027, 3, 14), D(2027, 3, 14), "2027-03-14"),
        ("2027-02", "month", D(2027, 2, 1), D(2027, 2, 28), "2027-02"),
        ("2028-02", "month", D(2028, 2, 1), D(2028, 2, 29), "2028-02"),
        ("2027-Q1", "quarter", D(2027, 1, 1), D(2027, 3, 31), "2027-Q1"),
        ("q4 2027", "quarter", D(2027, 10, 1), D(2027, 12, 31), "2027-Q4"),
        ("early 2027", "season", D(2027, 1, 1), D(2027, 3, 31), "early 2027"),
        ("  Early   2027 ", "season", D(2027, 1, 1), D(2027, 3, 31), "early 2027"),
        ("summer 2027", "season", D(2027, 6, 1), D(2027, 8, 31), "summer 2027"),
        ("2027", "year", D(2027, 1, 1), D(2027, 12, 31), "2027"),
        ("2027-01-10..2027-02-20", "season", D(2027, 1, 10), D(2027, 2, 20), "2027-01-10..2027-02-20"),
        ("2027-04-01 to 2027-06-30", "quarter", D(2027, 4, 1), D(2027, 6, 30), "2027-04-01..2027-06-30"),
        ("2027-05-05..2027-05-05", "day", D(2027, 5, 5), D(2027, 5, 5), "2027-05-05..2027-05-05"),
    ],
)
def test_owner_input_becomes_a_window(text: str, precision: str, start: dt.date, end: dt.date, label: str) -> None:
    assert parse_window(text) == ReleaseWindow(precision, start, end, label)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("2027-02-30", "no_such_date"),
        ("2027-13", "no_such_date"),
        ("2027-03-31..2027-01-01", "end_before_start"),
        ("2027-01-01..2027-12-30", "too_wide"),
        ("winter 2027", "unknown_season"),
        ("next spring", "unreadable"),
        ("14/03/2027", "unreadable"),
        ("soon", "unreadable"),
    ],
)
def test_unusable_input_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(WindowError) as caught:
        parse_window(text)
    assert caught.value.reason == reason


def test_a_window_whose_end_precedes_its_start_names_both_dates() -> None:
    with pytest.raises(WindowError) as caught:
        parse_window("2027-03-31..2027-01-01")
    assert caught.value.values == {"start": dt.date(2027, 3, 31), "end": dt.date(2027, 1, 1)}


@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 12, 31)), st.integers(0, MAX_SEASON_DAYS))
def test_any_span_parses_back_to_itself(start: dt.date, length: int) -> None:
    end = start + dt.timedelta(days=length)
    window = parse_window(f"{start}..{end}")
    assert (window.start, window.end) == (start, end)
    assert window.precision == classify_span(start, end)


def test_owner_update_must_still_lie_ahead() -> None:
    today = D(2026, 11, 25)
    check_owner_update(parse_window("2026-11-25"), today, today)  # release today is fine
    check_owner_update(parse_window("2026"), today, today)  # a window that has begun but not ended
    with pytest.raises(WindowError) as caught:
        check_owner_update(parse_window("2026-11-24"), today, today)
    assert caught.value.reason == "in_the_past"
    with pytest.raises(WindowError) as caught:
        check_owner_update(parse_window("2027-Q1"), D(2026, 11, 26), today)
    assert caught.value.reason == "source_in_future"


def test_a_source_is_a_link_or_a_short_text() -> None:
    assert split_source("https://about.netflix.com/en/news/x") == (None, "https://about.netflix.com/en/news/x")
    assert split_source("  Netflix   Tudum  ") == ("Netflix Tudum", None)
    for bad, reason in [("   ", "source_missing"), ("https://nodot", "source_bad_url"), ("x" * 301, "source_too_long")]:
        with pytest.raises(WindowError) as caught:
            split_source(bad)
        assert caught.value.reason == reason


def record(origin: str, source_date: dt.date, window: str = "early 2027") -> ReleaseRecord:
    return ReleaseRecord(
        awaited="Season 2",
        window=parse_window(window),
        confidence="estimated",
        source_title="a source",
        source_url=None,
        source_date=source_date,
        origin=origin,  # type: ignore[arg-type]
        recorded_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )


def test_the_pack_seeds_an_empty_store_and_corrects_its_own_entry() -> None:
    pack = record("pack", D(2025, 9, 18))
    assert pack_replaces(None, pack)
    assert not pack_replaces(pack, pack)
    assert pack_replaces(pack, record("pack", D(2025, 9, 18), window="2027-Q2"))


def test_an_owner_update_stays_until_the_pack_cites_a_newer_source() -> None:
    owner = record("owner", D(2026, 5, 1), window="2027-03-14")
    assert not pack_replaces(owner, record("pack", D(2025, 9, 18)))
    assert not pack_replaces(owner, record("pack", D(2026, 5, 1)))
    assert pack_replaces(owner, record("pack", D(2026, 6, 1), window="2027-04-02"))


def test_an_invisible_character_pasted_with_a_window_is_ignored() -> None:
    assert parse_window("2027-03-14\u200b").start == dt.date(2027, 3, 14)


@pytest.mark.parametrize("text", ["0000", "0000-05", "early 0000", "0000-Q1"])
def test_year_zero_is_no_date(text: str) -> None:
    with pytest.raises(WindowError) as raised:
        parse_window(text)
    assert raised.value.reason == "no_such_date"
