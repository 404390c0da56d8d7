"""The countdown card: a whole-day count, Discord timestamps and honest confidence text.

Pure: takes the record, the pack's context facts and "today" (in the zone the count is
made in) and returns plain strings; the cog and the poster turn a :class:`Card` into
an embed. Dates are shown as Discord timestamps so every reader sees them in their own
time zone and language; the day count is computed here because relative timestamps
round ("in 3 months").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import discord.utils

from bot.datapack import ContextFact, Release, Source
from bot.i18n import format_month, format_quarter, format_year, t
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.slots import days_until
from cogs.countdown.window import SEASONS, Precision, ReleaseWindow, bounds_are_reading

State = Literal["upcoming", "release_day", "out", "window_open", "window_passed"]
Occasion = Literal["command", "scheduled", "milestone", "change"]

#: Date-only values are shown at noon UTC, which is the same calendar day from UTC-12 to UTC+11.
DISPLAY_HOUR_UTC = 12
MAX_CONTEXT_LINES = 6
MAX_HISTORY_LINES = 15


@dataclass(frozen=True, slots=True)
class CountdownStatus:
    """Where the wait stands on ``today``: ``days`` counts to the day or the window's start."""

    state: State
    days: int


@dataclass(frozen=True, slots=True)
class Card:
    """An embed's text, without Discord types."""

    title: str
    description: str
    fields: tuple[tuple[str, str], ...]
    footer: str


def countdown_status(record: ReleaseRecord, today: dt.date) -> CountdownStatus:
    """Only a confirmed single day can be "out"; a window (or an unconfirmed day) opens and passes."""
    window = record.window
    days = days_until(window.start, today)
    if days > 0:
        return CountdownStatus("upcoming", days)
    if record.release_day is not None:
        return CountdownStatus("release_day" if days == 0 else "out", days)
    if today <= window.end:
        return CountdownStatus("window_open", days)
    return CountdownStatus("window_passed", days)


def unix_at_display_hour(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(DISPLAY_HOUR_UTC), tzinfo=dt.UTC).timestamp())


def timestamp(day: dt.date, style: Literal["D", "R"]) -> str:
    return f"<t:{unix_at_display_hour(day)}:{style}>"


def instant_timestamp(when: dt.datetime, style: Literal["D", "R", "f", "F", "t"]) -> str:
    return f"<t:{int(when.timestamp())}:{style}>"


def date_label(day: dt.date, precision: Precision | None, locale: str | None) -> str:
    """A date as precise as it is known: a day as a Discord timestamp, else month/quarter/year."""
    if precision in (None, "day"):
        return timestamp(day, "D")
    if precision == "month":
        return format_month(day, locale)
    if precision == "quarter":
        return format_quarter(day, locale)
    return format_year(day, locale)


def days_text(days: int, locale: str | None) -> str:
    return t("units.days", locale, count=abs(days))


def pack_wording(release: Release, locale: str | None, sources: Iterable[Source] = ()) -> dict[str, str]:
    """The pack's own words for what is awaited, its window and its sources' titles, in the
    reader's language."""
    return {
        **{source.title: source.tr("title", locale) for source in sources},
        release.awaited: release.tr("awaited", locale),
        release.window.label: release.window.tr("label", locale),
    }


def window_label(window: ReleaseWindow, locale: str | None) -> str:
    """An owner's canonical label ("2027-Q1", "early 2027") as the reader's language writes it."""
    start = window.start
    if window.precision == "month" and window.label == f"{start.year}-{start.month:02d}":
        return format_month(start, locale)
    if window.precision == "quarter" and window.label == f"{start.year}-Q{(start.month - 1) // 3 + 1}":
        return format_quarter(start, locale)
    if window.precision == "year" and window.label == str(start.year):
        return format_year(start, locale)
    name, _, year = window.label.partition(" ")
    if window.precision == "season" and name in SEASONS and year == str(start.year):
        return t(f"countdown.season.{name}", locale, year=format_year(start, locale))
    return window.label


def in_language(record: ReleaseRecord, locale: str | None, wording: Mapping[str, str]) -> ReleaseRecord:
    """The record with the pack's words (``wording``) and canonical labels in the reader's language."""
    window = record.window
    label = wording.get(window.label) or window_label(window, locale)
    title = wording.get(record.source_title, record.source_title) if record.source_title else None
    return replace(
        record,
        awaited=wording.get(record.awaited, record.awaited),
        window=replace(window, label=label),
        source_title=title,
    )


def window_text(record: ReleaseRecord, locale: str | None) -> str:
    """The label next to its dates, e.g. "**2027-Q1** (1 Jan 2027 – 31 Mar 2027)".

    Where the dates are the bot's reading of words ("early 2027"), it says so: the source
    gave no such bounds.
    """
    window = record.window
    label = discord.utils.escape_markdown(window.label)
    if window.is_single_day:
        return f"{timestamp(window.start, 'D')} ({timestamp(window.start, 'R')})"
    key = "countdown.card.window_reading" if bounds_are_reading(window) else "countdown.card.window_span"
    return t(key, locale, label=label, start=timestamp(window.start, "D"), end=timestamp(window.end, "D"))


def confidence_text(record: ReleaseRecord, platform: str, locale: str | None) -> str:
    return t(f"countdown.confidence.{record.confidence}", locale, platform=platform)


