"""Typed text quoted back by the real bot renders as typed: a timestamp, a channel or a command
someone writes into a poll stays text, in the private answer and in the poll everyone sees."""

from __future__ import annotations

import re
from typing import Any

from tests.support.harness import Harness
from tests.support.usertext import live_markup


def shown_text(message: dict[str, Any]) -> list[str]:
    """Every text of a message Discord renders markdown in: content, embed titles, descriptions, fields."""
    texts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        texts += [embed.get("title") or "", embed.get("description") or ""]
        texts += [part for field in embed.get("fields") or [] for part in (field["name"], field["value"])]
    return texts


def unescaped(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


async def test_a_poll_quotes_typed_timestamps_channels_and_commands_back_as_typed(harness: Harness) -> None:
    h = harness
    typed = f"<t:1767225600:R> <#{h.general.id}> </poll close:1>"
    assert len(live_markup(typed)) == 3, "each would render on Discord as typed"

    refused = await h.slash(h.member, h.general, "poll create", question="When?", options=f"{typed} | {typed}")
    assert refused.ephemeral
    assert "Option 2" in refused.content
    assert live_markup(refused.content) == [], refused.content
    assert typed in unescaped(refused.content), "quoted as the person typed it"

    created = await h.slash(h.member, h.general, "poll create", question=f"When? {typed}", options=f"{typed} | Never")
    assert await created.wait_followups()
    poll = h.fake.channel_messages(h.general.id)[-1]
    texts = shown_text(poll)
    assert any(typed in unescaped(text) for text in texts), texts
    rendered = {markup for text in texts for markup in live_markup(text)}
    assert not rendered & set(live_markup(typed)), rendered  # the creator's mention is the bot's own
