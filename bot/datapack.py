"""The show data pack: every show-specific fact the bot states, read from ``data/*.toml``.

Why a pack: the bot's Python holds no show-specific strings, so facts can be corrected
by editing TOML (no code change), and every fact carries the source it came from, so
the bot can say where a claim comes from and how old it is. Spoilers are modelled as
*spoiler facts* (an open label saying what is spoiled, a hidden text) so features can
never show a fate by accident.

The loader is pure (no database, no Discord): it validates everything up front and
fails with ONE line naming the file, the entry and the field, because the people who
edit the pack are fans editing TOML, not developers reading tracebacks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "PACK_FILES",
    "AdultNote",
    "BotText",
    "Character",
    "CharacterSpoiler",
    "ContextFact",
    "DataPack",
    "DataPackError",
    "Difference",
    "FaqEntry",
    "Fate",
    "IdentifiedModel",
    "PackInfo",
    "Platform",
    "Release",
    "ReleaseWindow",
    "ReturnSpoiler",
    "ReturnStatus",
    "ShowInfo",
    "ShowMeta",
    "Source",
    "SpoilerFact",
    "Survivors",
    "is_stale",
    "iter_spoiler_facts",
    "iter_spoiler_texts",
    "load_data_pack",
    "name_key",
    "newest_source_date",
    "referenced_sources",
]


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

Role = Literal["student", "teacher", "parent", "officer", "soldier", "other"]
Group = Literal["students", "teachers", "others"]
ReturnState = Literal["confirmed", "expected", "unknown"]
FateStatus = Literal["survived", "did_not_survive", "unclear"]
Precision = Literal["day", "month", "quarter", "season", "year"]
Confidence = Literal["confirmed", "estimated", "rumored"]
SourceKind = Literal["article", "official", "reference"]


def name_key(text: str) -> str:
    """Normalise a name for matching: "Cheong-san", "cheongsan" and "Cheong San" are equal.

    NFKC + casefold + letters/digits only (Hangul counts as letters), so lookups and the
    pack's own uniqueness check agree on what "the same name" means.
    """
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


class PackModel(BaseModel):
    """Base of every pack model: unknown keys are typos, and loaded facts never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class IdentifiedModel(PackModel):
    """An entry of a ``[[table]]`` file: its ``id`` is unique in the file and is its database key."""

    id: Slug


# ---------------------------------------------------------------------------
# Sources and spoiler facts
# ---------------------------------------------------------------------------


class Source(IdentifiedModel):
    """Where facts come from; ``date`` is what the bot shows as "as of"."""

    title: Text
    kind: SourceKind
    publisher: Text | None = None
    url: Url | None = None
    date: dt.date | None = None
    retrieved: dt.date | None = None
    note: Text | None = None


class SpoilerFact(PackModel):
    """A fact that spoils something: ``label`` is shown openly, ``text`` stays hidden."""

    label: ShortLabel
    text: Text
    source: SourceRef


class Fate(SpoilerFact):
    """What happens to a character by the end of the series or the webtoon (always a spoiler)."""

    status: FateStatus


class ReturnStatus(PackModel):
    """Whether a character is back in season 2, and who says so.

    A return answers a season 1 fate (back means alive, or an open fate settled), so
    for a character whose season 1 fate is a spoiler the status is one too: ``label``
    says what it spoils and the status with its note is hidden like any spoiler fact.
    """

    status: ReturnState
    source: SourceRef | None = None
    note: Text | None = None
    label: ShortLabel | None = None

    @model_validator(mode="after")
    def _claims_need_a_source(self) -> ReturnStatus:
        if self.status != "unknown" and self.source is None:
            raise ValueError(f'status "{self.status}" needs a source')
        return self


class ReturnSpoiler(PackModel):
    """A season 2 status that spoils season 1: the hidden text is the note (or the bare status)."""

    label: ShortLabel
    status: ReturnState
    note: Text | None = None

    @property
    def text(self) -> str:
        return self.note or self.status


# ---------------------------------------------------------------------------
# Characters
# ---------------------------------------------------------------------------


