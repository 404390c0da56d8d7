"""The fake's world: users, guilds, roles, channels, threads and members.

Plain dataclasses a test builds before (or while) the bot is connected.  Each
object knows how to serialise itself the way Discord's gateway and REST API do,
so the payloads discord.py parses are the same shape it meets in production.
Changes made after the bot has connected are announced on the gateway through
the ``notify`` callback the owning :class:`~localdiscord.server.FakeDiscord`
installs (CHANNEL_CREATE, GUILD_ROLE_CREATE, ...).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .permissions import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    Overwrite,
    Permission,
    apply_overwrites,
    base_permissions,
)

DISCORD_EPOCH_MS = 1_420_070_400_000
#: Discord's ``SnowflakeType``: decimal digits without a sign or leading zeros, an unsigned 64-bit value.
_SNOWFLAKE = re.compile(r"0|[1-9][0-9]{0,19}")
SNOWFLAKE_MAX = 2**64 - 1

#: Channel types the fake knows how to serialise.
TEXT, VOICE, CATEGORY, NEWS, PUBLIC_THREAD, PRIVATE_THREAD, FORUM = 0, 2, 4, 5, 11, 12, 15
THREAD_TYPES = frozenset({10, PUBLIC_THREAD, PRIVATE_THREAD})
#: Private channel types: a DM (with the bot, or between two people) and a group DM.
DM, GROUP_DM = 1, 3
#: A channel's flag for Discord's native spoiler channels (July 2026, discord-api-docs #8465):
#: members opt in to see its content. Discord ignores it on an NSFW channel.
IS_SPOILER_CHANNEL = 1 << 21

Notify = Callable[[str, dict[str, Any]], None]
Json = dict[str, Any]


def parse_snowflake(value: object) -> int | None:
    """The id ``value`` spells (a string as Discord sends ids, or an int), or None when it is none.

    Stricter than ``int()``: no sign, spaces, underscores or non-ASCII digits, and nothing
    past 64 bits, so every route and page of the local Discord reads ids the same way.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _SNOWFLAKE.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if 0 <= number <= SNOWFLAKE_MAX else None


class SnowflakeFactory:
    """Mints unique, strictly increasing snowflakes carrying the current time."""

    def __init__(self) -> None:
        self._last = 0
        self._counter = itertools.count()

    def __call__(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (next(self._counter) & 0xFFF)
        self._last = max(candidate, self._last + 1)
        return self._last

    def on_shard(self, shard_id: int, shard_count: int) -> int:
        """A fresh snowflake that Discord's ``(id >> 22) % shard_count`` puts on ``shard_id``."""
        candidate = self()
        ms = candidate >> 22
        ms += (shard_id - ms) % shard_count
        self._last = max(self._last, (ms << 22) | (candidate & 0x3FFFFF))
        return self._last


def iso_timestamp(when: dt.datetime | None = None) -> str:
    """Discord's ISO-8601 timestamps, always UTC."""
    return (when or dt.datetime.now(dt.UTC)).isoformat()


@dataclass
class User:
    """A Discord user; ``bot`` users are the applications."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def to_payload(self) -> Json:
        """The user object as Discord serialises it."""
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }


@dataclass
class Role:
    """A guild role; the @everyone role shares its id with the guild."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def to_payload(self) -> Json:
        """The role object as Discord serialises it."""
        payload: Json = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            payload["tags"] = {"bot_id": str(self.bot_id)}
        return payload


@dataclass
class Channel:
    """A guild channel or thread (threads have ``type`` 10/11/12 and a parent)."""

    id: int
    guild_id: int
    name: str
    type: int = TEXT
    parent_id: int | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    last_message_id: int | None = None
    #: The channel's ``flags`` (IS_SPOILER_CHANNEL among them), set with :meth:`Guild.set_channel_flags`.
    flags: int = 0

    @property
    def is_thread(self) -> bool:
        """Threads inherit their parent's overwrites and have thread metadata."""
        return self.type in THREAD_TYPES

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def to_payload(self, *, include_guild_id: bool = True) -> Json:
        """Channel object; GUILD_CREATE omits guild_id on nested channels."""
        payload: Json = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "flags": self.flags,
            "parent_id": str(self.parent_id) if self.parent_id is not None else None,
        }
        if include_guild_id:
            payload["guild_id"] = str(self.guild_id)
        if self.is_thread:
            payload.update(
                {
                    "owner_id": str(self.owner_id) if self.owner_id else None,
                    "last_message_id": str(self.last_message_id) if self.last_message_id else None,
                    "rate_limit_per_user": 0,
                    "message_count": 0,
                    "member_count": 1,
                    "total_message_sent": 0,
                    "thread_metadata": {
                        "archived": self.archived,
                        "auto_archive_duration": 1440,
                        "archive_timestamp": iso_timestamp(),
                        "locked": self.locked,
                        "create_timestamp": iso_timestamp(),
                    },
                }
            )
            return payload
        payload.update(
            {
                "position": self.position,
                "permission_overwrites": [ow.to_payload() for ow in self.overwrites],
                "nsfw": self.nsfw,
            }
        )
        if self.type in (TEXT, NEWS, FORUM):
            payload.update(
                {
                    "topic": self.topic,
                    "rate_limit_per_user": 0,
                    "last_message_id": str(self.last_message_id) if self.last_message_id else None,
                }
            )
        if self.type == VOICE:
            payload.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None, "last_message_id": None})
        if self.type == FORUM:
            payload.update(
                {
                    "available_tags": [],
                    "default_reaction_emoji": None,
                    "default_sort_order": None,
                    "default_forum_layout": 0,
                }
            )
        return payload


