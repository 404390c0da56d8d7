"""How owners type release windows: "2027-03-14", "2027-Q1", "early 2027", a span.

What a window is (its precisions, the widest season) is the data pack's rule
(:mod:`bot.datapack.window`), so ``/release update`` accepts exactly the windows the pack
may hold. Parsing is strict and every refusal names what was wrong, because the text
comes straight from an owner's slash command.
"""

from __future__ import annotations

import datetime as dt
import re

from bot.datapack.window import (
    MAX_SEASON_DAYS,
    Confidence,
    Precision,
    ReleaseWindow,
    classify_span,
    month_end,
    quarter_window,
    spans_exactly,
)
from bot.i18n import Counted
from bot.usertext import clean_text

__all__ = [
    "MAX_SEASON_DAYS",
    "SEASONS",
    "Confidence",
    "Precision",
    "ReleaseWindow",
    "WindowError",
    "bounds_are_reading",
    "check_owner_window",
    "classify_span",
    "parse_window",
]

#: Named parts of a year (northern-hemisphere seasons, as the show's press uses them).
#: These spans are the bot's reading of the words: "early 2027" gives no end date, so the card
#: says that the bounds of such a window are a reading (:func:`bounds_are_reading`).
SEASONS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "early": ((1, 1), (3, 31)),
    "spring": ((3, 1), (5, 31)),
    "mid": ((5, 1), (8, 31)),
    "summer": ((6, 1), (8, 31)),
    "fall": ((9, 1), (11, 30)),
    "autumn": ((9, 1), (11, 30)),
    "late": ((10, 1), (12, 31)),
}

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-?q([1-4])$|^q([1-4])[ -]?(\d{4})$")
_SEASON = re.compile(r"^([a-z]+)[ -](\d{4})$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\S+)\s*(?:\.\.|/|\bto\b)\s*(\S+)$")


class WindowError(ValueError):
    """Owner input that is not a window; ``reason`` is a catalog key suffix, ``values`` its fields."""

    def __init__(self, reason: str, **values: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values


def _date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise WindowError("no_such_date", text=text) from None


def parse_window(text: str) -> ReleaseWindow:
    """Read "2027-03-14", "2027-03", "2027-Q1", "early 2027", "2027" or "2027-01-10..2027-02-20".

    The label keeps the owner's wording in a canonical spelling; it is shown next to the
    dates, which Discord renders in each reader's own language and time zone.
    """
    raw = " ".join(clean_text(text).split())
    try:
        return _parse_window(raw)
    except WindowError:
        raise
    except ValueError:  # a date the calendar does not have, such as year 0
        raise WindowError("no_such_date", text=raw) from None


def _parse_window(raw: str) -> ReleaseWindow:
    lowered = raw.lower()
    if not lowered:
        raise WindowError("empty")
    if match := _RANGE.match(lowered):
        start = _single_date(match.group(1))
        end = _single_date(match.group(2))
        if end < start:
            raise WindowError("end_before_start", start=start, end=end)
        precision = classify_span(start, end)
        if not spans_exactly(precision, start, end):  # a season longer than the rule allows
            raise WindowError("too_wide", days=Counted("units.days", MAX_SEASON_DAYS))
        return ReleaseWindow(precision, start, end, f"{start.isoformat()}..{end.isoformat()}")
    if match := _DAY.match(lowered):
        day = _single_date(lowered)
        return ReleaseWindow("day", day, day, day.isoformat())
    if match := _MONTH.match(lowered):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise WindowError("no_such_date", text=raw)
        return ReleaseWindow("month", dt.date(year, month, 1), month_end(year, month), f"{year}-{month:02d}")
    if match := _QUARTER.match(lowered):
        year = int(match.group(1) or match.group(4))
        quarter = int(match.group(2) or match.group(3))
        start, end = quarter_window(year, quarter)
        return ReleaseWindow("quarter", start, end, f"{year}-Q{quarter}")
    if match := _SEASON.match(lowered):
        name, year = match.group(1), int(match.group(2))
        if name not in SEASONS:
            raise WindowError("unknown_season", name=name, known=", ".join(SEASONS))
        (m1, d1), (m2, d2) = SEASONS[name]
        return ReleaseWindow("season", dt.date(year, m1, d1), dt.date(year, m2, d2), f"{name} {year}")
    if match := _YEAR.match(lowered):
        year = int(match.group(1))
        return ReleaseWindow("year", dt.date(year, 1, 1), dt.date(year, 12, 31), str(year))
    raise WindowError("unreadable", text=raw)


def _single_date(text: str) -> dt.date:
    match = _DAY.match(text)
    if match is None:
        raise WindowError("unreadable", text=text)
    return _date(int(match.group(1)), int(match.group(2)), int(match.group(3)), text)


def bounds_are_reading(window: ReleaseWindow) -> bool:
    """Whether the window's start and end are the bot's reading of words ("early 2027").

    A season window given by name has no published bounds; an explicit span
    ("2027-01-10..2027-02-20") and every other precision are exactly what was given.
    """
    return window.precision == "season" and ".." not in window.label


def check_owner_window(window: ReleaseWindow, today: dt.date) -> None:
    """An owner's update must still lie ahead (or include today); a past window is a typo."""
    if window.end < today:
        raise WindowError("in_the_past", end=window.end, today=today)
