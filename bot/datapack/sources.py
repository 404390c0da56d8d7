"""``sources.toml``: where facts come from, and the spoiler fact every feature hides alike."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from bot.datapack.base import IdentifiedModel, ShortLabel, SourceRef, Text, Translated, Url

SourceKind = Literal["article", "official", "reference"]


class Source(IdentifiedModel, Translated):
    """Where facts come from; ``date`` is what the bot shows as "as of".

    The title is translated (``[source.ko]``) so a Korean reader sees what an English
    source is about; the link still leads to the original.
    """

    TRANSLATED: ClassVar[tuple[str, ...]] = ("title",)

    title: Text
    kind: SourceKind
    publisher: Text | None = None
    url: Url | None = None
    date: dt.date | None = None
    retrieved: dt.date | None = None
    note: Text | None = None


class SpoilerFact(Translated):
    """A fact that spoils something: ``label`` is shown openly, ``text`` stays hidden."""

    TRANSLATED: ClassVar[tuple[str, ...]] = ("label", "text")

    label: ShortLabel
    text: Text
    source: SourceRef
