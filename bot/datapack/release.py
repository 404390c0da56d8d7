"""``release.toml``: what fans are waiting for, when (a window) and the facts around it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator, model_validator

from bot.datapack.base import PackModel, ShortLabel, Slug, SourceRef, Text, Translated
from bot.datapack.window import Confidence, Precision, check_aligned


class SourcedWindow(Translated):
    """The pack's release window: the span (held to the rule of :mod:`bot.datapack.window`),
    how sure it is and who says so, because a countdown needs all three."""

    TRANSLATED = ("label",)

    precision: Precision
    start: dt.date
    end: dt.date
    label: ShortLabel
    confidence: Confidence
    source: SourceRef
    source_date: dt.date

    @field_validator("source_date")
    @classmethod
    def _matches_source(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        sources = info.context.get("sources") if isinstance(info.context, dict) else None
        source_id = info.data.get("source")
        if sources is not None and source_id in sources:
            known = sources[source_id].date
            if known is not None and known != value:
                raise ValueError(f'{value} differs from the date of source "{source_id}" ({known})')
        return value

    @model_validator(mode="after")
    def _dates_sane(self) -> SourcedWindow:
        check_aligned(self.precision, self.start, self.end)
        return self


class ContextFact(Translated):
    """A milestone around the release (premiere, renewal, filming), or without a date a standing
    fact (not on a slate, not cancelled) that holds as of its source's date."""

    TRANSLATED = ("text",)

    id: Slug
    text: Text
    date: dt.date | None = None
    precision: Precision | None = None
    confidence: Confidence
    source: SourceRef

    @model_validator(mode="after")
    def _date_and_precision(self) -> ContextFact:
        if (self.date is None) != (self.precision is None):
            raise ValueError("date and precision go together")
        if self.date is not None and self.precision in ("month", "quarter", "year") and self.date.day != 1:
            raise ValueError(f"a {self.precision}-precision date is written as its first day")
        return self


class PremiereTime(PackModel):
    """The time of day a release comes out, in its own zone, and who says so: the premiere
    event starts then. Without it the bot makes no event (it never guesses a time)."""

    time: dt.time
    zone: Text
    source: SourceRef

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone "{value}"') from None
        return value

    def on(self, day: dt.date) -> dt.datetime:
        """The premiere's instant (UTC) on ``day``."""
        return dt.datetime.combine(day, self.time, ZoneInfo(self.zone)).astimezone(dt.UTC)


class Release(Translated):
    """What fans are waiting for, the expected window and the facts around it."""

    TRANSLATED = ("awaited", "note")

    awaited: Text
    #: The number of the awaited season (the release watch asks TVmaze about this one).
    season: int | None = Field(default=None, ge=1, le=100)
    note: Text | None = None
    window: SourcedWindow
    context: tuple[ContextFact, ...] = ()
    premiere_time: PremiereTime | None = None

    @field_validator("context")
    @classmethod
    def _unique_ids(cls, value: tuple[ContextFact, ...]) -> tuple[ContextFact, ...]:
        ids = [item.id for item in value]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f'duplicate id "{duplicates[0]}"')
        return value

    def fact(self, fact_id: str) -> ContextFact:
        """A context fact by id; KeyError names the id when it is missing."""
        for item in self.context:
            if item.id == fact_id:
                return item
        raise KeyError(fact_id)
