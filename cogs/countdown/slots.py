"""Which countdown post is due next: a local time in an IANA zone, a cadence, milestones.

Everything here is pure (the current time is an argument) so daylight-saving edge
cases are tested directly. Due times are aware UTC; local dates name the slots, so a
guild gets at most one regular post per local day whatever its clock does.

Daylight saving, resolved predictably:
- a local time that does not exist that day (spring-forward gap) is moved forward by
  the length of the gap, as an unchanged wall clock would show it (02:30 → 03:30);
- a local time that occurs twice (fall-back fold) is posted at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Literal

from bot.usertext import clean_text

Cadence = Literal["daily", "weekly", "milestones"]
CADENCES: tuple[Cadence, ...] = ("daily", "weekly", "milestones")

#: Days before the release (or the window's start) that every cadence posts on; 0 is release day.
MILESTONE_DAYS: tuple[int, ...] = (100, 50, 30, 14, 7, 3, 1, 0)

#: A slot missed while the bot was down is still posted if it is less late than this.
LATE_LIMIT = dt.timedelta(hours=1)

_LOCAL_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SlotError(ValueError):
    """A moderator's time or zone is unusable; ``reason`` is a catalog key suffix."""

    def __init__(self, reason: str, **values: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values


@dataclass(frozen=True, slots=True)
class PostingRule:
    """When one guild wants its countdown: local time, IANA zone, cadence, weekday for weekly."""

    at: dt.time
    zone: str
    cadence: Cadence
    weekday: int = 0  # Monday is 0, as in datetime.weekday(); only weekly uses it


@dataclass(frozen=True, slots=True)
class Slot:
    """One due post: when (UTC), for which local day, and the milestone it marks if any."""

    due_at: dt.datetime
    local_date: dt.date
    milestone: int | None

    @property
    def key(self) -> str:
        """The ledger key: one regular post per guild and local day."""
        return f"day:{self.local_date.isoformat()}"


def parse_local_time(text: str) -> dt.time:
    """24-hour "HH:MM" (or "H:MM"); "25:99", "7pm" and "7.30" are refused."""
    match = _LOCAL_TIME.match(clean_text(text))
    if match is None:
        raise SlotError("bad_time", text=text)
    return dt.time(int(match.group(1)), int(match.group(2)))


@cache
def known_zones() -> tuple[str, ...]:
    """Every IANA zone name the tzdata package knows, sorted (for autocomplete and checks)."""
    return tuple(sorted(zoneinfo.available_timezones()))


@cache
def _known_zone_names() -> frozenset[str]:
    return frozenset(known_zones())


def load_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone for an IANA name; only names tzdata lists (no file paths, no abbreviations)."""
    cleaned = clean_text(name)
    if cleaned not in _known_zone_names():
        raise SlotError("unknown_zone", name=cleaned)
    return zoneinfo.ZoneInfo(cleaned)


def local_to_utc(day: dt.date, at: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The UTC instant of ``at`` on local ``day``, with the module's gap and fold rules.

    ``fold=0`` gives both rules at once: in a fold it is the first occurrence, and in a
    gap it applies the offset from before the jump, which lands after the gap.
    """
    local = dt.datetime.combine(day, at).replace(tzinfo=zone, fold=0)
    return local.astimezone(dt.UTC)


def local_date(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.date:
    return instant.astimezone(zone).date()


def days_until(target: dt.date, today: dt.date) -> int:
    """Whole calendar days from ``today`` to ``target`` (negative once it has passed)."""
    return (target - today).days


def milestone_on(day: dt.date, release_start: dt.date | None) -> int | None:
    """The milestone ``day`` marks (days left), or None."""
    if release_start is None:
        return None
    left = days_until(release_start, day)
    return left if left in MILESTONE_DAYS else None


def _posts_on(rule: PostingRule, day: dt.date, release_start: dt.date | None) -> bool:
    if milestone_on(day, release_start) is not None:
        return True
    if rule.cadence == "daily":
        return True
    if rule.cadence == "weekly":
        return day.weekday() == rule.weekday
    return False


def next_slot(
    rule: PostingRule,
    after: dt.datetime,
    *,
    release_start: dt.date | None,
    last_day: dt.date | None,
) -> Slot | None:
    """The first slot strictly after ``after``, or None when nothing is left to post.

    ``release_start`` is the day (or the window's first day) counted to; ``last_day`` is
    the confirmed release day after which regular posts stop (None: keep posting, the
    wait is not over).
    """
    zone = load_zone(rule.zone)
    day = local_date(after, zone)
    candidates: list[dt.date] = []
    if rule.cadence in ("daily", "weekly"):
        candidates += [day + dt.timedelta(days=offset) for offset in range(9)]
    if release_start is not None:
        candidates += [release_start - dt.timedelta(days=n) for n in MILESTONE_DAYS]
    for candidate in sorted(set(candidates)):
        if candidate < day or (last_day is not None and candidate > last_day):
            continue
        if not _posts_on(rule, candidate, release_start):
            continue
        due = local_to_utc(candidate, rule.at, zone)
        if due > after:
            return Slot(due, candidate, milestone_on(candidate, release_start))
    return None


def next_open_slot(
    rule: PostingRule,
    after: dt.datetime,
    *,
    release_start: dt.date | None,
    last_day: dt.date | None,
    posted: Collection[dt.date] = (),
) -> tuple[Slot | None, tuple[Slot, ...]]:
    """The first slot after ``after`` whose local day has not had its post yet, and the slots
    passed over because their day already had one (one regular post per local day).

    A moderator who moves today's time after today's post gets the new time from tomorrow
    on, and is told so, instead of a promise for today that the ledger would not keep.
    """
    first = next_slot(rule, after, release_start=release_start, last_day=last_day)
    return _pass_posted_days(rule, first, release_start=release_start, last_day=last_day, posted=posted)


def _pass_posted_days(
    rule: PostingRule,
    slot: Slot | None,
    *,
    release_start: dt.date | None,
    last_day: dt.date | None,
    posted: Collection[dt.date],
) -> tuple[Slot | None, tuple[Slot, ...]]:
    """``slot`` or the first one after it on a day not in ``posted``, and the slots passed over."""
    passed: list[Slot] = []
    while slot is not None and slot.local_date in posted:
        passed.append(slot)
        slot = next_slot(rule, slot.due_at, release_start=release_start, last_day=last_day)
    return slot, tuple(passed)


@dataclass(frozen=True, slots=True)
class Catchup:
    """What to do with a schedule whose due time has passed: post ``slot`` or nothing.

    ``skipped`` were too late to post; ``already_posted`` were passed over because their
    local day already had its post.
    """

    slot: Slot | None
    skipped: tuple[Slot, ...]
    next_slot: Slot | None
    already_posted: tuple[Slot, ...] = ()


def catch_up(
    rule: PostingRule,
    due: Slot,
    now: dt.datetime,
    *,
    release_start: dt.date | None,
    last_day: dt.date | None,
    posted: Collection[dt.date] = (),
) -> Catchup:
    """Walk the slots from ``due`` up to ``now``: the latest is posted if less than an hour
    late, every other one is skipped; the first slot after ``now`` whose day has not had its
    post (``posted``) is the next due one."""
    skipped: list[Slot] = []
    already: list[Slot] = []
    current: Slot | None = due
    latest: Slot | None = None
    while current is not None and current.due_at <= now:
        if current.local_date in posted:
            already.append(current)
        else:
            if latest is not None:
                skipped.append(latest)
            latest = current
        current = next_slot(rule, current.due_at, release_start=release_start, last_day=last_day)
    if latest is not None and now - latest.due_at >= LATE_LIMIT:
        skipped.append(latest)
        latest = None
    current, passed = _pass_posted_days(rule, current, release_start=release_start, last_day=last_day, posted=posted)
    return Catchup(latest, tuple(skipped), current, (*already, *passed))


def suggest_zones(query: str, limit: int = 25) -> list[str]:
    """Zone names for autocomplete: names starting with the query first, then any containing it.

    Spaces match underscores and the comparison ignores case, so "new york" finds
    "America/New_York".
    """
    wanted = query.strip().casefold().replace(" ", "_")
    if not wanted:
        return [name for name in ("UTC", "Asia/Seoul", "Europe/London", "America/New_York") if name in known_zones()]
    starts: list[str] = []
    contains: list[str] = []
    for name in known_zones():
        folded = name.casefold()
        city = folded.rsplit("/", 1)[-1]
        if folded.startswith(wanted) or city.startswith(wanted):
            starts.append(name)
        elif wanted in folded:
            contains.append(name)
    return (starts + contains)[:limit]
