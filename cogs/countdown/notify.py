"""The role fans opt into: whether the bot can hand it out, the "Notify me" button, and the one
kind of mention the bot ever makes (that role, on release news and the release-day post).

A button carries no state but its kind (``countdown:notify``): the server's role is read
from the store at each click, so buttons on old posts follow the current setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import discord

from bot.errors import BotView, GuardedItem, Trusted, UserError
from bot.i18n import t
from cogs.countdown.repo.options import NOTIFY_ROLE

NOTIFY_CUSTOM_ID = "countdown:notify"
NOTIFY_TEMPLATE = re.compile(r"^countdown:notify$")

RoleProblem = Literal["everyone", "managed", "no_manage_roles", "above_bot", "not_mentionable"]


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """What decides whether the bot may give a role to members (from Discord's rules)."""

    is_everyone: bool
    managed: bool
    bot_may_manage_roles: bool
    #: The role sorts below the bot's highest role (position, then id, as Discord orders them).
    below_bot_top_role: bool
    bot_owns_server: bool = False
    #: A mention of it pings: the role allows anyone to mention it, or the bot may Mention Everyone.
    pings: bool = True


def notify_role_problem(role: RoleFacts) -> RoleProblem | None:
    """Why the bot cannot hand out ``role`` as a notify role, or None when it can.

    @everyone is refused first: whatever else holds, the bot never pings everyone."""
    if role.is_everyone:
        return "everyone"
    if role.managed:
        return "managed"
    if not role.bot_may_manage_roles:
        return "no_manage_roles"
    if not role.below_bot_top_role and not role.bot_owns_server:
        return "above_bot"
    if not role.pings:
        return "not_mentionable"
    return None


def role_facts(role: discord.Role, me: discord.Member) -> RoleFacts:
    guild = role.guild
    return RoleFacts(
        is_everyone=role.is_default(),
        managed=role.managed,
        bot_may_manage_roles=me.guild_permissions.manage_roles,
        below_bot_top_role=role < me.top_role,
        bot_owns_server=guild.owner_id == me.id,
        pings=role.mentionable or me.guild_permissions.mention_everyone,
    )


def role_mentions(role_id: int | None) -> discord.AllowedMentions:
    """What a post may ping: that role alone (no users, no @everyone/@here), or nothing."""
    if role_id is None:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(role_id)], replied_user=False)


class NotifyButton(GuardedItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=NOTIFY_TEMPLATE):
    """ "Notify me": gives the clicker the server's notify role, or takes it back."""

    def __init__(self, label: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or t("countdown.notify.button"),
                style=discord.ButtonStyle.secondary,
                custom_id=NOTIFY_CUSTOM_ID,
                emoji="\N{BELL}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> NotifyButton:
        return cls()

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        guild = interaction.guild
        member = interaction.user
        if guild is None or not isinstance(member, discord.Member):
            raise UserError("countdown.notify.no_role")
        role_id = await interaction.client.store.recall(NOTIFY_ROLE, guild.id)
        role = guild.get_role(role_id) if role_id is not None else None
        if role is None:
            raise UserError("countdown.notify.no_role")
        if guild.me is None or notify_role_problem(role_facts(role, guild.me)) is not None:
            raise UserError("countdown.notify.cannot_manage", role=Trusted(role.mention))
        locale = interaction.locale
        if any(have.id == role.id for have in member.roles):
            await member.remove_roles(role, reason="Notify me: opted out")
            text = t("countdown.notify.taken_back", locale, role=role.mention)
        else:
            await member.add_roles(role, reason="Notify me: opted in")
            text = t("countdown.notify.added", locale, role=role.mention)
        await interaction.response.send_message(text, ephemeral=True)


def notify_view(locale: str | None) -> BotView:
    """The components of a post that offers the notify role."""
    view = BotView(timeout=None)
    view.add_item(NotifyButton(t("countdown.notify.button", locale)))
    return view
