"""What every pack model is built from: field types, references, translations, ids.

Unknown keys are typos and loaded facts never change (:class:`PackModel`); references to
sources and characters are checked through the validation context, so a bad id is
reported at the exact field that holds it.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from bot.i18n import DEFAULT_LANGUAGE, Locale, language_of, languages


class DataPackError(Exception):
    """The pack cannot be used; the message is one line: ``file: entry: field: problem``."""


# ---------------------------------------------------------------------------
# Field types
# ---------------------------------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Any human-readable text; blank strings are always a mistake in the pack."""

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64)]
"""Ids are slugs so they are safe as database keys, custom ids and command values."""

ShortLabel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
"""Spoiler labels are shown openly next to a hidden text, so they must stay short."""

Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]


def _check_source_ref(value: str, info: ValidationInfo) -> str:
    """Reject an unknown source id while loading (context given); accept anything on read-back."""
    known = info.context.get("sources") if isinstance(info.context, dict) else None
    if known is not None and value not in known:
        raise ValueError(f'unknown source "{value}" (known: {", ".join(sorted(known))})')
    return value


def _check_character_ref(value: str, info: ValidationInfo) -> str:
    """Reject an unknown character id while loading (context given); accept anything on read-back."""
    known = info.context.get("characters") if isinstance(info.context, dict) else None
    if known is not None and value not in known:
        raise ValueError(f'unknown character "{value}"')
    return value


SourceRef = Annotated[Slug, AfterValidator(_check_source_ref)]
CharacterRef = Annotated[Slug, AfterValidator(_check_character_ref)]


def name_key(text: str) -> str:
    """Normalise a name for matching: "Cheong-san", "cheongsan" and "Cheong San" are equal.

    NFKC + casefold + letters/digits only (Hangul counts as letters), so lookups and the
    pack's own uniqueness check agree on what "the same name" means.
    """
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


class PackModel(BaseModel):
    """Base of every pack model: unknown keys are typos, and loaded facts never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def translation_languages() -> tuple[str, ...]:
    """The languages the pack may be translated into: every catalog language but English."""
    return tuple(language for language in languages() if language != DEFAULT_LANGUAGE)


class Translation(PackModel):
    """One field of an entry in one more language (``text_ko`` is field "text", language "ko")."""

    language: str
    field: str
    text: str | tuple[str, ...]


class Translated(PackModel):
    """An entry whose user-facing texts (``TRANSLATED``) may carry translations beside the English.

    In TOML the translations of an entry are a table named by the language, mirroring the
    English fields: ``[character.ko]`` with ``description = "…"`` and
    ``series_fate.label = "…"``. Each is checked like the English field it translates
    (non-blank, same length limits) and kept in ``translations`` of the model it belongs to.
    """

    TRANSLATED: ClassVar[tuple[str, ...]] = ()

    translations: tuple[Translation, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _gather_translations(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        found = list(data.pop("translations", ()) or ())
        for language in translation_languages():
            table = data.pop(language, None)
            if table is None:
                continue
            if not isinstance(table, dict):
                raise ValueError(f"{language}: expected a table of translated fields")
            for key, value in table.items():
                if key in cls.TRANSLATED:
                    found.append({"language": language, "field": key, "text": _checked(cls, key, language, value)})
                else:
                    data[key] = _push_down(data.get(key), language, key, value)
        if found:
            data["translations"] = found
        return data

    def tr(self, field: str, locale: Locale) -> Any:
        """``field`` in the reader's language when the pack has it, else the English."""
        language = language_of(locale)
        for item in self.translations:
            if item.language == language and item.field == field:
                return item.text
        return getattr(self, field)


def _checked(model: type[BaseModel], field: str, language: str, value: Any) -> Any:
    try:
        checked = _field_adapter(model, field).validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"{language}.{field}: {one_line(str(exc.errors(include_url=False)[0]['msg']))}") from None
    if checked is None:
        raise ValueError(f"{language}.{field}: give a text, or leave the translation out")
    return checked


def _push_down(english: Any, language: str, key: str, value: Any) -> Any:
    """Hand ``<language>.<key>`` to the child entry (or list of entries) it translates."""
    if isinstance(english, dict) and isinstance(value, dict):
        return {**english, language: {**english.get(language, {}), **value}}
    if isinstance(english, list) and isinstance(value, list) and len(value) == len(english):
        return [_push_down(item, language, key, sub) for item, sub in zip(english, value, strict=True)]
    if english is None:
        raise ValueError(f"{language}.{key}: translates nothing (there is no English {key})")
    raise ValueError(f"{language}.{key}: not a text that is translated")


_ADAPTERS: dict[tuple[type, str], TypeAdapter[Any]] = {}


def _field_adapter(model: type[BaseModel], field: str) -> TypeAdapter[Any]:
    """A validator for a translation: the English field's own type and constraints."""
    key = (model, field)
    if key not in _ADAPTERS:
        info = model.model_fields[field]
        annotation: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        _ADAPTERS[key] = TypeAdapter(annotation)
    return _ADAPTERS[key]


class IdentifiedModel(PackModel):
    """An entry of a ``[[table]]`` file: its ``id`` is unique in the file and is its database key."""

    id: Slug


def one_line(text: str) -> str:
    return " ".join(text.split())
