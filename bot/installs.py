"""Where the bot's commands may be installed and used, and whether the bot is a member there.

Since 2024 a person can add the app to their own account and use its commands in any
server, in group DMs and in DMs (a *user install*), besides a server adding it (a *guild
install*). The show lookups are offered both ways and everywhere; what changes a
server (its settings, polls, the release window) stays a server's own.

Where a member's own install brings the bot into a server that never added it, the
interaction still names the guild, but the bot is not a member: it has no cache of the
guild, may not post there and keeps no settings for it. :func:`installed_guild_id` is
the one test every per-guild path asks.
"""

from __future__ import annotations

from typing import Any, TypeVar

import discord
from discord import app_commands

T = TypeVar("T")

#: Looked up in servers, the bot's DM and private channels, by a server's or a member's install.
EVERYWHERE_INSTALLS = app_commands.AppInstallationType(guild=True, user=True)
EVERYWHERE_CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)
#: A server's own business: installed by the server, used in it.
SERVER_INSTALLS = app_commands.AppInstallationType(guild=True, user=False)
SERVER_CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=False, private_channel=False)


def offered_everywhere(command: T) -> T:
    """Mark a slash command (apply above ``@app_commands.command``) as offered to both
    installs in every context."""
    if not isinstance(command, app_commands.Command):
        raise TypeError("offered_everywhere goes above @app_commands.command")
    command.allowed_installs = EVERYWHERE_INSTALLS
    command.allowed_contexts = EVERYWHERE_CONTEXTS
    return command


def server_only_group_options() -> dict[str, Any]:
    """Keyword arguments for an ``app_commands.Group`` that only a server installs and uses."""
    return {"allowed_installs": SERVER_INSTALLS, "allowed_contexts": SERVER_CONTEXTS}


def installed_guild_id(interaction: discord.Interaction[Any]) -> int | None:
    """The guild of this interaction when the bot is a member of it (the server installed
    the app), else None: a DM, a group DM, or a server where only the member added the app.

    Discord says which installs authorised the interaction (``authorizing_integration_owners``);
    a button's press carries those of the message's command.
    """
    return interaction.guild_id if interaction.is_guild_integration() else None
