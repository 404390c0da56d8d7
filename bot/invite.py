"""The two install links ``python -m bot invite`` prints, and the permissions they ask for.

The permissions come from one list, each named with the feature that needs it, so a
feature that needs another permission adds it here and the link follows. Answers to
commands need none: Discord lets an app answer an interaction (and send its follow-ups)
wherever the command was used, in servers that never added the bot too.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import urlencode

import discord

AUTHORIZE_URL = "https://discord.com/oauth2/authorize"
#: ``integration_type`` of the install links: a server adds the bot, or a person adds the app to their account.
GUILD_INSTALL, USER_INSTALL = 0, 1


@dataclass(frozen=True, slots=True)
class NeededPermission:
    """A permission the bot asks a server for, by discord.py's name, and why."""

    name: str
    why: str

    @property
    def title(self) -> str:
        """As Discord's client names it (View Channels, Send Messages in Threads)."""
        if self.name == "view_channel":
            return "View Channels"
        return " ".join(word if word == "in" else word.capitalize() for word in self.name.split("_"))


#: Everything the bot does on its own in a server (not in answer to a command) and what it needs for it.
BOT_PERMISSIONS: tuple[NeededPermission, ...] = (
    NeededPermission("view_channel", "see the channels it posts scheduled countdowns, release news and polls in"),
    NeededPermission("send_messages", "post scheduled countdowns, release news, polls and their results"),
    NeededPermission("send_messages_in_threads", "post those in threads and forum posts too"),
    NeededPermission("embed_links", "every post is an embed (and countdown posts are edited as embeds)"),
    NeededPermission("read_message_history", "post a poll's results as a reply to the poll"),
    NeededPermission("manage_events", "keep the premiere in a server's Events list (/settings countdown event)"),
    NeededPermission("manage_roles", "hand out the notify role fans opt into (/settings countdown notify_role)"),
)


def bot_permissions(needed: tuple[NeededPermission, ...] = BOT_PERMISSIONS) -> discord.Permissions:
    """The permissions integer of the server install link."""
    return discord.Permissions(**{permission.name: True for permission in needed})


def application_id_from_token(token: str) -> int | None:
    """A bot token's first part is its application's (bot user's) id in base64; None if it is not."""
    first = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(first + "=" * (-len(first) % 4), validate=False).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(decoded) if decoded.isdigit() and 0 < int(decoded) < 2**64 else None


@dataclass(frozen=True, slots=True)
class InstallLinks:
    server: str
    user: str


def install_links(application_id: int, permissions: discord.Permissions) -> InstallLinks:
    """Discord's authorize links: to a server (bot + commands, with permissions) and to a member's account."""
    server = {
        "client_id": application_id,
        "permissions": permissions.value,
        "integration_type": GUILD_INSTALL,
        "scope": "bot applications.commands",
    }
    user = {"client_id": application_id, "integration_type": USER_INSTALL, "scope": "applications.commands"}
    return InstallLinks(
        server=f"{AUTHORIZE_URL}?{urlencode(server)}",
        user=f"{AUTHORIZE_URL}?{urlencode(user)}",
    )


def describe_invite(application_id: int, source: str) -> str:
    """What ``python -m bot invite`` prints: both links, then each permission and why."""
    permissions = bot_permissions()
    links = install_links(application_id, permissions)
    lines = [
        f"Application {application_id} ({source}).",
        "",
        "Add the bot to a server (you need Manage Server there):",
        f"  {links.server}",
        "",
        "Add the app to your own account (its lookups then work in any server, group DM and DM):",
        f"  {links.user}",
        "",
        f"The server link asks for these permissions ({permissions.value}):",
        *(f"  {permission.title}: {permission.why}" for permission in BOT_PERMISSIONS),
        "",
        "The user link needs User Install ticked on the Developer Portal's Installation page.",
    ]
    return "\n".join(lines)
