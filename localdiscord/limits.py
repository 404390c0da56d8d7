"""Discord's documented size limits, checked on every body the bot sends.

Discord rejects an oversized message or command with ``400 Invalid Form Body``
(code 50035) and a nested ``errors`` object naming the offending field.  The
checks here return :class:`Violation` objects; the server turns them into that
same response and into readable lines in ``FakeDiscord.violations``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]

NAME_RE = re.compile(r"^[-_\w]{1,32}$")  # \w covers \p{L}\p{N} and "_" in Python's unicode mode
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_ACTION_ROWS = 5
MAX_ROW_ITEMS = 5
MAX_V2_COMPONENTS = 40
MAX_GLOBAL_COMMANDS = 100
IS_COMPONENTS_V2 = 1 << 15


@dataclass(frozen=True)
class Violation:
    """One broken rule: where in the body, Discord's error code, and why."""

    path: Path
    code: str
    message: str

    def describe(self) -> str:
        where = ".".join(str(p) for p in self.path) or "<body>"
        return f"{where}: {self.message}"


def errors_object(violations: Iterable[Violation]) -> dict[str, Any]:
    """Nest violations into Discord's ``errors`` shape: ``{"content": {"_errors": [...]}}``."""
    root: dict[str, Any] = {}
    for v in violations:
        node = root
        for part in v.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": v.code, "message": v.message})
    return root


