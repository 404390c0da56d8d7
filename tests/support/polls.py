"""Driving polls through the harness: create, vote, read the poll message and the stored votes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.store.schema import poll_votes
from bot.store.schema import polls as polls_table
from cogs.polls.cog import PollsCog
from localdiscord.state import Channel, Member
from tests.support.harness import Harness

QUESTION = "Who returns in season 2?"

OPTIONS = "On-jo | Su-hyeok | Nam-ra"


def polls(h: Harness) -> PollsCog:
    cog = h.bot.get_cog("Polls")
    # Not isinstance: every bot start loads the extension's modules afresh.
    assert type(cog).__name__ == "PollsCog"
    return cog  # type: ignore[return-value]


async def create(
    h: Harness, member: Member | None = None, channel: Channel | None = None, **options: Any
) -> tuple[Any, dict[str, Any]]:
    """Run /poll create; returns the interaction record and the poll message."""
    channel = channel or h.general
    options = {"question": QUESTION, "options": OPTIONS, **options}
    record = await h.slash(member or h.member, channel, "poll create", **options)
    assert await record.wait_followups()
    assert record.ephemeral
    message = poll_messages(h, channel)[-1]
    return record, message


def poll_messages(h: Harness, channel: Channel) -> list[dict[str, Any]]:
    return [m for m in h.fake.channel_messages(channel.id) if vote_ids(m)]


def vote_ids(message: dict[str, Any]) -> list[str]:
    return [
        c["custom_id"]
        for row in message.get("components") or []
        for c in row.get("components") or []
        if c.get("custom_id", "").startswith("poll:vote:")
    ]


def poll_id_of(message: dict[str, Any]) -> int:
    return int(vote_ids(message)[0].split(":")[2])


def current(h: Harness, message: dict[str, Any]) -> dict[str, Any]:
    stored = h.fake.get_message(int(message["id"]))
    assert stored is not None
    return stored


async def vote(h: Harness, member: Member, message: dict[str, Any], option: int, channel: Channel | None = None) -> Any:
    record = await h.click(member, channel or h.general, current(h, message), vote_ids(message)[option])
    assert record.answered, record.rejected_callbacks
    assert record.ephemeral, record.callback
    return record


async def stored_votes(h: Harness, poll_id: int) -> set[tuple[int, int]]:
    async with h.bot.store.read() as conn:
        rows = await conn.execute(
            select(poll_votes.c.user_id, poll_votes.c.option_index).where(poll_votes.c.poll_id == poll_id)
        )
        return {(row.user_id, row.option_index) for row in rows}


async def poll_count(h: Harness) -> int:
    async with h.bot.store.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(polls_table)) or 0)


def embed_text(message: dict[str, Any]) -> str:
    parts = []
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields") or []]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)
