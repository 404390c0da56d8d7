"""The one spoiler renderer: escape, wrap in ``||…||``, label, truncate with balanced bars.

Pure string work, no Discord objects, so the property tests can throw any text at it.
Why the escaping is this strict: Discord finds a spoiler's end with a plain
non-greedy ``||(.+?)||`` that knows nothing about backslashes or code spans, and
markdown in data-pack or user text (``|``, backticks, ``[links](…)``, URLs that
unfurl into embeds, headings at a line start) could otherwise close the spoiler
early, open a new one, or show the text somewhere bars cannot hide it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import discord

from bot.i18n import t

#: Discord's limits for the places spoiler text goes.
MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
FIELD_VALUE_LIMIT = 1024
FIELD_NAME_LIMIT = 256
#: Labels are shown openly next to the bars; a label longer than this is cut.
LABEL_LIMIT = 100

BARS = "||"
ELLIPSIS = "…"
#: Invisible separator put between a ``|`` of the text and the bars around it.
ZERO_WIDTH_SPACE = "\u200b"

# Every character with a markdown meaning in Discord, escaped wherever it appears:
# emphasis and code (* _ ~ ` |), quotes and headings (> #), lists and subtext (- +),
# links, masked links and mentions ([ ] ( ) < @), and ":" so neither URLs
# ("https\://…" does not autolink) nor emoji shortcodes come to life.
_MARKDOWN_CHARS = frozenset("\\*_~`|><#-+[]():@")
_ORDERED_LIST = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
_LINE_ENDINGS = re.compile(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]")


class LabelledText(Protocol):
    """A spoiler fact as the data pack models it: an open label and a hidden text."""

    @property
    def label(self) -> str: ...

    @property
    def text(self) -> str: ...

    def tr(self, field: str, locale: discord.Locale | str | None, /) -> Any:
        """``label`` or ``text`` in the reader's language (see bot.datapack.Translated)."""


def escape_markdown_strict(text: str) -> str:
    """Text that Discord shows literally: every markdown character is backslash-escaped.

    The result never starts or ends with ``|``, so it cannot merge with bars placed
    right next to it into a ``||`` that opens or closes a spoiler.
    """
    text = _LINE_ENDINGS.sub("\n", text)
    escaped = "".join(f"\\{ch}" if ch in _MARKDOWN_CHARS else ch for ch in text)
    escaped = _ORDERED_LIST.sub(r"\1\\.", escaped)
    return _pad_pipes(escaped)


def _pad_pipes(escaped: str) -> str:
    if escaped.startswith("\\|"):
        escaped = ZERO_WIDTH_SPACE + escaped
    if escaped.endswith("|"):
        escaped += ZERO_WIDTH_SPACE
    return escaped


def _units(escaped: str) -> list[str]:
    """Split escaped text into units that must stay whole: ``\\x`` pairs and single characters."""
    units: list[str] = []
    index = 0
    while index < len(escaped):
        step = 2 if escaped[index] == "\\" and index + 1 < len(escaped) else 1
        units.append(escaped[index : index + step])
        index += step
    return units


def truncate_escaped(escaped: str, limit: int) -> str:
    """Cut escaped text to ``limit`` characters without splitting an escape, ending with "…".

    Returns the text unchanged when it fits. The result is padded like
    :func:`escape_markdown_strict` output, so it is still safe next to bars.
    """
    if len(escaped) <= limit:
        return escaped
    if limit < len(ELLIPSIS):
        return ""
    budget = limit - len(ELLIPSIS) - len(ZERO_WIDTH_SPACE)  # room for a pad after a trailing "|"
    kept: list[str] = []
    used = 0
    for unit in _units(escaped):
        if used + len(unit) > budget:
            break
        kept.append(unit)
        used += len(unit)
    cut = "".join(kept).rstrip()
    if cut.endswith("|"):
        cut += ZERO_WIDTH_SPACE
    return cut + ELLIPSIS


