"""``faq.toml``: questions and answers, an answer hidden when it spoils."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from bot.datapack.base import CharacterRef, IdentifiedModel, ShortLabel, SourceRef, Text, Translated


class FaqEntry(IdentifiedModel, Translated):
    """One question; for a spoiler entry only ``answer`` is hidden, so title/question stay clean."""

    TRANSLATED = ("title", "question", "keywords", "answer", "spoiler_label")

    position: int = Field(default=0, ge=0, description="Order in the file; set by the loader.")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    question: Text
    keywords: tuple[Text, ...] = ()
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    spoiler: bool = False
    spoiler_label: ShortLabel | None = None
    source: SourceRef
    see_also: tuple[SourceRef, ...] = ()
    characters: tuple[CharacterRef, ...] = ()

    @model_validator(mode="after")
    def _label_iff_spoiler(self) -> FaqEntry:
        if self.spoiler and self.spoiler_label is None:
            raise ValueError("a spoiler entry needs a spoiler_label")
        if not self.spoiler and self.spoiler_label is not None:
            raise ValueError("spoiler_label given but spoiler is false")
        return self