class _Checker:
    """Accumulates violations while walking a body."""

    def __init__(self) -> None:
        self.found: list[Violation] = []

    def fail(self, path: Path, code: str, message: str) -> None:
        self.found.append(Violation(path, code, message))

    def max_len(self, path: Path, value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.fail(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length (got {len(value)}).")

    def length_between(self, path: Path, value: Any, low: int, high: int) -> None:
        if not isinstance(value, str) or not low <= len(value) <= high:
            got = len(value) if isinstance(value, str) else type(value).__name__
            self.fail(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length (got {got}).")

    def max_items(self, path: Path, value: Any, limit: int) -> None:
        if isinstance(value, list) and len(value) > limit:
            self.fail(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length (got {len(value)} items).")


# -- messages -------------------------------------------------------------------


def check_message(body: dict[str, Any] | None, *, base: Path = ()) -> list[Violation]:
    """Content, embeds and components of a message create/edit body."""
    c = _Checker()
    if not body:
        return c.found
    _message_into(c, body, base)
    return c.found


def _message_into(c: _Checker, body: dict[str, Any], base: Path) -> None:
    c.max_len((*base, "content"), body.get("content"), MAX_CONTENT)
    embeds = body.get("embeds") or []
    c.max_items((*base, "embeds"), embeds, MAX_EMBEDS)
    total = 0
    for i, embed in enumerate(embeds if isinstance(embeds, list) else []):
        total += _embed_into(c, embed, (*base, "embeds", i))
    if total > MAX_EMBED_TOTAL:
        c.fail(
            (*base, "embeds"),
            "MESSAGE_EMBEDS_TOO_LARGE",
            f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL} ({total}).",
        )
    components = body.get("components") or []
    flags = body.get("flags") or 0
    if isinstance(flags, int) and flags & IS_COMPONENTS_V2:
        count = _count_components(components)
        if count > MAX_V2_COMPONENTS:
            c.fail(
                (*base, "components"),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_V2_COMPONENTS} or fewer components (got {count}).",
            )
        for i, comp in enumerate(components):
            _component_into(c, comp, (*base, "components", i))
    else:
        c.max_items((*base, "components"), components, MAX_ACTION_ROWS)
        for i, row in enumerate(components if isinstance(components, list) else []):
            _component_into(c, row, (*base, "components", i))


def _embed_into(c: _Checker, embed: dict[str, Any], path: Path) -> int:
    """Check one embed; return its character count towards the 6000 total."""
    size = 0
    for key, limit in (("title", 256), ("description", 4096)):
        value = embed.get(key)
        c.max_len((*path, key), value, limit)
        size += len(value) if isinstance(value, str) else 0
    fields = embed.get("fields") or []
    c.max_items((*path, "fields"), fields, 25)
    for i, fld in enumerate(fields):
        name, value = fld.get("name"), fld.get("value")
        c.length_between((*path, "fields", i, "name"), name, 1, 256)
        c.length_between((*path, "fields", i, "value"), value, 1, 1024)
        size += (len(name) if isinstance(name, str) else 0) + (len(value) if isinstance(value, str) else 0)
    footer = embed.get("footer") or {}
    c.max_len((*path, "footer", "text"), footer.get("text"), 2048)
    size += len(footer.get("text") or "")
    author = embed.get("author") or {}
    c.max_len((*path, "author", "name"), author.get("name"), 256)
    size += len(author.get("name") or "")
    return size


def _count_components(components: Any) -> int:
    if not isinstance(components, list):
        return 0
    total = 0
    for comp in components:
        if isinstance(comp, dict):
            total += 1 + _count_components(comp.get("components"))
            if isinstance(comp.get("accessory"), dict):
                total += 1
    return total


def _component_into(c: _Checker, comp: dict[str, Any], path: Path) -> None:
    kind = comp.get("type")
    if kind == 1:  # action row
        children = comp.get("components") or []
        has_select = any(ch.get("type") in (3, 5, 6, 7, 8) for ch in children)
        if has_select and len(children) > 1:
            c.fail(
                (*path, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "A select menu must be alone in its action row.",
            )
        c.max_items((*path, "components"), children, MAX_ROW_ITEMS)
        for i, child in enumerate(children):
            _component_into(c, child, (*path, "components", i))
        return
    if kind == 2:  # button
        c.max_len((*path, "label"), comp.get("label"), 80)
        if comp.get("style") == 5:
            if not comp.get("url"):
                c.fail((*path, "url"), "BASE_TYPE_REQUIRED", "Link buttons need a url.")
        elif comp.get("style") != 6:
            _custom_id_into(c, comp.get("custom_id"), (*path, "custom_id"))
        return
    if kind in (3, 5, 6, 7, 8):  # selects
        _custom_id_into(c, comp.get("custom_id"), (*path, "custom_id"))
        c.max_len((*path, "placeholder"), comp.get("placeholder"), 150)
        options = comp.get("options") or []
        if kind == 3:
            if not 1 <= len(options) <= 25:
                c.fail(
                    (*path, "options"),
                    "BASE_TYPE_BAD_LENGTH",
                    f"Must be between 1 and 25 in length (got {len(options)}).",
                )
            for i, opt in enumerate(options):
                c.length_between((*path, "options", i, "label"), opt.get("label"), 1, 100)
                c.length_between((*path, "options", i, "value"), opt.get("value"), 1, 100)
                c.max_len((*path, "options", i, "description"), opt.get("description"), 100)
        return
    if kind == 4:  # text input (modals)
        _custom_id_into(c, comp.get("custom_id"), (*path, "custom_id"))
        c.max_len((*path, "label"), comp.get("label"), 45)
        c.max_len((*path, "value"), comp.get("value"), 4000)
        return
    # Components v2 containers: walk their children.
    for key in ("components",):
        for i, child in enumerate(comp.get(key) or []):
            if isinstance(child, dict):
                _component_into(c, child, (*path, key, i))
    accessory = comp.get("accessory")
    if isinstance(accessory, dict):
        _component_into(c, accessory, (*path, "accessory"))
    if kind == 10:  # text display
        c.max_len((*path, "content"), comp.get("content"), 4000)


def _custom_id_into(c: _Checker, custom_id: Any, path: Path) -> None:
    c.length_between(path, custom_id, 1, 100)


# -- interaction callbacks ---------------------------------------------------------


def check_interaction_callback(body: dict[str, Any] | None) -> list[Violation]:
    """Dispatch on callback type: messages (4/7), autocomplete (8), modal (9)."""
    c = _Checker()
    if not isinstance(body, dict):
        c.fail((), "BASE_TYPE_REQUIRED", "Callback body must be an object.")
        return c.found
    kind = body.get("type")
    data = body.get("data") or {}
    if kind in (4, 7):
        _message_into(c, data, ("data",))
    elif kind == 8:
        _choices_into(c, data.get("choices"), ("data", "choices"))
    elif kind == 9:
        _custom_id_into(c, data.get("custom_id"), ("data", "custom_id"))
        c.length_between(("data", "title"), data.get("title"), 1, 45)
        components = data.get("components") or []
        if not 1 <= len(components) <= 5:
            c.fail(
                ("data", "components"),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and 5 in length (got {len(components)}).",
            )
        for i, comp in enumerate(components):
            _component_into(c, comp, ("data", "components", i))
    elif kind not in (1, 5, 6, 10, 12):
        c.fail(("type",), "BASE_TYPE_CHOICES", f"Value must be one of (1, 4, 5, 6, 7, 8, 9, 10, 12) (got {kind!r}).")
    return c.found


def _choices_into(c: _Checker, choices: Any, path: Path) -> None:
    if not isinstance(choices, list):
        c.fail(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    c.max_items(path, choices, 25)
    for i, choice in enumerate(choices):
        c.length_between((*path, i, "name"), choice.get("name"), 1, 100)
        for locale, text in (choice.get("name_localizations") or {}).items():
            c.length_between((*path, i, "name_localizations", locale), text, 1, 100)
        value = choice.get("value")
        if isinstance(value, str):
            c.max_len((*path, i, "value"), value, 100)


# -- application commands ----------------------------------------------------------


def check_commands(commands: Sequence[dict[str, Any]] | None, *, global_: bool) -> list[Violation]:
    """A bulk overwrite body: names, descriptions, options, choices and counts."""
    c = _Checker()
    if not isinstance(commands, list):
        c.fail((), "BASE_TYPE_REQUIRED", "Body must be an array of commands.")
        return c.found
    chat_input = [cmd for cmd in commands if cmd.get("type", 1) == 1]
    if len(chat_input) > MAX_GLOBAL_COMMANDS:
        scope = "global" if global_ else "guild"
        c.fail(
            (),
            "BASE_TYPE_MAX_LENGTH",
            f"At most {MAX_GLOBAL_COMMANDS} {scope} chat input commands (got {len(chat_input)}).",
        )
    seen: set[tuple[int, str]] = set()
    for i, cmd in enumerate(commands):
        key = (int(cmd.get("type", 1)), str(cmd.get("name")))
        if key in seen:
            c.fail(
                (i, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique ({key[1]!r}).",
            )
        seen.add(key)
        _command_into(c, cmd, (i,), depth=0)
    _unique_localized_names(c, commands, ())
    return c.found


def _unique_localized_names(c: _Checker, siblings: Sequence[dict[str, Any]], path: Path) -> None:
    """In each language, the names a client shows side by side must differ, as Discord requires."""
    shown: dict[tuple[str, int, str], int] = {}
    locales = {locale for item in siblings for locale in (item.get("name_localizations") or {})}
    for i, item in enumerate(siblings):
        for locale in locales:
            name = str((item.get("name_localizations") or {}).get(locale) or item.get("name"))
            key = (locale, int(item.get("type", 1)) if not path else 0, name)
            if key in shown:
                c.fail(
                    (*path, i, "name_localizations", locale),
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS"
                    if path
                    else "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"{name!r} is used twice in {locale}.",
                )
            shown[key] = i
        options = item.get("options") or []
        if options:
            _unique_localized_names(c, options, (*path, i, "options"))


def check_command(command: dict[str, Any] | None) -> list[Violation]:
    """A single command create/edit body."""
    c = _Checker()
    if isinstance(command, dict):
        _command_into(c, command, (), depth=0)
    return c.found


def _name_into(c: _Checker, name: Any, path: Path, *, chat_input: bool) -> None:
    if chat_input:
        if not isinstance(name, str) or not NAME_RE.match(name) or name != name.lower():
            c.fail(
                path,
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name is invalid: {name!r} (1-32 lowercase letters, digits, - or _).",
            )
    else:
        c.length_between(path, name, 1, 32)


def _command_into(c: _Checker, cmd: dict[str, Any], path: Path, *, depth: int) -> None:
    kind = cmd.get("type", 1)
    chat_input = kind in (1, 2) if depth else kind == 1
    if depth == 0 and kind != 1:
        _name_into(c, cmd.get("name"), (*path, "name"), chat_input=False)
        return
    _name_into(c, cmd.get("name"), (*path, "name"), chat_input=chat_input)
    c.length_between((*path, "description"), cmd.get("description"), 1, 100)
    for locale, text in (cmd.get("name_localizations") or {}).items():
        _name_into(c, text, (*path, "name_localizations", locale), chat_input=True)
    for locale, text in (cmd.get("description_localizations") or {}).items():
        c.length_between((*path, "description_localizations", locale), text, 1, 100)
    options = cmd.get("options") or []
    c.max_items((*path, "options"), options, 25)
    seen: set[str] = set()
    required_done = False
    for i, opt in enumerate(options):
        opt_path = (*path, "options", i)
        name = opt.get("name")
        if name in seen:
            c.fail(
                (*opt_path, "name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                f"Option name {name!r} is used twice.",
            )
        seen.add(str(name))
        opt_type = opt.get("type")
        if opt_type in (1, 2):
            if depth >= 2 or (opt_type == 2 and depth >= 1):
                c.fail(
                    (*opt_path, "type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Subcommands nest at most two levels deep.",
                )
            _command_into(c, {**opt, "type": opt_type}, opt_path, depth=depth + 1)
            continue
        _name_into(c, name, (*opt_path, "name"), chat_input=True)
        c.length_between((*opt_path, "description"), opt.get("description"), 1, 100)
        for locale, text in (opt.get("name_localizations") or {}).items():
            _name_into(c, text, (*opt_path, "name_localizations", locale), chat_input=True)
        for locale, text in (opt.get("description_localizations") or {}).items():
            c.length_between((*opt_path, "description_localizations", locale), text, 1, 100)
        if opt.get("required"):
            if required_done:
                c.fail(
                    (*opt_path, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options.",
                )
        else:
            required_done = True
        choices = opt.get("choices")
        if choices:
            c.max_items((*opt_path, "choices"), choices, 25)
            if opt.get("autocomplete"):
                c.fail(
                    (*opt_path, "autocomplete"),
                    "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                    "Autocomplete cannot be set with choices.",
                )
            _choices_into(c, choices, (*opt_path, "choices"))
