"""Discord permission bits and the permission arithmetic Discord applies.

The fake needs the same answers Discord gives to "may this member do X in this
channel?", both for the bot (403s on channel messages, ``app_permissions``) and
for members (``default_member_permissions`` on commands, ``member.permissions``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Permission(enum.IntFlag):
    """Permission bits as documented by Discord (topics/permissions)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    PRIORITY_SPEAKER = 1 << 8
    STREAM = 1 << 9
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    VIEW_GUILD_INSIGHTS = 1 << 19
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    MUTE_MEMBERS = 1 << 22
    DEAFEN_MEMBERS = 1 << 23
    MOVE_MEMBERS = 1 << 24
    USE_VAD = 1 << 25
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    REQUEST_TO_SPEAK = 1 << 32
    MANAGE_EVENTS = 1 << 33
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    USE_EXTERNAL_STICKERS = 1 << 37
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EMBEDDED_ACTIVITIES = 1 << 39
    MODERATE_MEMBERS = 1 << 40
    VIEW_CREATOR_MONETIZATION_ANALYTICS = 1 << 41
    USE_SOUNDBOARD = 1 << 42
    CREATE_GUILD_EXPRESSIONS = 1 << 43
    CREATE_EVENTS = 1 << 44
    USE_EXTERNAL_SOUNDS = 1 << 45
    SEND_VOICE_MESSAGES = 1 << 46
    SEND_POLLS = 1 << 49
    USE_EXTERNAL_APPS = 1 << 50
    PIN_MESSAGES = 1 << 51
    BYPASS_SLOWMODE = 1 << 52


ALL_PERMISSIONS: int = 0
for _bit in Permission:
    ALL_PERMISSIONS |= _bit.value

P = Permission

#: What a new server grants @everyone on Discord: chat, voice, threads and
#: application commands, but nothing administrative (no manage_guild).
DEFAULT_EVERYONE_PERMISSIONS: int = int(
    P.CREATE_INSTANT_INVITE
    | P.ADD_REACTIONS
    | P.STREAM
    | P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.EMBED_LINKS
    | P.ATTACH_FILES
    | P.READ_MESSAGE_HISTORY
    | P.USE_EXTERNAL_EMOJIS
    | P.CONNECT
    | P.SPEAK
    | P.USE_VAD
    | P.CHANGE_NICKNAME
    | P.USE_APPLICATION_COMMANDS
    | P.REQUEST_TO_SPEAK
    | P.CREATE_PUBLIC_THREADS
    | P.CREATE_PRIVATE_THREADS
    | P.USE_EXTERNAL_STICKERS
    | P.SEND_MESSAGES_IN_THREADS
    | P.USE_EMBEDDED_ACTIVITIES
    | P.SEND_VOICE_MESSAGES
    | P.SEND_POLLS
    | P.USE_EXTERNAL_APPS
)

#: The managed role Discord creates when a bot is invited with the usual
#: "send messages" scope set.
DEFAULT_BOT_PERMISSIONS: int = int(
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.SEND_MESSAGES_IN_THREADS
    | P.EMBED_LINKS
    | P.ATTACH_FILES
    | P.READ_MESSAGE_HISTORY
    | P.ADD_REACTIONS
    | P.USE_EXTERNAL_EMOJIS
    | P.USE_APPLICATION_COMMANDS
)

#: Permissions that only make sense when a member may also send messages;
#: Discord drops them implicitly when SEND_MESSAGES is denied.
_SEND_DEPENDENT: int = int(P.SEND_TTS_MESSAGES | P.MENTION_EVERYONE | P.EMBED_LINKS | P.ATTACH_FILES)


@dataclass(frozen=True)
class Overwrite:
    """A channel permission overwrite; ``type`` 0 targets a role, 1 a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_payload(self) -> dict[str, object]:
        """Serialise like Discord does (bitfields as strings)."""
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


def base_permissions(
    *,
    is_owner: bool,
    everyone_permissions: int,
    role_permissions: Iterable[int],
) -> int:
    """Guild-level permissions: owner and administrator get everything."""
    if is_owner:
        return ALL_PERMISSIONS
    perms = everyone_permissions
    for value in role_permissions:
        perms |= value
    if perms & P.ADMINISTRATOR:
        return ALL_PERMISSIONS
    return perms


def apply_overwrites(
    base: int,
    *,
    guild_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    overwrites: Iterable[Overwrite],
    is_thread: bool = False,
) -> int:
    """Apply @everyone, role and member overwrites in Discord's documented order."""
    if base & P.ADMINISTRATOR or base == ALL_PERMISSIONS:
        return ALL_PERMISSIONS
    overwrites = list(overwrites)
    perms = base
    for ow in overwrites:
        if ow.type == 0 and ow.id == guild_id:
            perms = (perms & ~ow.deny) | ow.allow
    role_ids = set(member_role_ids)
    allow = deny = 0
    for ow in overwrites:
        if ow.type == 0 and ow.id in role_ids and ow.id != guild_id:
            allow |= ow.allow
            deny |= ow.deny
    perms = (perms & ~deny) | allow
    for ow in overwrites:
        if ow.type == 1 and ow.id == member_id:
            perms = (perms & ~ow.deny) | ow.allow
    if not perms & P.VIEW_CHANNEL:
        return 0
    send_bit = P.SEND_MESSAGES_IN_THREADS if is_thread else P.SEND_MESSAGES
    if not perms & send_bit:
        perms &= ~_SEND_DEPENDENT
    return perms


def missing(have: int, need: int) -> int:
    """Bits of ``need`` that ``have`` lacks (0 means allowed)."""
    return need & ~have
