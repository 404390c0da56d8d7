"""The release record: what is awaited, when, how sure, and who says so.

The record is seeded from the data pack and updated by owners; which of the two wins
is decided here (a pure rule), so restarts never undo an owner's newer information.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from bot.i18n import Counted
from bot.usertext import clean_text, is_blank
from cogs.countdown.window import Confidence, ReleaseWindow, WindowError, check_owner_window

Origin = Literal["pack", "owner"]

MAX_SOURCE_LENGTH = 300
_URL = re.compile(r"^https?://[^\s<>]+\.[^\s<>]+$")


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    """One version of the record; the store keeps every version as history."""

    awaited: str
    window: ReleaseWindow
    confidence: Confidence
    source_title: str | None
    source_url: str | None
    source_date: dt.date
    origin: Origin
    recorded_at: dt.datetime
    changed_by: int | None = None
    id: int = 0

    def same_claim(self, other: ReleaseRecord) -> bool:
        """Equal in everything a reader sees about the date (not who recorded it when)."""
        return (
            self.awaited,
            self.window,
            self.confidence,
            self.source_title,
            self.source_url,
            self.source_date,
        ) == (
            other.awaited,
            other.window,
            other.confidence,
            other.source_title,
            other.source_url,
            other.source_date,
        )

    @property
    def release_day(self) -> dt.date | None:
        """The day the season is out, once Netflix has confirmed a single day."""
        if self.window.is_single_day and self.confidence == "confirmed":
            return self.window.start
        return None


def pack_replaces(current: ReleaseRecord | None, candidate: ReleaseRecord) -> bool:
    """Whether the data pack's entry becomes the current record.

    An owner's update stays until the pack cites a newer source; an earlier pack entry
    is simply superseded by the pack's new wording.
    """
    if current is None:
        return True
    if current.same_claim(candidate):
        return False
    if current.origin == "pack":
        return True
    return candidate.source_date > current.source_date


def split_source(text: str) -> tuple[str | None, str | None]:
    """An owner's source is a URL or a short text: ``(title, url)`` with one of them set."""
    cleaned = " ".join(clean_text(text).split())
    if is_blank(cleaned):
        raise WindowError("source_missing")
    if len(cleaned) > MAX_SOURCE_LENGTH:
        raise WindowError("source_too_long", limit=Counted("units.characters", MAX_SOURCE_LENGTH))
    if cleaned.lower().startswith(("http://", "https://")):
        if _URL.match(cleaned) is None:
            raise WindowError("source_bad_url", text=cleaned)
        return None, cleaned
    return cleaned, None


def check_owner_update(window: ReleaseWindow, source_date: dt.date, today: dt.date) -> None:
    """Refuse a window that lies in the past and a source dated in the future."""
    check_owner_window(window, today)
    if source_date > today:
        raise WindowError("source_in_future", date=source_date)
