"""Who may see and manage a poll: the one rule every poll read goes through.

A member sees a poll (``/poll list``, ``/poll results``, the autocomplete, the export,
``/poll close``, the vote buttons, "Reveal privately") only if they may view the poll's
channel now; exporting and closing someone else's poll need Manage Messages there. The
permissions are always those of the poll's own channel, never of the channel where the
command was typed:

- the poll's channel is the invoking one: Discord's own answer (``interaction.permissions``,
  which also knows who is in a private thread);
- else the channel from the cache, or fetched over REST (an archived thread, which
  discord.py drops from its cache), resolved once per call and computed as discord.py does
  (a thread takes its parent's overwrites);
- a channel that cannot be resolved (deleted, the bot lost access, REST failed, or the
  fetch budget of an autocomplete is spent) hides its polls: a lookup of one poll refuses
  with a specific private answer, a list leaves them out. It never falls back to the
  invoking channel.

A private thread seen from elsewhere counts as viewable only with Manage Threads: whether
a member was added to it is not in the cache, and guessing yes would show a staff thread's
poll to anyone who sees its parent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import discord

from bot.errors import Trusted, UserError

#: An autocomplete must answer within Discord's 3 s: it fetches at most this many uncached
#: channels, within this many seconds in all, and leaves the polls of the rest out.
AUTOCOMPLETE_FETCHES = 3
AUTOCOMPLETE_FETCH_SECONDS = 1.0
THREAD_TYPES = (discord.ChannelType.public_thread, discord.ChannelType.private_thread, discord.ChannelType.news_thread)


class InPollChannel(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def channel_id(self) -> int: ...


PollT = TypeVar("PollT", bound=InPollChannel)


def channel_mention(channel_id: int) -> Trusted:
    return Trusted(f"<#{channel_id}>")


@dataclass(frozen=True, slots=True)
class PollAccess:
    """What the member may do with the polls of one channel."""

    channel_id: int
    permissions: discord.Permissions

    @property
    def can_view(self) -> bool:
        return self.permissions.view_channel

    @property
    def can_manage(self) -> bool:
        """Export any poll there, close anyone's: Manage Messages in the poll's channel."""
        return self.can_view and self.permissions.manage_messages


def permissions_in(
    channel: discord.abc.GuildChannel | discord.Thread, member: discord.Member
) -> discord.Permissions | None:
    """The member's permissions in a channel the invoking interaction is not in (None: unknown)."""
    try:
        permissions = channel.permissions_for(member)
    except discord.ClientException:  # a thread whose parent is not cached (deleted)
        return None
    if (
        isinstance(channel, discord.Thread)
        and channel.is_private()
        and channel.owner_id != member.id
        and not permissions.manage_threads
    ):
        return discord.Permissions.none()
    return permissions


class PollReader:
    """One member's view of polls during one interaction: each channel resolved once.

    ``fetches`` bounds the REST look-ups (None: no bound); ``within`` bounds their total
    time in seconds. Channels beyond either bound count as unresolved.
    """

    def __init__(
        self,
        bot: discord.Client,
        interaction: discord.Interaction[Any],
        *,
        fetches: int | None = None,
        within: float | None = None,
    ) -> None:
        self._bot = bot
        self._interaction = interaction
        self._fetches_left = fetches
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + within if within is not None else None
        self._known: dict[int, PollAccess | None] = {}

    async def access(self, channel_id: int) -> PollAccess | None:
        """The member's access to a channel's polls, or None if the channel cannot be resolved."""
        if channel_id not in self._known:
            self._known[channel_id] = await self._resolve(channel_id)
        return self._known[channel_id]

    async def _resolve(self, channel_id: int) -> PollAccess | None:
        interaction = self._interaction
        member = interaction.user
        guild = interaction.guild
        if not isinstance(member, discord.Member) or guild is None:
            return None
        if interaction.channel_id == channel_id:
            return PollAccess(channel_id, interaction.permissions)
        channel: discord.abc.GuildChannel | discord.Thread | None = guild.get_channel_or_thread(channel_id)
        if channel is None:
            channel = await self._fetch(channel_id, guild)
        if channel is None:
            return None
        permissions = permissions_in(channel, member)
        return PollAccess(channel_id, permissions) if permissions is not None else None

    async def _fetch(self, channel_id: int, guild: discord.Guild) -> discord.abc.GuildChannel | discord.Thread | None:
        if self._fetches_left is not None:
            if self._fetches_left <= 0:
                return None
            self._fetches_left -= 1
        timeout = None
        if self._deadline is not None:
            timeout = self._deadline - asyncio.get_running_loop().time()
            if timeout <= 0:
                return None
        try:
            async with asyncio.timeout(timeout):
                channel = await self._bot.fetch_channel(channel_id)
        except (discord.HTTPException, TimeoutError):
            return None  # deleted (404), out of the bot's sight (403), or Discord failed: unknown
        if not isinstance(channel, discord.abc.GuildChannel | discord.Thread) or channel.guild.id != guild.id:
            return None
        return channel

    async def require_view(self, poll: InPollChannel) -> PollAccess:
        """The member's access to the poll, or a private refusal naming what is missing."""
        access = await self.access(poll.channel_id)
        if access is None:
            raise UserError("polls.access.unreachable", id=str(poll.id), channel=channel_mention(poll.channel_id))
        if not access.can_view:
            raise UserError("polls.access.cannot_view", id=str(poll.id))
        return access

    async def visible(self, polls: Iterable[PollT]) -> list[PollT]:
        """The polls the member may see, in their order (unresolved channels left out)."""
        shown = []
        for poll in polls:
            access = await self.access(poll.channel_id)
            if access is not None and access.can_view:
                shown.append(poll)
        return shown


def require_member_may_post(interaction: discord.Interaction[Any]) -> None:
    """``/poll create`` posts where it was typed, as the bot: only for a member who may write
    there themselves (Send Messages; in a thread, Send Messages in Threads)."""
    channel = interaction.channel
    in_thread = isinstance(channel, discord.Thread) or getattr(channel, "type", None) in THREAD_TYPES
    permissions = interaction.permissions
    allowed = permissions.send_messages_in_threads if in_thread else permissions.send_messages
    if not allowed:
        key = "polls.create.member_cannot_send_in_thread" if in_thread else "polls.create.member_cannot_send"
        raise UserError(key, channel=channel_mention(interaction.channel_id or 0))
