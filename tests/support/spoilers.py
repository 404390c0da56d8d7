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


def shown_and_hidden(embeds: list[dict[str, object]]) -> tuple[str, list[str]]:
    """Across embeds (description and field values, where Discord hides ``||…||``): the text a
    reader sees without a click, and the contents of every spoiler."""
    shown: list[str] = []
    hidden: list[str] = []
    for embed in embeds:
        texts = [str(embed.get("title") or ""), str(embed.get("description") or "")]
        for field in embed.get("fields") or []:  # type: ignore[attr-defined]
            texts += [str(field["name"]), str(field["value"])]
        for text in texts:
            outside, spoilers = discord_display(text)
            shown.append(outside)
            hidden += spoilers
    return "\n".join(shown), hidden


def reveal_buttons(message: dict[str, object] | None) -> list[str]:
    """The custom ids of a message's Reveal privately buttons."""
    found: list[str] = []
    stack = list((message or {}).get("components") or [])  # type: ignore[call-overload]
    while stack:
        component = stack.pop(0)
        stack.extend(component.get("components") or [])
        if str(component.get("custom_id") or "").startswith("spoiler:reveal:"):
            found.append(component["custom_id"])
    return found
