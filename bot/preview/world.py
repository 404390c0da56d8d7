"""The preview's world: the server a person tries the bot in, with the channels and members
they act as; a second server that never added the app, where "You" uses the app added to
their own account; and each person's DM with the bot.

Ids are the same at every start, so a store kept with ``--database`` still finds its
settings (spoiler channels, countdown schedules) in the same channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from localdiscord import IS_SPOILER_CHANNEL, NEWS, Channel, FakeDiscord, Guild, Member, Permission, PrivateChannel
from localdiscord.state import SnowflakeFactory

#: 2026-01-01T00:00:00Z as a snowflake timestamp: the preview's ids start here at every run.
STABLE_ID_BASE = (1_767_225_600_000 - 1_420_070_400_000) << 22


class StableIds(SnowflakeFactory):
    """Counts up from :data:`STABLE_ID_BASE`: the same world gets the same ids each start."""

    def __init__(self) -> None:
        super().__init__()
        self._last = STABLE_ID_BASE

    def __call__(self) -> int:
        self._last += 1
        return self._last


@dataclass(frozen=True)
class Persona:
    """A member the person can act as, with why they are there."""

    key: str
    label: str
    about: str
    member: Member


@dataclass(frozen=True)
class PreviewWorld:
    guild: Guild
    general: Channel
    spoilers: Channel
    thread: Channel
    announcements: Channel
    personas: tuple[Persona, ...]
    #: A channel marked as a spoiler channel in Discord's own channel settings.
    spoiler_room: Channel
    #: A server that never added the app; its members are the personas, and only "You" added the app.
    club: Guild
    club_chat: Channel
    #: Each persona's DM with the bot, by user id.
    dms: dict[int, PrivateChannel]

    @property
    def owner(self) -> Member:
        return self.guild.members[self.guild.owner_id]

    def persona(self, user_id: int) -> Persona | None:
        return next((p for p in self.personas if p.member.id == user_id), None)


def build_world(fake: FakeDiscord) -> PreviewWorld:
    """Create the preview guild before the bot connects (it arrives in GUILD_CREATE)."""
    real_ids = fake.new_id
    stable = StableIds()
    fake.new_id = stable
    try:
        guild = fake.add_guild("Hyosan High Fans")
        owner = guild.members[guild.owner_id]
        owner.user.username = "owner"
        owner.user.global_name = "Owner"
        moderators = guild.add_role("Moderators", Permission.MANAGE_GUILD | Permission.MANAGE_MESSAGES)
        you = guild.add_member(name="you")
        moderator = guild.add_member(name="moderator", roles=[moderators])
        member = guild.add_member(name="member")
        general = guild.add_channel("general", topic="Talk about the show. Spoilers stay hidden here.")
        spoilers = guild.add_channel(
            "spoilers",
            topic="A moderator makes this a spoiler channel with /settings spoilers add.",
        )
        thread = guild.add_thread("season-2-theories", general.id)
        announcements = guild.add_channel("announcements", type=NEWS, topic="Scheduled countdown posts can go here.")
        # Made after the first world's objects, so those keep their ids from earlier versions.
        spoiler_room = guild.add_channel(
            "spoiler-room",
            topic="A spoiler channel in Discord's own channel settings: fates show openly here.",
        )
        spoiler_room.flags = IS_SPOILER_CHANNEL
        club = fake.add_outside_guild("Zombie Drama Club")
        club_chat = club.add_channel("chat", topic="A server that never added the bot.")
        for person in (you, moderator, member, owner):
            club.add_member(person.id, person.user.username)
        fake.install_for_user(you)
        dms = {person.id: fake.open_dm(person) for person in (you, moderator, member, owner)}
        # A role for fans to opt into (/settings countdown notify_role), below the bot's role, and
        # the two permissions the notify role and the premiere event need (Manage Roles, Manage Events).
        fans = guild.add_role("Season 2 news", 0, mentionable=True)
        assert guild.bot_role is not None
        guild.bot_role.position = fans.position + 1
        guild.bot_role.permissions |= int(Permission.MANAGE_ROLES | Permission.MANAGE_EVENTS)
    finally:
        fake.new_id = real_ids
        guild.new_id = real_ids
    personas = (
        Persona("you", "You", "a member of the server", you),
        Persona("moderator", "Moderator", "has Manage Server and Manage Messages", moderator),
        Persona("member", "Member", "another member, to vote or be refused", member),
        Persona("owner", "Owner", "owns the server and the bot (OWNER_IDS)", owner),
    )
    return PreviewWorld(
        guild, general, spoilers, thread, announcements, personas, spoiler_room, club, club_chat, dms
    )