@dataclass
class PrivateChannel:
    """A DM or group DM. The bot reads it only through interactions used there; it is a
    recipient only of its own DMs (``with_bot``)."""

    id: int
    type: int
    recipients: list[User]
    name: str | None = None
    with_bot: bool = False
    last_message_id: int | None = None
    guild_id: None = None

    @property
    def is_thread(self) -> bool:
        return False

    def to_payload(self, *, include_guild_id: bool = True) -> Json:
        """The channel object Discord sends for a private channel (recipients without the viewer)."""
        payload: Json = {
            "id": str(self.id),
            "type": self.type,
            "flags": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "recipients": [user.to_payload() for user in self.recipients],
        }
        if self.type == GROUP_DM:
            payload.update({"name": self.name, "icon": None, "owner_id": str(self.recipients[0].id)})
        return payload


@dataclass
class Member:
    """A guild member: a user plus guild-specific role ids and nickname."""

    user: User
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def mention(self) -> str:
        return f"<@{self.user.id}>"

    def to_payload(self, *, permissions: int | None = None, include_user: bool = True) -> Json:
        """Guild member object; interactions add the computed ``permissions``."""
        payload: Json = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso_timestamp(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }
        if include_user:
            payload["user"] = self.user.to_payload()
        if permissions is not None:
            payload["permissions"] = str(permissions)
        return payload


