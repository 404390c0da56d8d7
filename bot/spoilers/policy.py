"""Where spoilers are shown openly: decided from plain ids, no Discord objects.

A moderator lists channels and categories per guild. A category covers every
channel in it, a thread follows its parent channel and a forum post its forum,
so a place is open when its own id, its parent's or its category's is listed.

Discord has spoiler channels of its own (July 2026): a channel whose ``flags`` carry
``IS_SPOILER_CHANNEL``, whose content members opt in to see. Such a channel, and the
threads and forum posts under it, is open too, for as long as the flag is set. Discord
ignores the flag on an age-restricted (NSFW) channel, and so does the bot.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

#: What a channel is, as far as the spoiler settings care.
ChannelKind = Literal["text", "news", "forum", "media", "category", "thread", "voice", "stage", "other"]

#: Kinds a moderator may list: places with text, and categories that hold them.
CONFIGURABLE_KINDS: frozenset[ChannelKind] = frozenset({"text", "news", "forum", "media", "category"})

#: How many channels and categories one guild may list (the list must fit one message).
MAX_SPOILER_CHANNELS = 50

#: The channel flag of Discord's native spoiler channels (discord-api-docs #8465); discord.py
#: 2.7.1's ChannelFlags does not name it yet, so the raw value is read.
IS_SPOILER_CHANNEL = 1 << 21


@dataclass(frozen=True, slots=True)
class ChannelPlace:
    """Where a message goes: the channel (or thread), its parent and its category, by id."""

    channel_id: int | None
    parent_id: int | None = None
    category_id: int | None = None
    #: The place (or the channel a thread or post is under) is a spoiler channel in Discord.
    marked_in_discord: bool = False

    def ids(self) -> tuple[int, ...]:
        return tuple(i for i in (self.channel_id, self.parent_id, self.category_id) if i is not None)


def shows_spoilers_openly(place: ChannelPlace, spoiler_channel_ids: Collection[int]) -> bool:
    """True when the place is a spoiler channel in Discord, or it, its parent channel or its
    category is a listed spoiler channel."""
    return place.marked_in_discord or any(channel_id in spoiler_channel_ids for channel_id in place.ids())


def is_discord_spoiler_channel(flags: int, *, nsfw: bool) -> bool:
    """A channel's raw ``flags`` carry IS_SPOILER_CHANNEL, on a channel that is not NSFW."""
    return bool(flags & IS_SPOILER_CHANNEL) and not nsfw


def refusal_for_kind(kind: ChannelKind) -> str | None:
    """The catalog key explaining why this kind cannot be listed, or None when it can."""
    if kind in CONFIGURABLE_KINDS:
        return None
    if kind == "thread":
        return "spoilers.settings.thread_refused"
    return "spoilers.settings.kind_refused"