class Character(IdentifiedModel):
    """One character for lookup and the roster; fates are spoiler facts, never plain text."""

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
        if (self.group == "students") != (self.role == "student"):
            raise ValueError(f'role "{self.role}" does not fit group "{self.group}"')
        if (self.group == "teachers") != (self.role == "teacher"):
            raise ValueError(f'role "{self.role}" does not fit group "{self.group}"')
        if self.series_fate is not None and self.season_2.label is None:
            raise ValueError(
                "season_2: the season 1 fate is a spoiler, so the season 2 status is one too: give it a label"
            )
        return self

    def season_2_spoiler(self) -> ReturnSpoiler | None:
        """The season 2 status as a spoiler fact (label shown, status and note hidden), if it is one."""
        if self.season_2.label is None:
            return None
        return ReturnSpoiler(label=self.season_2.label, status=self.season_2.status, note=self.season_2.note)

    def names(self) -> tuple[str, ...]:
        """Every name the character can be looked up by (name, Hangul, aliases)."""
        return (self.name, *((self.hangul,) if self.hangul else ()), *self.aliases)

    def actor_names(self) -> tuple[str, ...]:
        """Every name the actor can be looked up by."""
        if self.actor is None:
            return ()
        return (self.actor, *((self.actor_hangul,) if self.actor_hangul else ()), *self.actor_aliases)


# ---------------------------------------------------------------------------
# FAQ
# ---------------------------------------------------------------------------


class FaqEntry(IdentifiedModel):
    """One question; for a spoiler entry only ``answer`` is hidden, so title/question stay clean."""

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


# ---------------------------------------------------------------------------
# Survivors
# ---------------------------------------------------------------------------


class CharacterSpoiler(SpoilerFact):
    """A spoiler about one character (how they survived, why their fate is unclear)."""

    character: CharacterRef


class AdultNote(PackModel):
    """What an adult did in the outbreak; a spoiler only when it reveals plot."""

    character: CharacterRef
    text: Text
    source: SourceRef
    spoiler_label: ShortLabel | None = None


class Difference(SpoilerFact):
    """One way the webtoon and the series differ; ``topic`` is a spoiler-free heading."""

    topic: ShortLabel


def _fate_status(info: ValidationInfo, which: str, character: str) -> str | None:
    characters = info.context.get("characters") if isinstance(info.context, dict) else None
    if characters is None:
        return None
    fate = getattr(characters[character], which)
    return fate.status if fate is not None else "none"


class Survivors(PackModel):
    """Who survived the series and the webtoon; lists must agree with the characters' fates."""

    series: tuple[CharacterSpoiler, ...] = Field(min_length=1)
    unclear: tuple[CharacterSpoiler, ...] = ()
    adults: tuple[AdultNote, ...] = ()
    webtoon: tuple[CharacterSpoiler, ...] = Field(min_length=1)
    differences: tuple[Difference, ...] = ()
    aftermath: tuple[SpoilerFact, ...] = ()

    @field_validator("series", "unclear", "webtoon", "adults")
    @classmethod
    def _no_duplicates(
        cls, value: tuple[CharacterSpoiler, ...] | tuple[AdultNote, ...]
    ) -> tuple[CharacterSpoiler, ...] | tuple[AdultNote, ...]:
        seen: set[str] = set()
        for entry in value:
            if entry.character in seen:
                raise ValueError(f'character "{entry.character}" is listed twice')
            seen.add(entry.character)
        return value

    @field_validator("series", "unclear", "webtoon")
    @classmethod
    def _agree_with_fates(
        cls, value: tuple[CharacterSpoiler, ...], info: ValidationInfo
    ) -> tuple[CharacterSpoiler, ...]:
        """The survivor lists and each character's fate are written twice; keep them equal."""
        characters = info.context.get("characters") if isinstance(info.context, dict) else None
        if characters is None:
            return value
        which, wanted = {
            "series": ("series_fate", "survived"),
            "unclear": ("series_fate", "unclear"),
            "webtoon": ("webtoon_fate", "survived"),
        }[str(info.field_name)]
        listed = {entry.character for entry in value}
        for entry in value:
            status = _fate_status(info, which, entry.character)
            if status != wanted:
                raise ValueError(f'"{entry.character}" is listed here but its {which} status is "{status}"')
        for cid in characters:
            if cid not in listed and _fate_status(info, which, cid) == wanted:
                raise ValueError(f'"{cid}" has {which} status "{wanted}" but is not listed here')
        return value


# ---------------------------------------------------------------------------
# Release
# ---------------------------------------------------------------------------


