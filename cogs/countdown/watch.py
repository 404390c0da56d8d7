"""The release watch's decisions, from what TVmaze says: plain values in, plain values out.

TVmaze's answers come in as parsed JSON (``/shows/{id}/seasons`` and
``/seasons/{id}/episodes``); :func:`find_season` and :func:`premiere_of` read the awaited
season's premiere from them, refusing anything malformed with :class:`BadAnswer` (never
proposed, logged once by the caller). :func:`decide` says whether that premiere is a
finding worth an owner's attention: it is when it differs from the release record.
:func:`retry_delay` is the back-off after a failed look. The clock is an argument.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cogs.countdown.record import ReleaseRecord

#: TVmaze's name in sources and logs.
SOURCE_NAME = "TVmaze"
#: Episodes of these types count for a season's premiere (specials do not).
PREMIERE_TYPES = frozenset({"regular"})


class BadAnswer(ValueError):
    """TVmaze answered something that is not the documented JSON; ``reason`` says what, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SeasonEntry:
    """One season of ``/shows/{id}/seasons``."""

    id: int
    number: int
    premiere: dt.date | None
    url: str | None


@dataclass(frozen=True, slots=True)
class Premiere:
    """When TVmaze says the awaited season starts: a day, and the first episode's instant if it lists one."""

    season: int
    day: dt.date
    airstamp: dt.datetime | None
    url: str | None


@dataclass(frozen=True, slots=True)
class Finding:
    """A premiere TVmaze gives that the record does not say, as retrieved at ``retrieved_at``."""

    show_id: int
    season: int
    day: dt.date
    airstamp: dt.datetime | None
    retrieved_at: dt.datetime
    url: str | None

    @property
    def key(self) -> str:
        """What TVmaze said, as the store's unique key: a new date or time is a new finding,
        the same one (after a restart, in another process, once dismissed) is not."""
        when = self.day.isoformat() + (f"@{self.airstamp.astimezone(dt.UTC).isoformat()}" if self.airstamp else "")
        return f"tvmaze:{self.show_id}:season:{self.season}:{when}"

    @property
    def nonce(self) -> str:
        """The proposal message's nonce: the same for every attempt at posting this finding (≤ 25 characters)."""
        return hashlib.sha256(f"release-watch:{self.key}".encode()).hexdigest()[:25]


def _field(entry: Mapping[str, Any], name: str, what: str) -> Any:
    if name not in entry:
        raise BadAnswer(f"{what} without {name!r}")
    return entry[name]


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadAnswer(f"{what} is not a number: {str(value)[:40]!r}")
    return value


def _date(value: Any, what: str) -> dt.date | None:
    """TVmaze writes dates as YYYY-MM-DD, an unknown one as null (or, for airdate, "")."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadAnswer(f"{what} is not a date: {str(value)[:40]!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadAnswer(f"{what} is not a date: {value[:40]!r}") from None


def _instant(value: Any, what: str) -> dt.datetime | None:
    """An ISO-8601 instant with its offset ("2027-03-14T08:00:00+00:00"), in UTC; null when unknown."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadAnswer(f"{what} is not a time: {str(value)[:40]!r}")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadAnswer(f"{what} is not a time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise BadAnswer(f"{what} has no UTC offset: {value[:40]!r}")
    return moment.astimezone(dt.UTC)


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) < 300 else None


def find_season(seasons: object, number: int) -> SeasonEntry | None:
    """The season numbered ``number`` in a ``/shows/{id}/seasons`` answer (None: TVmaze lists none yet)."""
    if not isinstance(seasons, list):
        raise BadAnswer("the seasons are not a list")
    for entry in seasons:
        if not isinstance(entry, dict):
            raise BadAnswer("a season is not an object")
        if _int(_field(entry, "number", "a season"), "a season's number") != number:
            continue
        return SeasonEntry(
            id=_int(_field(entry, "id", "a season"), "a season's id"),
            number=number,
            premiere=_date(_field(entry, "premiereDate", "a season"), "a season's premiereDate"),
            url=_url(entry.get("url")),
        )
    return None


def premiere_of(season: SeasonEntry, episodes: object) -> Premiere | None:
    """The season's premiere: its first regular episode that has an air date (with that
    episode's airstamp), else the season's premiereDate; None when TVmaze has neither."""
    if not isinstance(episodes, list):
        raise BadAnswer("the episodes are not a list")
    dated: list[tuple[dt.date, dt.datetime | None]] = []
    for entry in episodes:
        if not isinstance(entry, dict):
            raise BadAnswer("an episode is not an object")
        if entry.get("type", "regular") not in PREMIERE_TYPES:
            continue
        day = _date(_field(entry, "airdate", "an episode"), "an episode's airdate")
        stamp = _instant(entry.get("airstamp"), "an episode's airstamp")
        if day is not None:
            dated.append((day, stamp))
    if dated:
        day, stamp = min(dated, key=lambda pair: (pair[0], pair[1] or dt.datetime.max.replace(tzinfo=dt.UTC)))
        return Premiere(season.number, day, stamp, season.url)
    if season.premiere is not None:
        return Premiere(season.number, season.premiere, None, season.url)
    return None


def record_says(record: ReleaseRecord | None, day: dt.date) -> bool:
    """Whether the record already gives exactly that day (its time is not part of the record)."""
    return record is not None and record.window.precision == "day" and record.window.start == day


def decide(premiere: Premiere | None, record: ReleaseRecord | None, show_id: int, now: dt.datetime) -> Finding | None:
    """A finding to propose, or None: TVmaze gives no date, the record already says that day,
    or the day is past (a release date must lie ahead, as ``/release update`` requires)."""
    if premiere is None or record_says(record, premiere.day):
        return None
    if premiere.day < now.astimezone(dt.UTC).date():
        return None
    return Finding(show_id, premiere.season, premiere.day, premiere.airstamp, now, premiere.url)


def retry_delay(failures: int, base: float, interval: float, retry_after: float | None = None) -> float:
    """Seconds until the look after ``failures`` failed ones in a row: what TVmaze asked for
    (Retry-After), else ``base`` doubled at each failure; never beyond the interval."""
    if retry_after is not None:
        return min(max(retry_after, 1.0), interval)
    return min(base * 2 ** max(failures - 1, 0), interval)


def parse_retry_after(value: str | None) -> float | None:
    """A Retry-After header given in seconds (TVmaze's form); None when absent or another form."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None
