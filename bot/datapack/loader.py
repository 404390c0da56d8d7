"""Reading ``data/*.toml`` into a :class:`DataPack`: every failure is ONE line naming file, entry and field."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from bot.datapack.base import DataPackError, IdentifiedModel, PackModel, name_key, one_line
from bot.datapack.characters import Character
from bot.datapack.faq import FaqEntry
from bot.datapack.pack import DataPack
from bot.datapack.release import Release
from bot.datapack.show import ShowMeta
from bot.datapack.sources import Source
from bot.datapack.survivors import Survivors

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
        raise DataPackError(f"{path}: TOML syntax error: {one_line(str(exc))}") from None


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
    message = one_line(str(first["msg"])).removeprefix("Value error, ")
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
