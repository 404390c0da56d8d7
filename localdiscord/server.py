"""FakeDiscord: Discord's REST API and gateway on 127.0.0.1 for a real discord.py bot.

The server is an aiohttp application living in the test's event loop.  REST
requests go through one pipeline (parse, route, auth, injected faults, rate
limits, limit and schema checks, handler, headers, recording) so every rule is
applied the same way to every route.  See the package docstring for the API.

:class:`FakeDiscord` is the one entry; its rooms are mixins over :class:`~.core.FakeCore`
(the shared state): :mod:`.pipeline` (routing, auth, limits, rate limits, faults),
:mod:`.commands` (application commands), :mod:`.messages` (channel messages),
:mod:`.callbacks` (interaction callbacks and webhooks) and :mod:`.driver` (members
using slash commands, autocomplete, buttons, selects and modals).  This module keeps
the lifecycle, the guilds, the route table and the identity and guild reads.
"""

# ruff: noqa: ASYNC109 - helpers take a `timeout` like asyncio.wait_for: tests wait on the bot with a bound.

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .callbacks import CallbackRoutes
from .commands import CommandRoutes
from .core import API_PREFIX
from .driver import MemberDriver
from .gateway import GUILD_MEMBERS
from .guildevents import GuildEventRoutes
from .pipeline import ApiError, ApiReply, ApiRequest, RequestPipeline
from .state import DM, GROUP_DM, Channel, Guild, Member, PrivateChannel, User


