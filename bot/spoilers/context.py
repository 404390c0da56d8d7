"""The glue between the policy, the store and a feature's cog: one call per response.

``await spoiler_view_for(bot, channel, locale)`` looks the channel up against the
guild's spoiler channels (and Discord's own spoiler flag) and returns a
:class:`SpoilerContext` that renders every spoiler the same way and makes the
"Reveal privately" button when bars are used. An answer to an interaction asks
:func:`spoilers_for`, which also knows where the bot is not a member.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import BotView
from bot.i18n import Locale, t
from bot.installs import installed_guild_id
from bot.spoilers.flags import DiscordSpoilerChannels
from bot.spoilers.policy import ChannelPlace, shows_spoilers_openly
from bot.spoilers.render import (
    MESSAGE_LIMIT,
    EmbedField,
    LabelledText,
    render_open_text,
    render_spoiler,
    spoiler_field,
)
from bot.spoilers.repo import SPOILER_CHANNEL_IDS
from bot.spoilers.reveal import RevealButton

if TYPE_CHECKING:
    from bot.client import HyosanBot


def place_of(channel: Any, *, client: discord.Client | None = None) -> ChannelPlace:
    """The ids the policy needs for a channel, thread or forum post (None: no channel, e.g. a DM)."""
    if isinstance(channel, discord.PartialMessageable) and client is not None:
        channel = client.get_channel(channel.id) or channel
    if channel is None or isinstance(channel, discord.abc.PrivateChannel):
        return ChannelPlace(channel_id=getattr(channel, "id", None))
    if isinstance(channel, discord.Thread | discord.app_commands.AppCommandThread):
        parent = channel.parent
        return ChannelPlace(
            channel_id=channel.id,
            parent_id=channel.parent_id,
            category_id=getattr(parent, "category_id", None),
            marked_in_discord=channel.parent_id in marked_channels(client),
        )
    return ChannelPlace(
        channel_id=channel.id,
        category_id=getattr(channel, "category_id", None),
        marked_in_discord=channel.id in marked_channels(client),
    )


def marked_channels(client: discord.Client | None) -> DiscordSpoilerChannels:
    """The channels Discord marks as spoiler channels, as the bot's gateway has told it so far."""
    found = getattr(client, "discord_spoiler_channels", None)
    return found if isinstance(found, DiscordSpoilerChannels) else _NONE_MARKED


_NONE_MARKED = DiscordSpoilerChannels()


def guild_id_of(channel: Any) -> int | None:
    guild = getattr(channel, "guild", None)
    return guild.id if guild is not None else getattr(channel, "guild_id", None)


@dataclass(frozen=True, slots=True)
class SpoilerContext:
    """How spoilers look in one place: openly (a spoiler channel, a private reveal) or behind bars."""

    openly: bool
    locale: Locale = None

    @classmethod
    def revealed(cls, locale: Locale) -> SpoilerContext:
        """For a reveal provider: everything unwrapped, in the presser's language."""
        return cls(openly=True, locale=locale)

    def text(self, label: str, text: str, *, limit: int = MESSAGE_LIMIT) -> str:
        """One spoiler as a line: "Spoiler, <label>: ||text||" or "<label>: text"."""
        return render_spoiler(label, text, openly=self.openly, locale=self.locale, limit=limit)

    def fact(self, fact: LabelledText, *, limit: int = MESSAGE_LIMIT) -> str:
        """:meth:`text` for a data-pack spoiler fact, in the reader's language when the pack has it."""
        return self.text(fact.tr("label", self.locale), fact.tr("text", self.locale), limit=limit)

    def field(self, label: str, text: str) -> EmbedField:
        """An embed field: the label as its name, the (hidden) text as its value."""
        return spoiler_field(label, text, openly=self.openly, locale=self.locale)

    def plain(self, text: str, *, limit: int = MESSAGE_LIMIT) -> str:
        """Non-spoiler text from users or the pack, escaped the same way (no bars, no label)."""
        return render_open_text(text, limit=limit)

    def reveal_button(self, kind: str, key: str) -> RevealButton | None:
        """The "Reveal privately" button for your own view, or None where spoilers are open."""
        if self.openly:
            return None
        return RevealButton(kind, key, label=t("spoilers.reveal_button", self.locale))

    def reveal_view(self, kind: str, key: str) -> discord.ui.View:
        """A view for ``view=``: the reveal button, or no components where spoilers are open."""
        view = BotView(timeout=None)
        button = self.reveal_button(kind, key)
        if button is not None:
            view.add_item(button)
        return view


async def spoiler_view_for(bot: HyosanBot, channel: Any, locale: Locale = None) -> SpoilerContext:
    """The spoiler context for a message in ``channel`` (a channel, thread, forum post or None).

    Outside a guild nothing is a spoiler channel, so spoilers are behind bars there too.
    """
    guild_id = guild_id_of(channel)
    if guild_id is None:
        return SpoilerContext(openly=False, locale=locale)
    place = place_of(channel, client=bot)
    if place.marked_in_discord:
        return SpoilerContext(openly=True, locale=locale)
    listed = await bot.store.recall(SPOILER_CHANNEL_IDS, guild_id)
    return SpoilerContext(openly=shows_spoilers_openly(place, listed), locale=locale)


async def spoilers_for(bot: HyosanBot, interaction: discord.Interaction[Any]) -> SpoilerContext:
    """The spoiler context of an answer to ``interaction``, in the member's language.

    Where the bot is not a member (a DM, a group DM, a server where only the member added
    the app) it knows no spoiler channels and keeps no settings, so every spoiler is
    behind bars with its Reveal privately button, which works there too.
    """
    if installed_guild_id(interaction) is None:
        return SpoilerContext(openly=False, locale=interaction.locale)
    return await spoiler_view_for(bot, interaction.channel, interaction.locale)
