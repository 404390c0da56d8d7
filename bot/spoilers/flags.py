"""Which channels Discord itself marks as spoiler channels, read from the gateway's raw payloads.

discord.py 2.7.1 keeps a forum's ``flags`` but drops a text channel's, and its
ChannelFlags has no name for IS_SPOILER_CHANNEL yet, so the bot reads the raw value of
every channel payload that reaches it (GUILD_CREATE, CHANNEL_CREATE, CHANNEL_UPDATE)
before discord.py parses it, and forgets a channel or guild when it goes. Only marked
channels are kept: a few ids, not a copy of the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.spoilers.policy import is_discord_spoiler_channel

Parser = Callable[[Any], None]


class DiscordSpoilerChannels:
    """The marked channels the bot knows of, by id, with their guild's id."""

    def __init__(self) -> None:
        self._guild_of: dict[int, int] = {}

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._guild_of

    def in_guild(self, guild_id: int) -> set[int]:
        return {channel_id for channel_id, guild in self._guild_of.items() if guild == guild_id}

    def note(self, guild_id: int | None, channel: Mapping[str, Any]) -> None:
        """A channel payload as Discord sent it: kept when it carries the flag (and is not NSFW)."""
        try:
            channel_id = int(channel["id"])
            flags = int(channel.get("flags") or 0)
        except (KeyError, TypeError, ValueError):
            return
        if guild_id is not None and is_discord_spoiler_channel(flags, nsfw=bool(channel.get("nsfw"))):
            self._guild_of[channel_id] = guild_id
        else:
            self._guild_of.pop(channel_id, None)

    def forget_channel(self, channel_id: int) -> None:
        self._guild_of.pop(channel_id, None)

    def forget_guild(self, guild_id: int) -> None:
        for channel_id in self.in_guild(guild_id):
            del self._guild_of[channel_id]

    # -- reading the gateway ----------------------------------------------------------------

    def watch(self, parsers: dict[str, Parser]) -> None:
        """Read channel payloads before discord.py parses them (``ConnectionState.parsers``,
        the table its gateway looks every dispatch up in)."""
        for event, reader in (
            ("GUILD_CREATE", self._guild_create),
            ("GUILD_DELETE", self._guild_delete),
            ("CHANNEL_CREATE", self._channel_event),
            ("CHANNEL_UPDATE", self._channel_event),
            ("CHANNEL_DELETE", self._channel_delete),
        ):
            original = parsers.get(event)
            if original is not None:
                parsers[event] = _reading_first(reader, original)

    def _guild_create(self, data: Mapping[str, Any]) -> None:
        """The whole guild: what it lists now replaces what was known (a channel deleted or
        unmarked while the bot was away is forgotten)."""
        guild_id = _snowflake(data.get("id"))
        if guild_id is None or data.get("unavailable"):
            return
        self.forget_guild(guild_id)
        for channel in data.get("channels") or ():
            self.note(guild_id, channel)

    def _guild_delete(self, data: Mapping[str, Any]) -> None:
        guild_id = _snowflake(data.get("id"))
        if guild_id is not None and not data.get("unavailable"):
            self.forget_guild(guild_id)

    def _channel_event(self, data: Mapping[str, Any]) -> None:
        self.note(_snowflake(data.get("guild_id")), data)

    def _channel_delete(self, data: Mapping[str, Any]) -> None:
        channel_id = _snowflake(data.get("id"))
        if channel_id is not None:
            self.forget_channel(channel_id)


def _snowflake(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _reading_first(reader: Callable[[Mapping[str, Any]], None], parser: Parser) -> Parser:
    def parse(data: Any) -> None:
        if isinstance(data, Mapping):
            reader(data)
        parser(data)

    return parse