def wrap_spoiler(text: str, *, limit: int = MESSAGE_LIMIT) -> str:
    """``||text||`` with the text escaped and cut so the whole stays within ``limit``."""
    escaped = escape_markdown_strict(text) or ZERO_WIDTH_SPACE
    return BARS + truncate_escaped(escaped, max(limit - 2 * len(BARS), 1)) + BARS


def render_label(label: str) -> str:
    """A label as shown openly: escaped and short."""
    return truncate_escaped(escape_markdown_strict(" ".join(label.split())), LABEL_LIMIT)


def render_open_text(text: str, *, limit: int = MESSAGE_LIMIT) -> str:
    """Text shown without bars (spoiler channels, private reveals): escaped and cut to ``limit``."""
    return truncate_escaped(escape_markdown_strict(text), limit)


def render_spoiler(
    label: str,
    text: str,
    *,
    openly: bool,
    locale: discord.Locale | str | None,
    limit: int = MESSAGE_LIMIT,
) -> str:
    """One spoiler fact as a line: "Spoiler, <label>: ||text||", or "<label>: text" openly.

    ``limit`` is the room the line may take (2000 in a message, 4096 in an embed
    description, 1024 in a field value); the text is cut, never the bars.
    """
    key, slot = ("spoilers.fact_open", "text") if openly else ("spoilers.fact_hidden", "spoiler")
    least_room = 1 if openly else 2 * len(BARS) + 1
    shown_label = fit_label(label, openly=openly, locale=locale, limit=limit)
    room = max(limit - len(t(key, locale, label=shown_label, **{slot: ""})), least_room)
    body = render_open_text(text, limit=room) if openly else wrap_spoiler(text, limit=room)
    return t(key, locale, label=shown_label, **{slot: body})


def fit_label(label: str, *, openly: bool, locale: discord.Locale | str | None, limit: int) -> str:
    """The label as shown in a line of at most ``limit``: a long label in a small space gives way."""
    key, slot = ("spoilers.fact_open", "text") if openly else ("spoilers.fact_hidden", "spoiler")
    least_room = 1 if openly else 2 * len(BARS) + 1
    shown_label = render_label(label)
    room = limit - len(t(key, locale, label=shown_label, **{slot: ""}))
    if room >= least_room:
        return shown_label
    return truncate_escaped(shown_label, max(len(shown_label) - (least_room - room), 0))


def render_fact(
    fact: LabelledText, *, openly: bool, locale: discord.Locale | str | None, limit: int = MESSAGE_LIMIT
) -> str:
    """:func:`render_spoiler` for a data-pack spoiler fact, in the reader's language when the pack has it."""
    return render_spoiler(fact.tr("label", locale), fact.tr("text", locale), openly=openly, locale=locale, limit=limit)


@dataclass(frozen=True, slots=True)
class EmbedField:
    """An embed field ready for ``Embed.add_field``; the label is the name, the fact the value."""

    name: str
    value: str
    inline: bool = False


def spoiler_field(label: str, text: str, *, openly: bool, locale: discord.Locale | str | None) -> EmbedField:
    """A field whose name is the open label and whose value is the (hidden) text.

    Field names cannot hide anything, so only the label goes there.
    """
    if openly:
        name = render_label(label)
        value = render_open_text(text, limit=FIELD_VALUE_LIMIT)
    else:
        name = t("spoilers.field_hidden", locale, label=render_label(label))
        value = wrap_spoiler(text, limit=FIELD_VALUE_LIMIT)
    return EmbedField(name=name[:FIELD_NAME_LIMIT], value=value)


def join_lines_within(lines: list[str], limit: int, *, more: Callable[[int], str] | None) -> str:
    """Join as many whole lines as fit in ``limit``; the rest become one ``more`` line.

        Cutting between lines, never inside one, keeps every line's bars balanced, so
        render each line with a ``limit`` no larger than this one. ``more(count)`` says how
    many were dropped (None: drop them silently).
    """
    for count in range(len(lines), -1, -1):
        dropped = len(lines) - count
        joined = "\n".join([*lines[:count], *([more(dropped)] if dropped and more else [])])
        if len(joined) <= limit:
            return joined
    return ""
