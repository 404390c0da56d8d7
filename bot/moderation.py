"""The moderators' ``/settings`` command group that every feature hangs its settings under.

Discord hides it from members without Manage Server by default, but a server can
loosen that in its integration settings, so the permission is checked again here.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.errors import UserError
from bot.i18n import cmd
from bot.installs import server_only_group_options


class SettingsGroup(app_commands.Group):
    """``/settings``: guild only, Manage Server by default (Discord) and in code.

    discord.py runs only the nearest group's ``interaction_check`` for a nested
    command, so features hang :class:`SettingsSubgroup` instances here, which carry
    the same check; this one covers subcommands placed directly on ``/settings``.
    """

    def __init__(self) -> None:
        super().__init__(
            name=cmd("settings.name"),
            description=cmd("settings.description"),
            default_permissions=discord.Permissions(manage_guild=True),
            guild_only=True,
            **server_only_group_options(),
        )

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        require_manage_guild(interaction)
        return True


def require_manage_guild(interaction: discord.Interaction[Any]) -> None:
    """Refuse members without Manage Server, whatever the server's command overrides say."""
    if interaction.guild is None:
        raise UserError("errors.guild_only")
    if not interaction.permissions.manage_guild:
        raise UserError("settings.not_allowed")


class SettingsSubgroup(app_commands.Group):
    """Base of every feature's ``/settings <feature>`` group: the Manage Server check in code."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        require_manage_guild(interaction)
        return True
