"""Driving the countdown through the harness: schedule posts, run the scheduler, read posts."""

from __future__ import annotations

import datetime as dt
from typing import Any


async def tick(h: Any, advance: dt.timedelta | None = None) -> None:
    await h.run_scheduler(advance)


def messages(h: Any, channel: Any) -> list[dict[str, Any]]:
    """The bot's own posts in a channel (not its answers to slash commands)."""
    return [m for m in h.fake.channel_messages(channel) if "interaction_metadata" not in m]


def text_of(message: dict[str, Any]) -> str:
    embed = message["embeds"][0]
    fields = " ".join(f"{f['name']}: {f['value']}" for f in embed.get("fields", []))
    return f"{embed.get('title', '')} {embed.get('description', '')} {fields}"


async def set_daily(h: Any, time: str = "13:00", **options: Any) -> Any:
    values = {"channel": h.general, "time": time, "timezone": "UTC", "cadence": "daily", "mode": "post"}
    values.update(options)
    rec = await h.slash(h.moderator, h.general, "settings countdown set", **values)
    assert rec.ephemeral, rec.content
    return rec