def _check_aligned(precision: Precision, start: dt.date, end: dt.date) -> None:
    """A window's dates must match its precision, so "early 2027" can't silently drift."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    next_day = end + dt.timedelta(days=1)
    if precision == "day":
        ok = start == end
    elif precision == "month":
        ok = start.day == 1 and next_day.day == 1 and (start.year, start.month) == (end.year, end.month)
    elif precision == "quarter":
        ok = (
            start.day == 1
            and start.month in (1, 4, 7, 10)
            and next_day.day == 1
            and next_day.month in (1, 4, 7, 10)
            and (end - start).days < 93
        )
    elif precision == "year":
        ok = (start.month, start.day, end.month, end.day) == (1, 1, 12, 31) and start.year == end.year
    else:  # a season ("spring", "early"): any span up to about four months
        ok = (end - start).days <= 123
    if not ok:
        raise ValueError(f"{start}..{end} is not a single {precision}")


class ReleaseWindow(PackModel):
    """When the awaited thing should arrive; a countdown needs both the span and how sure it is."""

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
    def _dates_sane(self) -> ReleaseWindow:
        _check_aligned(self.precision, self.start, self.end)
        return self


class ContextFact(PackModel):
    """A milestone around the release (premiere, renewal, filming), or without a date a standing
    fact (not on a slate, not cancelled) that holds as of its source's date."""

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


class Release(PackModel):
    """What fans are waiting for, the expected window and the facts around it."""

    awaited: Text
    note: Text | None = None
    window: ReleaseWindow
    context: tuple[ContextFact, ...] = ()

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


# ---------------------------------------------------------------------------
# Show meta
# ---------------------------------------------------------------------------


class PackInfo(PackModel):
    """Version of the pack and the date its facts are current as of."""

    version: int = Field(ge=1)
    as_of: dt.date
    note: Text | None = None


class ShowInfo(PackModel):
    """The show itself: titles, creators, setting."""

    title: Text
    title_hangul: Text | None = None
    title_sources: tuple[SourceRef, ...] = Field(min_length=1)
    creators_including: tuple[Text, ...] = Field(
        min_length=1, description='Creators the source names, not a complete list (it says "including").'
    )
    creators_source: SourceRef
    setting: Text
    genre: Text
    source: SourceRef


class Platform(PackModel):
    """Where to watch; the bot only repeats these facts, it never guesses availability."""

    name: Text
    exclusive: bool
    worldwide: bool
    subtitles_and_dubbing: bool
    episode_length: Text
    season_1_available: bool
    source: SourceRef


class BotText(PackModel):
    """User-facing bot texts that mention the show, kept out of the Python code."""

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


# ---------------------------------------------------------------------------
# The whole pack
# ---------------------------------------------------------------------------


class DataPack(PackModel):
    """The validated pack; ``fingerprint()`` tells whether anything changed since the last sync."""

    show: ShowMeta
    sources: tuple[Source, ...]
    characters: tuple[Character, ...]
    faq: tuple[FaqEntry, ...]
    survivors: Survivors
    release: Release

    def source(self, source_id: str) -> Source:
        """A source by id (KeyError if unknown: references were checked at load time)."""
        for item in self.sources:
            if item.id == source_id:
                return item
        raise KeyError(source_id)

    def source_dates(self) -> dict[str, dt.date]:
        """Each dated source's date by id: what a fact is "as of"."""
        return {item.id: item.date for item in self.sources if item.date is not None}

    def character(self, character_id: str) -> Character:
        """A character by id (KeyError if unknown)."""
        for item in self.characters:
            if item.id == character_id:
                return item
        raise KeyError(character_id)

    def faq_entry(self, faq_id: str) -> FaqEntry:
        """An FAQ entry by id (KeyError if unknown)."""
        for item in self.faq:
            if item.id == faq_id:
                return item
        raise KeyError(faq_id)

    def find_character(self, query: str, *, include_actors: bool = True) -> Character | None:
        """Exact match on any name, alias or Hangul (normalised with ``name_key``)."""
        key = name_key(query)
        if not key:
            return None
        for item in self.characters:
            names = item.names() + (item.actor_names() if include_actors else ())
            if key in {name_key(name) for name in names}:
                return item
        return None

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the content: equal packs give equal fingerprints."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Loader
# ---------------------------------------------------------------------------

PACK_FILES: tuple[str, ...] = (
    "sources.toml",
    "show.toml",
    "characters.toml",
    "faq.toml",
    "survivors.toml",
    "release.toml",
)
"""The files a pack consists of; any other ``*.toml`` in the directory is reported as a typo."""

