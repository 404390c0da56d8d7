"""Driving the premiere event and the notify role through the harness."""

from __future__ import annotations

import datetime as dt
from typing import Any

from localdiscord import Permission, wait_until
from localdiscord.state import Guild, Role, ScheduledEvent

#: 2027-03-14 00:00 in Los Angeles (the pack's sourced release time): still PST, DST starts at 02:00.
PREMIERE = dt.datetime(2027, 3, 14, 8, 0, tzinfo=dt.UTC)


async def grant_bot(h: Any, permission: Permission, guild: Guild | None = None) -> None:
    """Give the bot's role a permission and wait until the bot's cache has it."""
    guild = guild or h.guild
    assert guild.bot_role is not None
    guild.set_role_permissions(guild.bot_role, guild.bot_role.permissions | int(permission))
    flag = permission.name.lower() if permission.name else ""
    assert await wait_until(lambda: getattr(h.bot.get_guild(guild.id).me.guild_permissions, flag))


async def revoke_bot(h: Any, permission: Permission, guild: Guild | None = None) -> None:
    guild = guild or h.guild
    assert guild.bot_role is not None
    guild.set_role_permissions(guild.bot_role, guild.bot_role.permissions & ~int(permission))
    flag = permission.name.lower() if permission.name else ""
    assert await wait_until(lambda: not getattr(h.bot.get_guild(guild.id).me.guild_permissions, flag))


async def confirm_date(h: Any, window: str = "2027-03-14", confidence: str = "confirmed") -> Any:
    rec = await h.slash(
        h.owner, h.general, "release update", window=window, confidence=confidence, source="https://example.org/news"
    )
    assert "Release information updated" in rec.content, rec.content
    return rec


def events_of(guild: Guild) -> list[ScheduledEvent]:
    return list(guild.scheduled_events.values())


async def fan_role_below_bot(h: Any, name: str = "Season 2 news") -> Role:
    """A role a moderator made for fans, with the bot's role dragged above it."""
    role = h.guild.add_role(name, 0, mentionable=True)
    assert h.guild.bot_role is not None
    h.guild.set_role_position(h.guild.bot_role, role.position + 1)
    assert await wait_until(lambda: h.bot.get_guild(h.guild.id).get_role(role.id) is not None)
    assert await wait_until(
        lambda: h.bot.get_guild(h.guild.id).get_role(role.id) < h.bot.get_guild(h.guild.id).me.top_role
    )
    return role
