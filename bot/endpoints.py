"""Where discord.py sends REST calls and opens the gateway.

discord.py has no public option for this, so the two class attributes are set in
this one place at start-up. Operators use it for REST and gateway proxies; the
tests use it to point the real bot at the fake Discord on 127.0.0.1.
"""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl

from bot.settings import Settings


def apply_discord_endpoints(settings: Settings) -> None:
    """Route every REST call (webhooks and interaction callbacks too) and the gateway."""
    discord.http.Route.BASE = settings.discord_api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