M = TypeVar("M", bound=PackModel)
E = TypeVar("E", bound=IdentifiedModel)


def _read_toml(path: Path) -> dict[str, Any]:
    """Read one pack file; every failure becomes a one-line DataPackError naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataPackError(f"{path}: file is missing") from None
    except OSError as exc:
        raise DataPackError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataPackError(f"{path}: not valid UTF-8 (byte offset {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataPackError(f"{path}: TOML syntax error: {_one_line(str(exc))}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _loc_text(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _error_line(path: Path, entry: str, exc: ValidationError, raw: Any, *, whole_file: bool) -> str:
    """``file: entry: field: message`` for the first error, plus how many more there are.

    For a file that is one model (``whole_file``), an error inside one of its lists
    (survivors ``series[2]``) names that list entry by its id or character.
    """
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    if whole_file and len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int) and isinstance(raw, dict):
        items = raw.get(loc[0])
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        ident = None
        if isinstance(item, dict):
            ident = item.get("id") or item.get("character")
        entry = f'{entry} {loc[0]} "{ident}"' if isinstance(ident, str) else f"{entry} {loc[0]}[{loc[1]}]"
        loc = loc[2:]
    message = _one_line(str(first["msg"])).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    field = _loc_text(loc)
    return f"{path}: {entry}: {field + ': ' if field else ''}{message}{more}"


def _validate_list(
    path: Path, doc: dict[str, Any], table: str, model: type[E], context: dict[str, Any]
) -> tuple[E, ...]:
    """Validate a file made of ``[[table]]`` entries, each with a unique ``id``."""
    unknown = sorted(set(doc) - {table})
    if unknown:
        raise DataPackError(f'{path}: unknown top-level key "{unknown[0]}" (expected [[{table}]] entries)')
    items = doc.get(table)
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise DataPackError(f"{path}: expected one or more [[{table}]] entries")
    result: list[E] = []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        ident = raw.get("id")
        entry = f'{table} "{ident}"' if isinstance(ident, str) else f"{table} #{index + 1}"
        if "position" in model.model_fields:
            if "position" in raw:
                raise DataPackError(f"{path}: {entry}: position: set from the order in the file; remove it")
            raw = {**raw, "position": index}
        try:
            item = model.model_validate(raw, context=context)
        except ValidationError as exc:
            raise DataPackError(_error_line(path, entry, exc, raw, whole_file=False)) from None
        item_id = item.id
        if item_id in first_seen:
            raise DataPackError(f"{path}: {entry}: id: duplicate id (first used by entry #{first_seen[item_id] + 1})")
        first_seen[item_id] = index
        result.append(item)
    return tuple(result)


def _validate_single(path: Path, doc: dict[str, Any], entry: str, model: type[M], context: dict[str, Any]) -> M:
    """Validate a file that is one model as a whole (show, survivors, release)."""
    try:
        return model.model_validate(doc, context=context)
    except ValidationError as exc:
        raise DataPackError(_error_line(path, entry, exc, doc, whole_file=True)) from None


def _check_unique_names(path: Path, characters: tuple[Character, ...]) -> None:
    """Two characters sharing a name or alias would make lookups ambiguous."""
    owners: dict[str, str] = {}
    for character in characters:
        fields: list[tuple[str, str]] = [("name", character.name)]
        if character.hangul:
            fields.append(("hangul", character.hangul))
        fields += [(f"aliases[{i}]", alias) for i, alias in enumerate(character.aliases)]
        if character.actor:
            fields.append(("actor", character.actor))
        fields += [(f"actor_aliases[{i}]", alias) for i, alias in enumerate(character.actor_aliases)]
        for field, name in fields:
            key = name_key(name)
            if not key:
                raise DataPackError(f'{path}: character "{character.id}": {field}: "{name}" has no letters')
            owner = owners.setdefault(key, character.id)
            if owner != character.id:
                raise DataPackError(
                    f'{path}: character "{character.id}": {field}: "{name}" is also a name of character "{owner}"'
                )


def load_data_pack(directory: Path) -> DataPack:
    """Read and validate the pack in ``directory``; raise DataPackError (one line) on any problem.

    Order matters: sources first (everything refers to them), then characters (FAQ and
    survivors refer to them). References are checked through the validation context,
    so a bad id is reported at the exact field that holds it.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataPackError(f"{directory}: data pack directory not found")
    extra = sorted(p.name for p in directory.glob("*.toml") if p.name not in PACK_FILES)
    if extra:
        raise DataPackError(f"{directory / extra[0]}: unexpected file (a pack has only {', '.join(PACK_FILES)})")
    docs = {name: _read_toml(directory / name) for name in PACK_FILES}

    sources = _validate_list(directory / "sources.toml", docs["sources.toml"], "source", Source, {})
    context: dict[str, Any] = {"sources": {s.id: s for s in sources}}
    characters_path = directory / "characters.toml"
    characters = _validate_list(characters_path, docs["characters.toml"], "character", Character, context)
    _check_unique_names(characters_path, characters)
    context["characters"] = {c.id: c for c in characters}

    faq = _validate_list(directory / "faq.toml", docs["faq.toml"], "faq", FaqEntry, context)
    show = _validate_single(directory / "show.toml", docs["show.toml"], "show", ShowMeta, context)
    survivors = _validate_single(directory / "survivors.toml", docs["survivors.toml"], "survivors", Survivors, context)
    release = _validate_single(directory / "release.toml", docs["release.toml"], "release", Release, context)
    return DataPack(show=show, sources=sources, characters=characters, faq=faq, survivors=survivors, release=release)