@dataclass
class Guild:
    """A guild with its roles, channels, threads and members.

    The bot joins every guild on creation, with a managed role carrying
    :data:`DEFAULT_BOT_PERMISSIONS`, unless ``bot_installed`` is False: a server that never
    added the app, where members who added it to their own account still use its commands.
    """

    id: int
    name: str
    owner_id: int
    bot_user: User
    new_id: Callable[[], int]
    notify: Notify | None = None
    preferred_locale: str = "en-US"
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    bot_role: Role | None = None
    bot_installed: bool = True
    #: The guild's scheduled events (its Events list), by id.
    scheduled_events: dict[int, ScheduledEvent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.roles[self.id] = Role(
            id=self.id, guild_id=self.id, name="@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS
        )
        if not self.bot_installed:
            return
        self.bot_role = self.add_role(
            self.bot_user.username, DEFAULT_BOT_PERMISSIONS, managed=True, bot_id=self.bot_user.id
        )
        self.members[self.bot_user.id] = Member(user=self.bot_user, guild_id=self.id, roles=[self.bot_role.id])

    # -- building -----------------------------------------------------------------

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def bot_member(self) -> Member:
        return self.members[self.bot_user.id]

    def _announce(self, event: str, data: Json) -> None:
        if self.notify is not None:
            self.notify(event, data)

    def add_role(
        self,
        name: str,
        permissions: int,
        *,
        managed: bool = False,
        bot_id: int | None = None,
        mentionable: bool = False,
    ) -> Role:
        """Create a role above the existing ones (GUILD_ROLE_CREATE once connected)."""
        role = Role(
            id=self.new_id(),
            guild_id=self.id,
            name=name,
            permissions=int(permissions),
            position=len(self.roles),
            managed=managed,
            bot_id=bot_id,
            mentionable=mentionable,
        )
        self.roles[role.id] = role
        self._announce("GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.to_payload()})
        return role

    def add_channel(
        self,
        name: str,
        type: int = TEXT,
        parent_id: int | None = None,
        overwrites: Iterable[Overwrite | dict[str, Any]] = (),
        *,
        topic: str | None = None,
    ) -> Channel:
        """Create a guild channel (CHANNEL_CREATE once connected)."""
        channel = Channel(
            id=self.new_id(),
            guild_id=self.id,
            name=name,
            type=type,
            parent_id=parent_id,
            overwrites=[_as_overwrite(o) for o in overwrites],
            position=len(self.channels),
            topic=topic,
        )
        self.channels[channel.id] = channel
        self._announce("CHANNEL_CREATE", channel.to_payload())
        return channel

    def add_thread(
        self, name: str, parent_id: int, *, type: int = PUBLIC_THREAD, owner_id: int | None = None
    ) -> Channel:
        """Create a thread under ``parent_id`` (THREAD_CREATE once connected)."""
        if parent_id not in self.channels:
            raise KeyError(f"no parent channel {parent_id} in guild {self.name}")
        thread = Channel(
            id=self.new_id(),
            guild_id=self.id,
            name=name,
            type=type,
            parent_id=parent_id,
            owner_id=owner_id or self.owner_id,
        )
        self.channels[thread.id] = thread
        self._announce("THREAD_CREATE", {**thread.to_payload(), "newly_created": True})
        return thread

    def set_channel_flags(self, channel: Channel, flags: int) -> None:
        """A moderator changes a channel's settings in Discord (CHANNEL_UPDATE, THREAD_UPDATE for a thread)."""
        channel.flags = int(flags)
        self._announce("THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE", channel.to_payload())

    def set_spoiler_channel(self, channel: Channel, on: bool = True) -> None:
        """Turn Discord's own spoiler channel setting of ``channel`` on or off."""
        flags = channel.flags | IS_SPOILER_CHANNEL if on else channel.flags & ~IS_SPOILER_CHANNEL
        self.set_channel_flags(channel, flags)

    def archive_thread(self, thread: Channel) -> None:
        """A thread goes quiet and Discord archives it (THREAD_UPDATE once connected).

        discord.py drops an archived thread from its cache; GET /channels/{id} still finds it.
        """
        if not thread.is_thread:
            raise ValueError(f"#{thread.name} is not a thread")
        thread.archived = True
        self._announce("THREAD_UPDATE", thread.to_payload())

    def add_member(
        self,
        user_id: int | None = None,
        name: str = "member",
        roles: Iterable[Role | int] = (),
        *,
        nick: str | None = None,
        bot: bool = False,
    ) -> Member:
        """Add a member (a fresh user unless ``user_id`` is given)."""
        user = User(id=user_id or self.new_id(), username=name, bot=bot, global_name=name.title())
        member = Member(user=user, guild_id=self.id, roles=[_role_id(r) for r in roles], nick=nick)
        self.members[user.id] = member
        self._announce("GUILD_MEMBER_ADD", {**member.to_payload(), "guild_id": str(self.id)})
        return member

    def set_overwrite(
        self,
        channel: Channel,
        target: Role | Member | User | int,
        *,
        allow: int = 0,
        deny: int = 0,
    ) -> None:
        """Replace the overwrite for ``target`` on ``channel`` (CHANNEL_UPDATE once connected)."""
        if isinstance(target, Role):
            target_id, kind = target.id, 0
        elif isinstance(target, (Member, User)):
            target_id, kind = target.id, 1
        else:
            target_id = int(target)
            kind = 0 if target_id in self.roles else 1
        channel.overwrites = [ow for ow in channel.overwrites if ow.id != target_id]
        channel.overwrites.append(Overwrite(id=target_id, type=kind, allow=int(allow), deny=int(deny)))
        self._announce("CHANNEL_UPDATE", channel.to_payload())

    def set_bot_overwrite(self, channel: Channel, *, allow: int = 0, deny: int = 0) -> None:
        """Tweak what the bot may do in one channel, like a moderator would."""
        self.set_overwrite(channel, self.bot_user, allow=allow, deny=deny)

    def add_role_to_member(self, member: Member, role: Role) -> None:
        """Give a member a role (GUILD_MEMBER_UPDATE once connected)."""
        if role.id not in member.roles:
            member.roles.append(role.id)
        self._announce("GUILD_MEMBER_UPDATE", {**member.to_payload(), "guild_id": str(self.id)})

    def remove_role_from_member(self, member: Member, role: Role) -> None:
        """Take a role away from a member (GUILD_MEMBER_UPDATE once connected)."""
        if role.id in member.roles:
            member.roles.remove(role.id)
        self._announce("GUILD_MEMBER_UPDATE", {**member.to_payload(), "guild_id": str(self.id)})

    def set_role_position(self, role: Role, position: int) -> None:
        """A moderator drags a role in the role list (GUILD_ROLE_UPDATE once connected)."""
        role.position = position
        self._announce("GUILD_ROLE_UPDATE", {"guild_id": str(self.id), "role": role.to_payload()})

    def delete_role(self, role: Role) -> None:
        """A moderator deletes a role: members lose it (GUILD_ROLE_DELETE once connected)."""
        self.roles.pop(role.id, None)
        for member in self.members.values():
            if role.id in member.roles:
                member.roles.remove(role.id)
        self._announce("GUILD_ROLE_DELETE", {"guild_id": str(self.id), "role_id": str(role.id)})

    def set_role_permissions(self, role: Role, permissions: int) -> None:
        """A moderator edits what a role may do (GUILD_ROLE_UPDATE once connected)."""
        role.permissions = int(permissions)
        self._announce("GUILD_ROLE_UPDATE", {"guild_id": str(self.id), "role": role.to_payload()})

    @staticmethod
    def role_order(role: Role) -> tuple[int, int]:
        """Where a role sorts in the role list: by position, and of two at one position the
        older (lower id) is higher, as Discord orders them."""
        return role.position, -role.id

    def top_role(self, who: Member | User | int) -> Role:
        """A member's highest role (@everyone when it has none)."""
        member = self.member_for(who)
        return max((self.roles[r] for r in member.roles if r in self.roles), key=self.role_order, default=self.everyone)

    # -- permissions --------------------------------------------------------------

    def member_for(self, who: Member | User | int) -> Member:
        """Look a member up by object or id."""
        user_id = who.id if isinstance(who, (Member, User)) else int(who)
        return self.members[user_id]

    def guild_permissions(self, who: Member | User | int) -> int:
        """Guild-wide permissions (owner/admin have all)."""
        member = self.member_for(who)
        return base_permissions(
            is_owner=member.id == self.owner_id,
            everyone_permissions=self.everyone.permissions,
            role_permissions=(self.roles[r].permissions for r in member.roles if r in self.roles),
        )

    def permissions_in(self, who: Member | User | int, channel: Channel) -> int:
        """Channel permissions after overwrites; threads use their parent's."""
        member = self.member_for(who)
        source = self.channels.get(channel.parent_id) if channel.is_thread and channel.parent_id else channel
        overwrites = source.overwrites if source is not None else []
        return apply_overwrites(
            self.guild_permissions(member),
            guild_id=self.id,
            member_id=member.id,
            member_role_ids=member.roles,
            overwrites=overwrites,
            is_thread=channel.is_thread,
        )

    def bot_permissions_in(self, channel: Channel) -> int:
        """What Discord would put in ``app_permissions`` for this channel."""
        return self.permissions_in(self.bot_user.id, channel)

    def everyone_permissions_in(self, channel: Channel) -> int:
        """@everyone's permissions in a channel: the fake's ``app_permissions`` for an app that is
        not a member (a member's own install), which has no role of its own there."""
        source = self.channels.get(channel.parent_id) if channel.is_thread and channel.parent_id else channel
        return apply_overwrites(
            self.everyone.permissions,
            guild_id=self.id,
            member_id=0,
            member_role_ids=(),
            overwrites=source.overwrites if source is not None else [],
            is_thread=channel.is_thread,
        )

    # -- serialisation ------------------------------------------------------------

    def to_gateway_payload(self, *, all_members: bool = True) -> Json:
        """The GUILD_CREATE payload: the whole guild as the bot sees it on connect.

        Without the GUILD_MEMBERS intent Discord only includes the bot's own
        member, so a bot relying on a warm member cache fails here as it would there.
        """
        members = list(self.members.values()) if all_members else [self.bot_member]
        regular = [c for c in self.channels.values() if not c.is_thread]
        threads = [c for c in self.channels.values() if c.is_thread and not c.archived]
        return {
            **self.to_partial_payload(),
            "unavailable": False,
            "large": False,
            "member_count": len(self.members),
            "joined_at": iso_timestamp(self.bot_member.joined_at),
            "channels": [c.to_payload(include_guild_id=False) for c in regular],
            "threads": [t.to_payload() for t in threads],
            "members": [m.to_payload() for m in members],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [
                e.to_payload(self.members[e.creator_id].user if e.creator_id in self.members else None)
                for e in self.scheduled_events.values()
            ],
            "soundboard_sounds": [],
            "embedded_activities": [],
        }

    def to_partial_payload(self) -> Json:
        """The guild object's own fields (GUILD_UPDATE, GET /guilds/{id})."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.to_payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.preferred_locale,
            "nsfw_level": 0,
            "nsfw": False,
            "incidents_data": None,
            "home_header": None,
            "widget_enabled": False,
            "widget_channel_id": None,
            "max_presences": None,
            "max_stage_video_channel_users": 50,
        }


@dataclass
class ScheduledEvent:
    """A guild scheduled event (the server's Events list); ``interested``: who clicked "Interested"."""

    id: int
    guild_id: int
    creator_id: int
    name: str
    start: dt.datetime
    end: dt.datetime | None
    entity_type: int
    location: str | None
    description: str | None = None
    privacy_level: int = 2
    status: int = 1
    interested: set[int] = field(default_factory=set)

    def to_payload(self, creator: User | None = None, *, with_user_count: bool = False) -> Json:
        """The guild scheduled event object as Discord serialises it (``user_count`` only when asked)."""
        payload: Json = {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "channel_id": None,
            "creator_id": str(self.creator_id),
            "name": self.name,
            "description": self.description,
            "scheduled_start_time": iso_timestamp(self.start),
            "scheduled_end_time": iso_timestamp(self.end) if self.end is not None else None,
            "privacy_level": self.privacy_level,
            "status": self.status,
            "entity_type": self.entity_type,
            "entity_id": None,
            "entity_metadata": {"location": self.location} if self.location is not None else None,
            "image": None,
            "recurrence_rule": None,
            "guild_scheduled_event_exceptions": [],
        }
        if creator is not None:
            payload["creator"] = creator.to_payload()
        if with_user_count:
            payload["user_count"] = len(self.interested)
        return payload


def _as_overwrite(value: Overwrite | dict[str, Any]) -> Overwrite:
    if isinstance(value, Overwrite):
        return value
    return Overwrite(
        id=int(value["id"]),
        type=int(value.get("type", 0)),
        allow=int(value.get("allow", 0)),
        deny=int(value.get("deny", 0)),
    )


def _role_id(role: Role | int) -> int:
    return role.id if isinstance(role, Role) else int(role)


__all__ = [
    "CATEGORY",
    "FORUM",
    "NEWS",
    "PUBLIC_THREAD",
    "TEXT",
    "VOICE",
    "Channel",
    "Guild",
    "Member",
    "Overwrite",
    "Permission",
    "PrivateChannel",
    "Role",
    "ScheduledEvent",
    "SnowflakeFactory",
    "User",
]
