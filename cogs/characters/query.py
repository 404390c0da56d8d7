"""What a typed name or topic may look like (it is quoted back through bot.errors.UserError).

Why refuse instead of stripping: a name with a mention, spoiler bars or code in it is
not a name anyone meant to look up, and telling the user what to type is clearer than
silently searching for something else.
"""

from __future__ import annotations

import re
from typing import Literal

from bot.usertext import clean_text, is_blank

__all__ = ["QUERY_LIMIT", "QueryProblem", "check_query"]

QUERY_LIMIT = 100
"""A query of this many characters or more is refused; every name in the pack is far shorter."""

QueryProblem = Literal["empty", "too_long", "markup"]

# Mentions (@everyone, <@id>, <@&id>, <#id>), spoiler bars, code, emphasis, headings,
# quotes, masked links and URLs: none of them belongs in a name or a topic.
_MARKUP = re.compile(r"[@<>|`*_~#\[\]\\]|://")


def check_query(text: str) -> QueryProblem | None:
    """Why ``text`` cannot be looked up, or None when it can (zero-width characters count as nothing)."""
    if is_blank(text):
        return "empty"
    stripped = clean_text(text)
    if len(stripped) >= QUERY_LIMIT:
        return "too_long"
    if _MARKUP.search(stripped):
        return "markup"
    return None