class FakeDiscord(RequestPipeline, CommandRoutes, CallbackRoutes, GuildEventRoutes, MemberDriver):
    """A fake Discord (REST + gateway) for one bot application."""

    def __init__(
        self,
        openapi_path: Path | None = None,
        *,
        token: str = "fake-bot-token",
        host: str = "127.0.0.1",
        port: int = 0,
        bot_name: str = "FakeBot",
    ) -> None:
        super().__init__(openapi_path, token=token, host=host, port=port, bot_name=bot_name)
        self._register_routes()

    # == lifecycle ==================================================================

    async def start(self) -> None:
        """Bind the server (random free port unless given) and start the gateway sender."""
        app = web.Application(middlewares=[self._only_local], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_attachment)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_rest)
        app.router.add_route("*", "/{tail:.*}", self._handle_stray)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # The bound port is only known from the runner once a random one was asked for.
        self.port = int(self._runner.addresses[0][1])
        self.gateway.start()

    async def close(self) -> None:
        """Close every websocket, then the server."""
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # == building the world ===========================================================

    def add_guild(
        self,
        name: str,
        owner_id: int | None = None,
        *,
        locale: str = "en-US",
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        """Create a guild the bot is in (GUILD_CREATE if the bot is connected).

        ``shard=(id, count)`` mints a guild id that Discord puts on shard ``id`` of ``count``.
        """
        guild_id = self.new_id.on_shard(*shard) if shard is not None else self.new_id()
        owner = User(id=owner_id or self.new_id(), username=f"{name.lower().replace(' ', '-')}-owner")
        guild = Guild(
            id=guild_id,
            name=name,
            owner_id=owner.id,
            bot_user=self.bot_user,
            new_id=self.new_id,
            preferred_locale=locale,
        )
        guild.members[owner.id] = Member(user=owner, guild_id=guild_id)
        self.rejoin_guild(guild)
        return guild

    def add_outside_guild(self, name: str, owner_id: int | None = None, *, locale: str = "en-US") -> Guild:
        """A server that never added the app: the bot hears nothing of it and may not read or post
        there, but members who added the app to their own account use its commands there."""
        owner = User(id=owner_id or self.new_id(), username=f"{name.lower().replace(' ', '-')}-owner")
        guild = Guild(
            id=self.new_id(),
            name=name,
            owner_id=owner.id,
            bot_user=self.bot_user,
            new_id=self.new_id,
            preferred_locale=locale,
            bot_installed=False,
        )
        guild.members[owner.id] = Member(user=owner, guild_id=guild.id)
        self.outside_guilds[guild.id] = guild
        return guild

    def install_for_user(self, who: Member | User) -> None:
        """A person adds the app to their own account (the user install link)."""
        self.user_installs.add(who.id)

    def uninstall_for_user(self, who: Member | User) -> None:
        """A person removes the app from their account (Settings > Authorized Apps)."""
        self.user_installs.discard(who.id)

    def open_dm(self, who: Member | User, other: Member | User | None = None) -> PrivateChannel:
        """A DM: with the bot (``other`` None), or between two people."""
        user = who.user if isinstance(who, Member) else who
        if other is None:
            channel = PrivateChannel(id=self.new_id(), type=DM, recipients=[user], with_bot=True)
        else:
            peer = other.user if isinstance(other, Member) else other
            channel = PrivateChannel(id=self.new_id(), type=DM, recipients=[user, peer])
        self.private_channels[channel.id] = channel
        return channel

    def open_group_dm(self, name: str, *people: Member | User) -> PrivateChannel:
        """A group DM of some people (never the bot: bots cannot be in group DMs)."""
        users = [p.user if isinstance(p, Member) else p for p in people]
        channel = PrivateChannel(id=self.new_id(), type=GROUP_DM, recipients=users, name=name)
        self.private_channels[channel.id] = channel
        return channel

    def set_guild_locale(self, guild: Guild, locale: str) -> None:
        """A server changes its language in Server Settings: GUILD_UPDATE; later interactions carry it as guild_locale."""
        guild.preferred_locale = locale
        self.gateway.dispatch_soon("GUILD_UPDATE", guild.to_partial_payload())

    def remove_guild(self, guild: Guild) -> None:
        """The bot was removed from a guild: GUILD_DELETE without ``unavailable``."""
        self.guilds.pop(guild.id, None)
        guild.notify = None
        self.gateway.dispatch_soon("GUILD_DELETE", {"id": str(guild.id)})

    def rejoin_guild(self, guild: Guild) -> None:
        """The bot is added to a guild (again, after ``remove_guild``): GUILD_CREATE, as for any join,
        without ``unavailable``, which Discord sends only for a guild of READY's list being
        loaded or back from an outage."""
        guild.notify = self.gateway.dispatch_soon
        self.guilds[guild.id] = guild
        self.commands.setdefault(guild.id, [])
        payload = guild.to_gateway_payload(all_members=bool((self.intents or 0) & GUILD_MEMBERS))
        payload.pop("unavailable", None)
        self.gateway.dispatch_soon("GUILD_CREATE", payload)

    async def delete_channel(self, channel: Channel) -> None:
        """Delete a channel (or thread) and its messages; dispatches CHANNEL_DELETE/THREAD_DELETE."""
        guild = self.guilds[channel.guild_id]
        doomed = [channel] + [c for c in guild.channels.values() if c.parent_id == channel.id and c.is_thread]
        for victim in doomed:
            guild.channels.pop(victim.id, None)
            for message in self._channel_messages.pop(victim.id, {}).values():
                self._messages.pop(int(message["id"]), None)
        for victim in reversed(doomed):
            if victim.is_thread:
                await self.dispatch(
                    "THREAD_DELETE",
                    {
                        "id": str(victim.id),
                        "guild_id": str(guild.id),
                        "parent_id": str(victim.parent_id),
                        "type": victim.type,
                    },
                )
            else:
                await self.dispatch("CHANNEL_DELETE", victim.to_payload())

    # == the route table: every REST route and the room that answers it ================

    def _register_routes(self) -> None:
        r = self._route
        r("GET", "/users/@me", self._get_me)
        r("GET", "/users/{user_id}", self._get_user)
        r("GET", "/oauth2/applications/@me", self._get_application)
        r("GET", "/applications/@me", self._get_application)
        r("GET", "/gateway", self._get_gateway, bot_auth=False)
        r("GET", "/gateway/bot", self._get_gateway_bot)
        for scope in (
            "/applications/{application_id}/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        ):
            r("GET", scope, self._get_commands)
            r("PUT", scope, self._put_commands, check="commands")
            r("POST", scope, self._post_command, check="command")
            r("GET", scope + "/{command_id}", self._get_command)
            r("PATCH", scope + "/{command_id}", self._patch_command, check="command")
            r("DELETE", scope + "/{command_id}", self._delete_command)
        r(
            "POST",
            "/interactions/{interaction_id}/{token}/callback",
            self._callback,
            bot_auth=False,
            check="callback",
            global_exempt=True,
        )
        r(
            "POST",
            "/webhooks/{application_id}/{token}",
            self._followup,
            bot_auth=False,
            check="message",
            global_exempt=True,
        )
        for target in ("@original", "{message_id}"):
            path = "/webhooks/{application_id}/{token}/messages/" + target
            r("GET", path, self._webhook_get, bot_auth=False, global_exempt=True)
            r("PATCH", path, self._webhook_edit, bot_auth=False, check="message", global_exempt=True)
            r("DELETE", path, self._webhook_delete, bot_auth=False, global_exempt=True)
        r("GET", "/channels/{channel_id}", self._get_channel)
        r("GET", "/channels/{channel_id}/messages", self._list_messages)
        r("POST", "/channels/{channel_id}/messages", self._create_message, check="message")
        r("GET", "/channels/{channel_id}/messages/{message_id}", self._get_channel_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_channel_message, check="message")
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_channel_message)
        r("GET", "/guilds/{guild_id}", self._get_guild)
        r("GET", "/guilds/{guild_id}/channels", self._get_guild_channels)
        r("GET", "/guilds/{guild_id}/roles", self._get_guild_roles)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self._get_guild_member)
        events = "/guilds/{guild_id}/scheduled-events"
        r("GET", events, self._list_scheduled_events)
        r("POST", events, self._create_scheduled_event, check="schema")
        r("GET", events + "/{guild_scheduled_event_id}", self._get_scheduled_event)
        r("PATCH", events + "/{guild_scheduled_event_id}", self._edit_scheduled_event, check="schema")
        r("DELETE", events + "/{guild_scheduled_event_id}", self._delete_scheduled_event)
        r("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self._add_member_role)
        r("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self._remove_member_role)

    # == REST: identity and gateway ==========================================================

    async def _get_me(self, req: ApiRequest) -> ApiReply:
        me = self.bot_user.to_payload() | {
            "verified": True,
            "mfa_enabled": False,
            "locale": "en-US",
            "email": None,
            "premium_type": 0,
        }
        return ApiReply(body=me)

    async def _get_user(self, req: ApiRequest) -> ApiReply:
        user_id = int(req.params["user_id"])
        if user_id == self.bot_user.id:
            return ApiReply(body=self.bot_user.to_payload())
        for guild in self.guilds.values():
            if user_id in guild.members:
                return ApiReply(body=guild.members[user_id].user.to_payload())
        raise ApiError(404, 10013, "Unknown User")

    async def _get_application(self, req: ApiRequest) -> ApiReply:
        return ApiReply(
            body={
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": self.verify_key,
                "flags": self.application_flags,
                "owner": self.app_owner.to_payload(),
                "team": None,
                "bot": self.bot_user.to_payload(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "tags": [],
                "approximate_guild_count": len(self.guilds),
                "approximate_user_install_count": 0,
                "approximate_user_authorization_count": 0,
                "flags_new": str(self.application_flags),
                "explicit_content_filter": 0,
                "eligible_oauth2_scopes": ["bot", "applications.commands"],
                "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
                "integration_types_config": {"0": {}},
            }
        )

    async def _get_gateway(self, req: ApiRequest) -> ApiReply:
        return ApiReply(body={"url": self.gateway_url})

    async def _get_gateway_bot(self, req: ApiRequest) -> ApiReply:
        return ApiReply(
            body={
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": max(0, 1000 - self.identify_count),
                    "reset_after": 14_400_000,
                    "max_concurrency": self.max_concurrency,
                },
            }
        )

    # == REST: guilds ================================================================================

    def _guild(self, req: ApiRequest) -> Guild:
        guild = self.guilds.get(int(req.params["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def _get_guild(self, req: ApiRequest) -> ApiReply:
        return ApiReply(body=self._guild(req).to_partial_payload())

    async def _get_guild_channels(self, req: ApiRequest) -> ApiReply:
        guild = self._guild(req)
        return ApiReply(body=[c.to_payload() for c in guild.channels.values() if not c.is_thread])

    async def _get_guild_roles(self, req: ApiRequest) -> ApiReply:
        return ApiReply(body=[r.to_payload() for r in self._guild(req).roles.values()])

    async def _get_guild_member(self, req: ApiRequest) -> ApiReply:
        member = self._guild(req).members.get(int(req.params["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return ApiReply(body=member.to_payload())


def point_discord_py_at(fake: FakeDiscord) -> Callable[[], None]:
    """Aim discord.py's REST base and default gateway at ``fake``; returns an undo function.

    Both are class attributes, so this affects every client in the process;
    call the returned function at teardown.
    """
    import discord.gateway
    import discord.http
    import yarl

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

    def restore() -> None:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return restore


def skip_identify_delay(client: Any) -> None:
    """Drop discord.py's 5 s sleep before a non-initial IDENTIFY (``Client.before_identify_hook``).

    Real discord.py waits that long after an invalid session; tests that
    provoke one use this to stay fast.  It changes nothing else.
    """

    async def no_delay(shard_id: int | None, *, initial: bool = False) -> None:
        return None

    client.before_identify_hook = no_delay


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until true; for tests waiting on gateway side effects."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(interval)
    return True
