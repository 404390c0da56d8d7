"""The state every room of the fake Discord shares, and the lookups they all use.

:class:`FakeCore` holds the world (guilds, commands, messages, interactions), what the
fake records (requests, violations), the pipeline's knobs (rate limits, injected faults,
the OpenAPI validator) and the gateway.  The rooms (:mod:`.pipeline`, :mod:`.commands`,
:mod:`.messages`, :mod:`.callbacks`, :mod:`.driver`) are mixins over it, and
:class:`~localdiscord.server.FakeDiscord` puts them together.
"""

# ruff: noqa: ASYNC109 - helpers take a `timeout` like asyncio.wait_for: tests wait on the bot with a bound.

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .gateway import FakeGateway
from .interactions import INTERACTION_TIMEOUT, CommandOverride, InteractionRecord, Upload
from .openapi import OpenApiValidator
from .ratelimits import BucketBook, GlobalLimiter, Injection
from .state import Channel, Guild, PrivateChannel, SnowflakeFactory, User

if TYPE_CHECKING:
    from aiohttp import web

    from .pipeline import RequestRecord, Route

Json = dict[str, Any]
API_PREFIX = "/api/v10"
#: Discord closes a shard with more guilds than this (4011, sharding required).
MAX_GUILDS_PER_SHARD = 2500


class FakeCore:
    """A fake Discord (REST + gateway) for one bot application: its state."""

    def __init__(
        self,
        openapi_path: Path | None = None,
        *,
        token: str = "fake-bot-token",
        host: str = "127.0.0.1",
        port: int = 0,
        bot_name: str = "FakeBot",
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.new_id = SnowflakeFactory()
        self.bot_user = User(id=self.new_id(), username=bot_name, bot=True, global_name=bot_name)
        self.application_id = self.bot_user.id
        self.application_flags = 1 << 23  # APPLICATION_COMMAND_BADGE, as apps with slash commands have
        self.app_owner = User(id=self.new_id(), username="app-owner", global_name="App Owner")
        self.verify_key = secrets.token_hex(32)

        self.guilds: dict[int, Guild] = {}
        #: Servers that never added the app: members who added it to their own account use it there.
        self.outside_guilds: dict[int, Guild] = {}
        #: DMs and group DMs where people use the app they added to their account (and the bot's own DMs).
        self.private_channels: dict[int, PrivateChannel] = {}
        #: Users who added the app to their own account (a user install).
        self.user_installs: set[int] = set()
        self.commands: dict[int | None, list[Json]] = {None: []}
        self.command_syncs: list[tuple[int | None, Any]] = []
        self.command_overrides: dict[tuple[int, str], CommandOverride] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self._interactions_by_token: dict[str, InteractionRecord] = {}
        self._channel_messages: dict[int, dict[int, Json]] = {}
        self._messages: dict[int, Json] = {}
        self.deleted_messages: list[Json] = []
        self._nonces: dict[tuple[int, str], tuple[float, Json]] = {}
        self.uploads: dict[int, Upload] = {}
        self.presence_updates: list[Json] = []

        self.requests: list[RequestRecord] = []
        self.violations: list[str] = []
        self.unhandled: list[str] = []
        #: Requests refused for a foreign Host or Origin (see :func:`foreign_request`).
        self.refused: list[str] = []
        self.rate_limit_hits = 0
        self.injections: list[Injection] = []
        self.buckets = BucketBook()
        self.global_limiter: GlobalLimiter | None = None
        self.interaction_timeout = INTERACTION_TIMEOUT
        self.reject_schema_violations = True
        #: Self-test of the fake: validate its own JSON replies against the spec's response schemas.
        self.check_own_responses = False
        self.own_response_problems: list[str] = []
        #: Request bodies are validated against Discord's OpenAPI spec at ``openapi_path`` (None: not at all).
        self.openapi = OpenApiValidator(openapi_path)

        #: GET /gateway/bot: the shard count Discord recommends, and its identify concurrency.
        self.recommended_shards = 1
        self.max_concurrency = 1
        #: Seconds between IDENTIFYs of one bucket (``shard_id % max_concurrency``); a sooner one
        #: gets op 9 and a violation, as on Discord. Off (0) unless a test sets it (to
        #: ``IDENTIFY_INTERVAL``): most tests restart a bot within 5 s of its last IDENTIFY.
        self.identify_interval = 0.0
        #: More guilds than this on one shard and IDENTIFY is closed with 4011 (sharding required);
        #: None lifts the limit (benchmarks that compare one connection with a bare bot's).
        self.max_guilds_per_shard: int | None = MAX_GUILDS_PER_SHARD
        self.gateway = FakeGateway(self)
        self._routes: list[Route] = []
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """Value for ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``."""
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """Sent in READY; discord.py reconnects here to RESUME."""
        return f"ws://{self.host}:{self.port}/resume-gateway"

    # == gateway facade ===============================================================

    @property
    def identify_payloads(self) -> list[Json]:
        return self.gateway.identify_payloads

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    @property
    def intents(self) -> int | None:
        """Intents of the current session's IDENTIFY."""
        return self.gateway.session.intents if self.gateway.session else None

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Return once the bot IDENTIFYed (all GUILD_CREATEs sent) or RESUMEd."""
        await self.gateway.wait_ready(timeout)

    async def dispatch(self, event: str, data: Json) -> int | None:
        """Send a gateway event; returns its sequence number (None if filtered by intents)."""
        return await self.gateway.dispatch(event, data)

    async def drop_gateway(self, code: int = 4000, *, shard_id: int | None = None) -> None:
        """Close the bot's socket (one shard's, or all); discord.py reconnects to resume_gateway_url and RESUMEs."""
        await self.gateway.drop(code, shard_id=shard_id)

    async def invalidate_session(self) -> None:
        """Send op 9 (not resumable): the bot must IDENTIFY afresh."""
        await self.gateway.send_invalid_session(resumable=False)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT, as Discord does before moving a session."""
        await self.gateway.send_reconnect()

    # == lookups ======================================================================

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel] | None:
        for guild in self.guilds.values():
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return guild, channel
        return None

    def find_place(self, channel_id: int) -> tuple[Guild | None, Channel | PrivateChannel] | None:
        """Any channel an interaction can come from: the bot's guilds', outside guilds', a DM."""
        found = self.find_channel(channel_id)
        if found is not None:
            return found
        for guild in self.outside_guilds.values():
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return guild, channel
        private = self.private_channels.get(channel_id)
        return (None, private) if private is not None else None

    def commands_for(self, guild: Guild | None) -> list[Json]:
        """Commands a member of ``guild`` sees: global plus that guild's."""
        found = list(self.commands.get(None, []))
        if guild is not None:
            found += self.commands.get(guild.id, [])
        return found
