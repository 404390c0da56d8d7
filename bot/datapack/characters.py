"""``characters.toml``: who is who, their fates (spoiler facts) and whether they return."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from bot.datapack.base import IdentifiedModel, ShortLabel, SourceRef, Text, Translated
from bot.datapack.sources import SpoilerFact
from bot.i18n import Locale, language_of

Role = Literal["student", "teacher", "parent", "officer", "soldier", "intelligence", "other", "article_only"]
Group = Literal["students", "teachers", "others", "season_2"]
#: The roster section of characters new in season 2, whatever their role.
NEW_IN_SEASON_2: Group = "season_2"
ReturnState = Literal["confirmed", "expected", "unknown"]
FateStatus = Literal["survived", "did_not_survive", "unclear"]


class Fate(SpoilerFact):
    """What happens to a character by the end of the series or the webtoon (always a spoiler)."""

    status: FateStatus


class ReturnStatus(Translated):
    """Whether a character is back in season 2, and who says so.

    A return answers a season 1 fate (back means alive, or an open fate settled), so
    for a character whose season 1 fate is a spoiler the status is one too: ``label``
    says what it spoils and the status with its note is hidden like any spoiler fact.
    """

    TRANSLATED = ("note", "label")

    status: ReturnState
    #: Every status, "unknown" too, is as of a source: "unknown as of the cast announcement".
    source: SourceRef
    note: Text | None = None
    label: ShortLabel | None = None


class ReturnSpoiler(Translated):
    """A season 2 status that spoils season 1: the hidden text is the note (or the bare status)."""

    TRANSLATED = ("label", "note")

    label: ShortLabel
    status: ReturnState
    note: Text | None = None

    @property
    def text(self) -> str:
        return self.note or self.status

    def tr(self, field: str, locale: Locale) -> Any:
        if field == "text":
            return super().tr("note", locale) or self.status
        return super().tr(field, locale)


#: The language of the pack's ``hangul`` and ``actor_hangul`` fields.
HANGUL_LANGUAGE = "ko"


class Character(IdentifiedModel, Translated):
    """One character for lookup and the roster; fates are spoiler facts, never plain text."""

    TRANSLATED = ("description",)

    position: int = Field(default=0, ge=0, description="Order in the file; set by the loader.")
    name: Text
    hangul: Text | None = None
    aliases: tuple[Text, ...] = ()
    name_sources: tuple[SourceRef, ...] = Field(min_length=1)
    actor: Text | None = None
    actor_hangul: Text | None = None
    actor_aliases: tuple[Text, ...] = ()
    actor_sources: tuple[SourceRef, ...] = ()
    role: Role
    group: Group
    description: Text
    description_source: SourceRef
    season_2: ReturnStatus
    series_fate: Fate | None = None
    webtoon_fate: Fate | None = None
    spoilers: tuple[SpoilerFact, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Character:
        if self.actor is None and (self.actor_hangul or self.actor_aliases or self.actor_sources):
            raise ValueError("actor_hangul/actor_aliases/actor_sources given without an actor")
        if self.actor is not None and not self.actor_sources:
            raise ValueError("an actor needs actor_sources")
        for group, role in (("students", "student"), ("teachers", "teacher")):
            if self.group != NEW_IN_SEASON_2 and (self.group == group) != (self.role == role):
                raise ValueError(f'role "{self.role}" does not fit group "{self.group}"')
        if self.group == NEW_IN_SEASON_2 and self.series_fate is not None:
            raise ValueError("a character new in season 2 has no season 1 fate")
        if self.series_fate is not None and self.season_2.label is None:
            raise ValueError(
                "season_2: the season 1 fate is a spoiler, so the season 2 status is one too: give it a label"
            )
        return self

    def tr(self, field: str, locale: Locale) -> Any:
        """As :meth:`Translated.tr`; the pack's Hangul fields are the Korean ``name`` and ``actor``."""
        if language_of(locale) == HANGUL_LANGUAGE:
            if field == "name" and self.hangul:
                return self.hangul
            if field == "actor" and self.actor_hangul:
                return self.actor_hangul
        return super().tr(field, locale)

    def season_2_spoiler(self) -> ReturnSpoiler | None:
        """The season 2 status as a spoiler fact (label shown, status and note hidden), if it is one."""
        if self.season_2.label is None:
            return None
        return ReturnSpoiler(
            label=self.season_2.label,
            status=self.season_2.status,
            note=self.season_2.note,
            translations=self.season_2.translations,
        )

    def names(self) -> tuple[str, ...]:
        """Every name the character can be looked up by (name, Hangul, aliases)."""
        return (self.name, *((self.hangul,) if self.hangul else ()), *self.aliases)

    def actor_names(self) -> tuple[str, ...]:
        """Every name the actor can be looked up by."""
        if self.actor is None:
            return ()
        return (self.actor, *((self.actor_hangul,) if self.actor_hangul else ()), *self.actor_aliases)
