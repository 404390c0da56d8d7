"""The countdown card says how many whole days are left, to what, and how sure that is."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from bot.datapack import load_data_pack
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.render import (
    countdown_status,
    render_countdown_card,
    render_history_card,
    timestamp,
    unix_at_display_hour,
    window_label,
)
from cogs.countdown.window import parse_window

DATA = Path(__file__).parents[2] / "data"
PACK = load_data_pack(DATA)


def record(window: str, confidence: str = "estimated", **extra: object) -> ReleaseRecord:
    values: dict[str, object] = {
        "awaited": "Season 2",
        "window": parse_window(window),
        "confidence": confidence,
        "source_title": "Fan article",
        "source_url": None,
        "source_date": dt.date(2025, 9, 18),
        "origin": "pack",
        "recorded_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    }
    values.update(extra)
    return ReleaseRecord(**values)  # type: ignore[arg-type]


def card(rec: ReleaseRecord, today: dt.date, **extra: object):  # type: ignore[no-untyped-def]
    return render_countdown_card(
        rec,
        today=today,
        count_zone="UTC",
        show_title=PACK.show.show.title,
        platform=PACK.show.platform.name,
        context=PACK.release.context,
        source_dates=PACK.source_dates(),
        locale="en-US",
        **extra,  # type: ignore[arg-type]
    )


def test_a_window_is_counted_to_its_start_and_says_so() -> None:
    shown = card(record("early 2027"), dt.date(2026, 11, 25))
    assert "**37 days** until the start of the expected window **early 2027**" in shown.description
    assert "count is to the window's first day" in shown.description
    start, end = unix_at_display_hour(dt.date(2027, 1, 1)), unix_at_display_hour(dt.date(2027, 3, 31))
    assert f"<t:{start}:D> – <t:{end}:D>" in shown.description
    fields = dict(shown.fields)
    assert fields["How sure"] == "Estimated, not confirmed by Netflix"
    assert fields["Source"].startswith("Fan article (as of <t:")


def test_the_pack_context_gives_the_premiere_and_the_renewal() -> None:
    background = dict(card(record("early 2027"), dt.date(2026, 11, 25)).fields)["Background"]
    lines = background.splitlines()
    assert lines[0].startswith(f"• {timestamp(dt.date(2022, 1, 28), 'D')} — Season 1 premiered")
    assert lines[1].startswith("• June 2022 — Netflix officially renewed")
    assert lines[2].startswith(f"• {timestamp(dt.date(2025, 7, 23), 'D')} — Netflix announced the season 2 cast")
    article_day = timestamp(dt.date(2025, 9, 18), "D")
    # The end of filming was an estimate, made on the article's date.
    assert f"(expected as of {article_day}, not confirmed)" in lines[3]
    # Facts without a date of their own hold as of their source: shown, and said so.
    assert lines[4].startswith(f"• As of {article_day} — Season 2 was not on Netflix's 2026 K-drama slate")
    assert lines[5].startswith(f"• As of {article_day} — Season 2 is not cancelled")
    assert "time and quality" not in background  # the article's opinion is not a confirmed fact


def test_a_confirmed_day_counts_whole_days_and_one_day_is_singular() -> None:
    rec = record("2027-03-14", "confirmed")
    assert "**1 day** to go until Season 2" in card(rec, dt.date(2027, 3, 13)).description
    assert (
        "<t:" + str(unix_at_display_hour(dt.date(2027, 3, 14))) + ":R>" in card(rec, dt.date(2027, 3, 13)).description
    )
    assert dict(card(rec, dt.date(2027, 3, 13)).fields)["How sure"] == "Confirmed by Netflix"


def test_once_the_day_has_come_the_season_is_out_not_a_negative_count() -> None:
    rec = record("2027-03-14", "confirmed")
    assert card(rec, dt.date(2027, 3, 14)).description == "Season 2 comes out today!"
    later = card(rec, dt.date(2027, 5, 1)).description
    assert later.startswith("Season 2 is out")
    assert "-" not in re.sub(r"<t:\d+:\w>", "", later)


def test_an_unconfirmed_date_never_claims_the_season_is_out() -> None:
    assert countdown_status(record("2027-03-14", "rumored"), dt.date(2027, 3, 14)).state == "window_open"
    assert countdown_status(record("early 2027"), dt.date(2027, 2, 1)).state == "window_open"
    passed = card(record("early 2027"), dt.date(2027, 4, 1)).description
    assert "without a confirmed date" in passed
    assert "ended on" in card(record("2027-Q1"), dt.date(2027, 4, 1)).description


def test_a_bound_the_source_did_not_give_is_called_the_bots_reading() -> None:
    """ "early 2027" has no end date: the card never says the window "ended on" a day nobody published."""
    end = timestamp(dt.date(2027, 3, 31), "D")
    upcoming = card(record("early 2027"), dt.date(2026, 12, 6)).description
    assert "the source gives no dates; the bot reads it as" in upcoming
    passed = card(record("early 2027"), dt.date(2027, 4, 1)).description
    assert "ended on" not in passed
    assert f"The source gave no end date: {end} is the bot's reading of its words." in passed
    # A window given as dates is exactly what was given.
    explicit = card(record("2027-01-10..2027-02-20"), dt.date(2026, 12, 6)).description
    assert "the bot reads" not in explicit


def test_milestones_and_changes_are_announced_in_the_card() -> None:
    milestone = card(record("early 2027"), dt.date(2026, 12, 2), occasion="milestone").description
    assert milestone.startswith("Milestone: 30 days left!")
    previous = record("early 2027")
    change = card(record("2027-03-14", "confirmed"), dt.date(2026, 12, 2), occasion="change", previous=previous)
    assert change.description.startswith("**The release information changed.** Before: **early 2027**")


def test_owner_text_is_escaped_and_links_are_kept() -> None:
    rec = record("2027", source_title="*bold* @everyone", source_url="https://example.com/a")
    source = dict(card(rec, dt.date(2026, 11, 25)).fields)["Source"]
    assert source.startswith("[\\*bold\\* @\u200beveryone](https://example.com/a)")


def test_history_lists_newest_first_with_sources_and_origin() -> None:
    older = record("early 2027")
    newer = record("2027-03-14", "confirmed", origin="owner", source_title=None, source_url="https://n.example/x")
    history = render_history_card([newer, older], platform="Netflix", locale=None)
    first, second = history.description.split("\n\n")
    assert "Confirmed by Netflix" in first
    assert "<https://n.example/x>" in first
    assert "owners" in first
    assert "**early 2027**" in second
    assert "data pack" in second


@pytest.mark.parametrize(
    ("text", "english", "korean"),
    [
        ("2027-03", "March 2027", "2027년 3월"),
        ("2027-Q1", "Q1 2027", "2027년 1분기"),
        ("2027", "2027", "2027년"),
        ("early 2027", "early 2027", "2027년 초"),
        ("2027-01-10..2027-02-20", "2027-01-10..2027-02-20", "2027-01-10..2027-02-20"),
    ],
)
def test_an_owners_window_label_is_written_in_the_readers_language(text: str, english: str, korean: str) -> None:
    window = parse_window(text)
    assert window_label(window, "en-US") == english
    assert window_label(window, "ko") == korean