def source_text(record: ReleaseRecord, locale: str | None) -> str:
    """The source as a link when there is a URL, with the date of the source."""
    title = discord.utils.escape_mentions(discord.utils.escape_markdown(record.source_title or ""))
    if record.source_url and title:
        shown = f"[{title}]({record.source_url})"
    elif record.source_url:
        shown = f"<{record.source_url}>"
    else:
        shown = title
    return t("countdown.card.source_value", locale, source=shown, date=timestamp(record.source_date, "D"))


def headline(record: ReleaseRecord, status: CountdownStatus, locale: str | None) -> str:
    awaited = discord.utils.escape_markdown(record.awaited)
    values = {"awaited": awaited, "window": window_text(record, locale), "days": days_text(status.days, locale)}
    if status.state == "upcoming":
        key = "countdown.card.upcoming_day" if record.window.is_single_day else "countdown.card.upcoming_window"
    elif status.state == "window_passed" and bounds_are_reading(record.window):
        key = "countdown.card.window_passed_reading"
    else:
        key = f"countdown.card.{status.state}"
    values["end"] = timestamp(record.window.end, "D")
    return t(key, locale, **values)


def context_lines(facts: Sequence[ContextFact], source_dates: Mapping[str, dt.date], locale: str | None) -> str:
    """Facts from the data pack: dated ones oldest first, then standing ones "as of" their source.

    A fact is only as current as its source, so an expectation says when it was expected
    and an undated fact (not on a slate, not cancelled) says as of when it held.
    """
    dated = sorted((f for f in facts if f.date is not None), key=lambda f: f.date or dt.date.min)
    undated = [f for f in facts if f.date is None and f.source in source_dates]
    lines = []
    for fact in [*dated, *undated][:MAX_CONTEXT_LINES]:
        text = discord.utils.escape_markdown(fact.tr("text", locale))
        as_of = source_dates.get(fact.source)
        if fact.confidence == "confirmed":
            suffix = ""
        elif as_of is not None:
            suffix = t(f"countdown.context.{fact.confidence}_as_of", locale, as_of=timestamp(as_of, "D"))
        else:
            suffix = t(f"countdown.context.{fact.confidence}", locale)
        if fact.date is not None:
            when = date_label(fact.date, fact.precision, locale)
        else:
            assert as_of is not None
            when = t("countdown.context.as_of", locale, date=timestamp(as_of, "D"))
        lines.append(t("countdown.context.line", locale, when=when, text=text, suffix=suffix))
    return "\n".join(lines)


def render_countdown_card(
    record: ReleaseRecord,
    *,
    today: dt.date,
    count_zone: str,
    show_title: str,
    platform: str,
    context: Sequence[ContextFact],
    source_dates: Mapping[str, dt.date],
    locale: str | None,
    occasion: Occasion = "command",
    previous: ReleaseRecord | None = None,
    wording: Mapping[str, str] | None = None,
) -> Card:
    """The countdown as anyone sees it with /countdown, and as scheduled posts show it.

    ``wording`` gives the pack's words in the reader's language (:func:`pack_wording`).
    """
    record = in_language(record, locale, wording or {})
    previous = in_language(previous, locale, wording or {}) if previous is not None else None
    status = countdown_status(record, today)
    parts = []
    if occasion == "change" and previous is not None:
        parts.append(
            t(
                "countdown.card.changed",
                locale,
                before=window_text(previous, locale),
                before_confidence=confidence_text(previous, platform, locale),
            )
        )
    if occasion == "milestone" and status.state == "upcoming":
        parts.append(t("countdown.card.milestone", locale, days=days_text(status.days, locale)))
    parts.append(headline(record, status, locale))
    fields = [
        (t("countdown.card.confidence", locale), confidence_text(record, platform, locale)),
        (t("countdown.card.source", locale), source_text(record, locale)),
        (t("countdown.card.updated", locale), instant_timestamp(record.recorded_at, "R")),
    ]
    lines = context_lines(context, source_dates, locale)
    if lines:
        fields.append((t("countdown.card.context", locale), lines[:1024]))
    return Card(
        title=t("countdown.card.title", locale, show=show_title, awaited=record.awaited),
        description="\n\n".join(parts),
        fields=tuple(fields),
        footer=t("countdown.card.footer", locale, zone=count_zone),
    )


def render_history_card(
    records: Sequence[ReleaseRecord], *, platform: str, locale: str | None, wording: Mapping[str, str] | None = None
) -> Card:
    """Newest change first, each with its window, confidence, source and origin."""
    records = [in_language(record, locale, wording or {}) for record in records]
    lines = []
    for record in records[:MAX_HISTORY_LINES]:
        lines.append(
            t(
                "countdown.history.line",
                locale,
                when=instant_timestamp(record.recorded_at, "D"),
                window=window_text(record, locale),
                confidence=confidence_text(record, platform, locale),
                source=source_text(record, locale),
                origin=t(f"countdown.history.origin_{record.origin}", locale),
            )
        )
    more = len(records) - MAX_HISTORY_LINES
    if more > 0:
        lines.append(t("countdown.history.more", locale, count=more))
    description = "\n\n".join(lines) if lines else t("countdown.history.empty", locale)
    return Card(
        title=t("countdown.history.title", locale),
        description=description[:4000],
        fields=(),
        footer=t("countdown.history.footer", locale),
    )
