"""What Discord's client shows of a message without a click: spoiler bars closed."""

from __future__ import annotations

import re

_ESCAPE = re.compile(r"\\([^0-9A-Za-z\s])")

_CODE = re.compile(r"(`+)([\s\S]*?[^`])\1(?!`)")

_SPOILER = re.compile(r"\|\|([\s\S]+?)\|\|")


def discord_display(markdown: str) -> tuple[str, list[str]]:
    """(what is shown openly, the raw contents of each spoiler), read left to right."""
    shown: list[str] = []
    spoilers: list[str] = []
    index = 0
    while index < len(markdown):
        for rule in (_ESCAPE, _CODE, _SPOILER):
            match = rule.match(markdown, index)
            if match:
                break
        if match is None:
            shown.append(markdown[index])
            index += 1
            continue
        if rule is _SPOILER:
            spoilers.append(match.group(1))
        else:
            shown.append(match.group(match.lastindex or 0))
        index = match.end()
    return "".join(shown), spoilers
