"""The release watch's decisions from what TVmaze says (cogs/countdown/watch.py): no Discord, no HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bot.settings import Settings, SettingsError, load_settings
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.watch import (
    BadAnswer,
    Finding,
    decide,
    find_season,
    parse_retry_after,
    premiere_of,
    retry_delay,
)
from cogs.countdown.window import parse_window
from tests.support.tvmaze import LocalTvmaze

NOW = dt.datetime(2026, 12, 6, 15, tzinfo=dt.UTC)
SHOW = 43_387
MARCH_14 = dt.date(2027, 3, 14)
AIRS = dt.datetime(2027, 3, 14, 8, tzinfo=dt.UTC)


def record(window: str, confidence: str = "estimated") -> ReleaseRecord:
    return ReleaseRecord("Season 2", parse_window(window), confidence, "src", None, NOW.date(), "owner", NOW)  # type: ignore[arg-type]


def tvmaze(day: dt.date | None, at: dt.datetime | None = None) -> LocalTvmaze:
    tv = LocalTvmaze()
    tv.announce(day, at)
    return tv


def read(tv: LocalTvmaze, season: int = 2) -> Any:
    entry = find_season(tv.seasons(), season)
    return None if entry is None else premiere_of(entry, tv.episodes(season))


def test_a_season_without_a_date_is_no_finding() -> None:
    premiere = read(tvmaze(None))
    assert premiere is None
    assert decide(premiere, record("early 2027"), SHOW, NOW) is None


def test_a_season_not_listed_yet_is_no_finding() -> None:
    assert find_season(tvmaze(MARCH_14).seasons(), 3) is None


def test_the_seasons_premiere_date_differs_from_an_estimated_window() -> None:
    finding = decide(read(tvmaze(MARCH_14)), record("early 2027"), SHOW, NOW)
    season_page = "https://www.tvmaze.com/seasons/160001/all-of-us-are-dead-season-2"
    assert finding == Finding(SHOW, 2, MARCH_14, None, NOW, season_page)
    assert finding.key == "tvmaze:43387:season:2:2027-03-14"


def test_the_first_episodes_airstamp_gives_the_time_and_is_part_of_the_key() -> None:
    finding = decide(read(tvmaze(MARCH_14, AIRS)), record("early 2027"), SHOW, NOW)
    assert finding is not None
    assert finding.airstamp == AIRS
    assert finding.key == "tvmaze:43387:season:2:2027-03-14@2027-03-14T08:00:00+00:00"
    later = decide(read(tvmaze(MARCH_14, AIRS + dt.timedelta(hours=1))), record("early 2027"), SHOW, NOW)
    assert later is not None
    assert later.key != finding.key  # a new time is a new finding (a dismissal of the old one does not hold)
    assert later.nonce != finding.nonce
    assert len(finding.nonce) <= 25


def test_a_record_that_already_gives_that_day_is_no_finding() -> None:
    assert decide(read(tvmaze(MARCH_14, AIRS)), record("2027-03-14", "confirmed"), SHOW, NOW) is None
    assert decide(read(tvmaze(MARCH_14)), record("2027-03-15"), SHOW, NOW) is not None


def test_a_date_already_past_is_not_proposed() -> None:
    assert decide(read(tvmaze(dt.date(2026, 12, 5))), record("early 2027"), SHOW, NOW) is None
    assert decide(read(tvmaze(NOW.date())), record("early 2027"), SHOW, NOW) is not None


def test_without_a_record_any_date_is_a_finding() -> None:
    assert decide(read(tvmaze(MARCH_14)), None, SHOW, NOW) is not None


@pytest.mark.parametrize(
    ("seasons", "reason"),
    [
        ({"name": "Not Found"}, "the seasons are not a list"),
        (["season"], "a season is not an object"),
        ([{"id": 1, "premiereDate": None}], "a season without 'number'"),
        ([{"id": 1, "number": "2", "premiereDate": None}], "a season's number is not a number"),
        ([{"number": 2, "premiereDate": None}], "a season without 'id'"),
        ([{"id": 1, "number": 2, "premiereDate": "2027-02-30"}], "a season's premiereDate is not a date"),
        ([{"id": 1, "number": 2, "premiereDate": 20270314}], "a season's premiereDate is not a date"),
        ([{"id": 1, "number": 2}], "a season without 'premiereDate'"),
    ],
)
def test_malformed_seasons_are_refused_with_a_reason(seasons: object, reason: str) -> None:
    with pytest.raises(BadAnswer) as refused:
        entry = find_season(seasons, 2)
        assert entry is not None
        premiere_of(entry, [])
    assert refused.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("episode", "reason"),
    [
        ({"type": "regular", "airstamp": None}, "an episode without 'airdate'"),
        ({"type": "regular", "airdate": "soon", "airstamp": None}, "an episode's airdate is not a date"),
        ({"type": "regular", "airdate": "2027-03-14", "airstamp": "14 March"}, "an episode's airstamp is not a time"),
        ({"type": "regular", "airdate": "2027-03-14", "airstamp": "2027-03-14T08:00:00"}, "an episode's airstamp has no"),
    ],
)
def test_malformed_episodes_are_refused_with_a_reason(episode: dict[str, Any], reason: str) -> None:
    entry = find_season(tvmaze(MARCH_14).seasons(), 2)
    assert entry is not None
    with pytest.raises(BadAnswer) as refused:
        premiere_of(entry, [episode])
    assert refused.value.reason.startswith(reason)


def test_specials_and_undated_episodes_do_not_make_the_premiere() -> None:
    entry = find_season(tvmaze(dt.date(2027, 4, 1)).seasons(), 2)
    assert entry is not None
    special = {"type": "significant_special", "airdate": "2027-01-05", "airstamp": "2027-01-05T08:00:00+00:00"}
    undated = {"type": "regular", "airdate": "", "airstamp": None}
    premiere = premiere_of(entry, [special, undated])
    assert premiere is not None
    assert (premiere.day, premiere.airstamp) == (dt.date(2027, 4, 1), None)  # the season's premiereDate


def test_retry_delay_doubles_from_the_base_and_honours_retry_after_within_the_interval() -> None:
    assert [retry_delay(n, 60, 6 * 3600) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(20, 60, 6 * 3600) == 6 * 3600
    assert retry_delay(1, 60, 6 * 3600, retry_after=7) == 7
    assert retry_delay(1, 60, 300, retry_after=10_000) == 300
    assert retry_delay(1, 60, 300, retry_after=0) == 1
    assert [parse_retry_after(v) for v in ("5", " 2.5 ", "Wed, 21 Oct 2026 07:28:00 GMT", None, "-1")] == [
        5.0,
        2.5,
        None,
        None,
        None,
    ]


# -- settings -------------------------------------------------------------------------------------------


def watch_settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_the_watch_is_off_unless_a_tvmaze_id_is_set() -> None:
    settings = watch_settings()
    assert not settings.release_watch_on
    assert settings.release_watch_interval == 6 * 3600
    assert settings.tvmaze_api_url == "https://api.tvmaze.com"


def test_the_watch_settings_read_an_operators_words() -> None:
    settings = watch_settings(
        release_watch_tvmaze_id="43387",
        release_watch_channel_id="99",
        admin_guild_ids="1",
        owner_ids="2",
        release_watch_interval="30m",
        tvmaze_api_url="http://127.0.0.1:8080/",
    )
    assert settings.release_watch_on
    assert settings.release_watch_interval == 1800
    assert settings.tvmaze_api_url == "http://127.0.0.1:8080"
    assert watch_settings(release_watch_interval="2h").release_watch_interval == 7200
    assert watch_settings(release_watch_interval="600").release_watch_interval == 600


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RELEASE_WATCH_INTERVAL": "4m"}, "setting RELEASE_WATCH_INTERVAL: 240 seconds is outside 5 minutes to 7 days"),
        ({"RELEASE_WATCH_INTERVAL": "often"}, "setting RELEASE_WATCH_INTERVAL: 'often' is not a duration"),
        ({"RELEASE_WATCH_TVMAZE_ID": "43387"}, "setting RELEASE_WATCH_CHANNEL_ID: needed with RELEASE_WATCH_TVMAZE_ID"),
        (
            {"RELEASE_WATCH_TVMAZE_ID": "43387", "RELEASE_WATCH_CHANNEL_ID": "5", "OWNER_IDS": "2"},
            "setting RELEASE_WATCH_CHANNEL_ID: needs ADMIN_GUILD_IDS",
        ),
        (
            {"RELEASE_WATCH_TVMAZE_ID": "43387", "RELEASE_WATCH_CHANNEL_ID": "5", "ADMIN_GUILD_IDS": "1"},
            "setting RELEASE_WATCH_CHANNEL_ID: needs OWNER_IDS",
        ),
        ({"RELEASE_WATCH_TVMAZE_ID": "-3"}, "setting RELEASE_WATCH_TVMAZE_ID: Input should be greater than 0"),
        ({"TVMAZE_API_URL": "api.tvmaze.com"}, "setting TVMAZE_API_URL: must be an http:// or https:// URL"),
        ({"RELEASE_WATCH_START_JITTER": "90"}, "setting RELEASE_WATCH_START_JITTER: Input should be less than or equal to 60"),
    ],
)
def test_bad_watch_settings_are_named_in_one_line(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OWNER_IDS", "ADMIN_GUILD_IDS", "RELEASE_WATCH_TVMAZE_ID", "RELEASE_WATCH_CHANNEL_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(None)
    assert str(refused.value).startswith(message), str(refused.value)
