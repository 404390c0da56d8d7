"""Discord's own spoiler channels as plain values: the flag, NSFW, and the ids the gateway told of."""

from __future__ import annotations

from typing import Any

from bot.spoilers.flags import DiscordSpoilerChannels
from bot.spoilers.policy import IS_SPOILER_CHANNEL, ChannelPlace, is_discord_spoiler_channel, shows_spoilers_openly

GUILD, OTHER_GUILD = 100, 200
SPOILERS, GENERAL, ADULTS, ELSEWHERE = 1, 2, 3, 4


def channel(channel_id: int, flags: int = 0, *, nsfw: bool = False, guild_id: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"id": str(channel_id), "type": 0, "flags": flags, "nsfw": nsfw}
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    return payload


def test_the_flag_counts_except_on_an_nsfw_channel_and_other_flags_do_not() -> None:
    assert is_discord_spoiler_channel(IS_SPOILER_CHANNEL, nsfw=False)
    assert is_discord_spoiler_channel(IS_SPOILER_CHANNEL | 1 << 4, nsfw=False)
    assert not is_discord_spoiler_channel(IS_SPOILER_CHANNEL, nsfw=True)
    assert not is_discord_spoiler_channel(1 << 4 | 1 << 15, nsfw=False)
    assert IS_SPOILER_CHANNEL == 2_097_152


def test_a_marked_place_is_open_whatever_the_list_says() -> None:
    assert shows_spoilers_openly(ChannelPlace(channel_id=5, marked_in_discord=True), set())
    assert not shows_spoilers_openly(ChannelPlace(channel_id=5, parent_id=6), set())
    assert shows_spoilers_openly(ChannelPlace(channel_id=5, parent_id=6), {6})


def test_the_gateway_payloads_keep_the_marked_channels_and_discord_py_still_parses_them() -> None:
    parsed: list[tuple[str, Any]] = []
    parsers = {
        event: (lambda data, event=event: parsed.append((event, data)))
        for event in ("GUILD_CREATE", "GUILD_DELETE", "CHANNEL_CREATE", "CHANNEL_UPDATE", "CHANNEL_DELETE", "READY")
    }
    ready = parsers["READY"]
    marked = DiscordSpoilerChannels()
    marked.watch(parsers)
    assert parsers["READY"] is ready, "only channel and guild events are read"

    parsers["GUILD_CREATE"](
        {
            "id": str(GUILD),
            "channels": [
                channel(SPOILERS, IS_SPOILER_CHANNEL),
                channel(GENERAL),
                channel(ADULTS, IS_SPOILER_CHANNEL, nsfw=True),
            ],
        }
    )
    parsers["GUILD_CREATE"]({"id": str(OTHER_GUILD), "channels": [channel(ELSEWHERE, IS_SPOILER_CHANNEL)]})
    assert marked.in_guild(GUILD) == {SPOILERS}
    assert ADULTS not in marked

    parsers["CHANNEL_UPDATE"](channel(GENERAL, IS_SPOILER_CHANNEL, guild_id=GUILD))
    parsers["CHANNEL_UPDATE"](channel(SPOILERS, 0, guild_id=GUILD))
    assert marked.in_guild(GUILD) == {GENERAL}
    parsers["CHANNEL_UPDATE"](channel(GENERAL, IS_SPOILER_CHANNEL, nsfw=True, guild_id=GUILD))
    assert GENERAL not in marked, "made NSFW, it is an ordinary channel again"
    parsers["CHANNEL_CREATE"](channel(SPOILERS, IS_SPOILER_CHANNEL, guild_id=GUILD))
    parsers["CHANNEL_DELETE"](channel(SPOILERS, IS_SPOILER_CHANNEL, guild_id=GUILD))
    assert SPOILERS not in marked

    parsers["GUILD_DELETE"]({"id": str(OTHER_GUILD), "unavailable": True})
    assert ELSEWHERE in marked, "an outage is not a removal"
    parsers["CHANNEL_UPDATE"](channel(GENERAL, IS_SPOILER_CHANNEL, guild_id=GUILD))
    parsers["GUILD_CREATE"]({"id": str(GUILD), "channels": [channel(SPOILERS, IS_SPOILER_CHANNEL)]})
    assert marked.in_guild(GUILD) == {SPOILERS}, "a guild's channels as the gateway lists them now"
    parsers["GUILD_DELETE"]({"id": str(OTHER_GUILD)})
    assert ELSEWHERE not in marked
    parsers["CHANNEL_UPDATE"]({"id": "not a snowflake"})  # read past, parsed all the same
    assert [event for event, _ in parsed].count("CHANNEL_UPDATE") == 5
    assert len(parsed) == 12
