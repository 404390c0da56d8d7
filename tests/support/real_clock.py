"""Waiting on the real clock for what a bot process posts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from localdiscord import FakeDiscord
from localdiscord.state import Channel


def bot_posts(fake: FakeDiscord, channel: Channel) -> list[dict[str, Any]]:
    """The bot's own posts in a channel (not its answers to slash commands)."""
    return [m for m in fake.channel_messages(channel) if "interaction_metadata" not in m]


async def wait_for(condition: Callable[[], bool], until: float) -> float | None:
    """Poll until ``condition`` holds; returns the wall-clock time it first held, or None at ``until``."""
    while time.time() < until:
        if condition():
            return time.time()
        await asyncio.sleep(0.05)
    return time.time() if condition() else None
