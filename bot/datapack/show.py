"""``show.toml``: the pack's version, the show, where to watch it, and the bot's texts about it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints

from bot.datapack.base import PackModel, SourceRef, Text, Translated


class PackInfo(Translated):
    """Version of the pack and the date its facts are current as of."""

    TRANSLATED = ("note",)

    version: int = Field(ge=1)
    as_of: dt.date
    note: Text | None = None


class ShowInfo(Translated):
    """The show itself: titles, creators, setting."""

    TRANSLATED = ("title", "writer", "webtoon_author", "director", "setting", "genre")

    title: Text
    title_hangul: Text | None = None
    title_sources: tuple[SourceRef, ...] = Field(min_length=1)
    writer: Text
    webtoon_author: Text = Field(description="The author of the original webtoon.")
    director: Text
    creators_source: SourceRef
    setting: Text
    genre: Text
    source: SourceRef


class Platform(Translated):
    """Where to watch; the bot only repeats these facts, it never guesses availability."""

    TRANSLATED = ("name", "episode_length")

    name: Text
    exclusive: bool
    many_countries: bool = Field(description='"available in many countries", as the source says.')
    subtitles_and_dubbing: bool
    episode_length: Text
    season_1_available: bool
    source: SourceRef


class BotText(Translated):
    """User-facing bot texts that mention the show, kept out of the Python code."""

    TRANSLATED = ("description", "about", "spoiler_notice", "disclaimer")

    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]
    about: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    spoiler_notice: Text
    disclaimer: Text


class ShowMeta(PackModel):
    """Everything in ``show.toml``."""

    pack: PackInfo
    show: ShowInfo
    platform: Platform
    bot: BotText
