"""Discord markup that renders, as members could type it (the quoting tests)."""

from __future__ import annotations

import re

#: What Discord renders in angle brackets: a timestamp, a channel, a command, a user or role, an emoji.
LIVE_MARKUP = re.compile(r"<t:-?\d+(?::[tTdDfFR])?>|<#\d+>|</[^<>:]+:\d+>|<@[!&]?\d+>|<a?:\w+:\d+>")


def live_markup(text: str) -> list[str]:
    """The markup in ``text`` that Discord would render: a backslash makes the next character literal."""
    return LIVE_MARKUP.findall(re.sub(r"\\.", "", text))