def iter_spoiler_facts(pack: DataPack) -> Iterator[tuple[str, SpoilerFact | ReturnSpoiler]]:
    """Every spoiler fact in the pack with where it lives (used by checks and tests).

    FAQ answers marked as spoilers are not here: see :func:`iter_spoiler_texts`.
    """
    for character in pack.characters:
        for name in ("series_fate", "webtoon_fate"):
            fate = getattr(character, name)
            if fate is not None:
                yield f"character {character.id}.{name}", fate
        for i, fact in enumerate(character.spoilers):
            yield f"character {character.id}.spoilers[{i}]", fact
        returning = character.season_2_spoiler()
        if returning is not None:
            yield f"character {character.id}.season_2", returning
    for section in ("series", "unclear", "webtoon", "differences", "aftermath"):
        for i, fact in enumerate(getattr(pack.survivors, section)):
            yield f"survivors.{section}[{i}]", fact


def iter_spoiler_texts(pack: DataPack) -> Iterator[tuple[str, str, str]]:
    """``(where, label, hidden text)`` of everything the pack hides: spoiler facts, spoiler
    FAQ answers and adult notes that reveal plot. What tests check no reader sees openly."""
    for where, fact in iter_spoiler_facts(pack):
        yield where, fact.label, fact.text
    for entry in pack.faq:
        if entry.spoiler and entry.spoiler_label is not None:
            yield f"faq {entry.id}.answer", entry.spoiler_label, entry.answer
    for i, note in enumerate(pack.survivors.adults):
        if note.spoiler_label is not None:
            yield f"survivors.adults[{i}]", note.spoiler_label, note.text


def newest_source_date(pack: DataPack) -> dt.date | None:
    """The date of the pack's most recent dated source: how current its facts can be."""
    return max((source.date for source in pack.sources if source.date is not None), default=None)


STALE_AFTER_MONTHS = 6
"""A pack whose newest source is older than this is worth refreshing (``python -m bot check`` warns)."""


def is_stale(newest: dt.date | None, today: dt.date, *, months: int = STALE_AFTER_MONTHS) -> bool:
    """True when ``newest`` is more than ``months`` calendar months before ``today`` (or unknown)."""
    if newest is None:
        return True
    year, month = divmod(newest.month - 1 + months, 12)
    year += newest.year
    month += 1
    # The same day ``months`` later, or the month's last day when it has no such day.
    day = min(newest.day, _days_in_month(year, month))
    return today > dt.date(year, month, day)


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def referenced_sources(value: Any) -> Iterator[str]:
    """All source ids a model (or nested value) refers to, found by field name.

    A structural walk, independent of the validators, so tests can cross-check that no
    reference escaped validation.
    """
    if isinstance(value, BaseModel):
        for field_name in type(value).model_fields:
            item = getattr(value, field_name)
            if field_name in {"source", "description_source", "creators_source"} and isinstance(item, str):
                yield item
            elif field_name in {"name_sources", "actor_sources", "title_sources", "see_also"}:
                yield from item
            else:
                yield from referenced_sources(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from referenced_sources(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from referenced_sources(item)
