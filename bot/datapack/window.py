"""Release windows: the one rule for what a window is, shared by the pack and ``/release update``.

A countdown to an unconfirmed date has to count to *something*; a window keeps the
uncertainty explicit (start and end dates plus its precision) instead of pretending to
know the day. The data pack's ``[window]`` and an owner's typed window are held to the
same rule here, so a window one of them accepts the other never refuses.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Literal

Precision = Literal["day", "month", "quarter", "season", "year"]
Confidence = Literal["confirmed", "estimated", "rumored"]

#: The widest "season" window ("spring", "early", or an explicit span): about four months.
MAX_SEASON_DAYS = 123


@dataclass(frozen=True, slots=True)
class ReleaseWindow:
    """When the awaited thing should arrive, as an inclusive span of calendar days."""

    precision: Precision
    start: dt.date
    end: dt.date
    label: str

    @property
    def is_single_day(self) -> bool:
        return self.start == self.end


def month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def quarter_window(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    first_month = 3 * (quarter - 1) + 1
    return dt.date(year, first_month, 1), month_end(year, first_month + 2)


def spans_exactly(precision: Precision, start: dt.date, end: dt.date) -> bool:
    """Whether ``start..end`` is exactly one ``precision`` (a season: any span up to the limit)."""
    if precision == "day":
        return start == end
    if precision == "month":
        return start.day == 1 and end == month_end(start.year, start.month)
    if precision == "quarter":
        return (
            start.day == 1
            and start.month in (1, 4, 7, 10)
            and (start, end) == quarter_window(start.year, (start.month - 1) // 3 + 1)
        )
    if precision == "year":
        return (start.month, start.day, end.month, end.day) == (1, 1, 12, 31) and start.year == end.year
    return (end - start).days <= MAX_SEASON_DAYS


def classify_span(start: dt.date, end: dt.date) -> Precision:
    """The narrowest precision an explicit ``start..end`` span is exactly (else a season)."""
    narrow: tuple[Precision, ...] = ("day", "month", "quarter", "year")
    return next((precision for precision in narrow if spans_exactly(precision, start, end)), "season")


def check_aligned(precision: Precision, start: dt.date, end: dt.date) -> None:
    """A window's dates must match its precision, so "early 2027" can't silently drift."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if not spans_exactly(precision, start, end):
        raise ValueError(f"{start}..{end} is not a single {precision}")
