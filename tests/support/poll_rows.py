"""Poll rows written straight into a store, for the store-level poll tests."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store import Store
from cogs.polls import repo
from cogs.polls.rules import build_poll_spec

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def posted_poll(
    store: Store,
    *,
    question: str = "Who returns?",
    options: str = "a | b | c",
    max_choices: int = 1,
    duration: str | None = None,
    anonymous: bool = False,
    guild_id: int = 1,
) -> int:
    spec = build_poll_spec(
        question=question, options=options, max_choices=max_choices, duration=duration, anonymous=anonymous
    )
    poll = await repo.create_poll(store, guild_id=guild_id, channel_id=2, creator_id=3, spec=spec, now=NOW)
    await repo.attach_message(store, poll.id, 1000 + poll.id)
    return poll.id
