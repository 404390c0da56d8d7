"""Text that users type: what counts as empty, what is stripped, how it is quoted back.

Why: zero-width characters make a blank name look non-empty, right-to-left
overrides flip the rest of a reply on screen, a mention quoted back verbatim
would ping if allowed_mentions ever changed, and a quoted ``<t:…>``, ``<#…>`` or
``</…:…>`` would render as a time, a channel or a command instead of what was typed. Every feature reads typed text
through :func:`clean_text` and quotes it back through :func:`quote_user_text`.
"""

from __future__ import annotations

import unicodedata

import discord

#: Invisible characters with no place in a name, a question or a time: zero-width
#: spaces and joiners' look-alikes, the byte-order mark, and every bidi control.
_STRIPPED = dict.fromkeys(
    [
        0x200B,  # zero width space
        0x2060,  # word joiner
        0xFEFF,  # zero width no-break space (byte-order mark)
        0x180E,  # mongolian vowel separator
        0x061C,  # arabic letter mark
        0x200E,  # left-to-right mark
        0x200F,  # right-to-left mark
        *range(0x202A, 0x202F),  # embeddings and overrides, LRE..RLO
        *range(0x2066, 0x206A),  # isolates, LRI..PDI
    ]
)

QUOTE_LIMIT = 60


def clean_text(text: str) -> str:
    """NFC, without invisible and bidi control characters, trimmed.

    Zero-width joiners stay: emoji sequences and several scripts need them.
    """
    return unicodedata.normalize("NFC", text).translate(_STRIPPED).strip()


def is_blank(text: str) -> bool:
    """True when nothing visible is left: only spaces and format characters."""
    return not any(not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Zs", "Zl", "Zp") for ch in text)


def fold_key(text: str) -> str:
    """A comparison key: two texts that look the same on screen get the same key."""
    visible = "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")
    return " ".join(visible.casefold().split())


def quote_user_text(text: str, *, limit: int = QUOTE_LIMIT) -> str:
    """Typed text as the bot may quote it: one line, short, no controls, markdown and mentions inert.

    Every ``<`` is escaped (``\\<`` shows as ``<`` in Discord), so nothing in angle brackets
    renders: no timestamp ``<t:…>``, channel ``<#…>``, command ``</…:…>``, emoji or mention.
    """
    one_line = " ".join(clean_text(text).split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 1].rstrip() + "…"
    escaped = discord.utils.escape_markdown(one_line).replace("<", "\\<")
    return discord.utils.escape_mentions(escaped)
