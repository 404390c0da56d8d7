"""FakeDiscord: Discord's REST API and gateway on 127.0.0.1 for a real discord.py bot.

The server is an aiohttp application living in the test's event loop.  REST
requests go through one pipeline (parse, route, auth, injected faults, rate
limits, limit and schema checks, handler, headers, recording) so every rule is
applied the same way to every route.  See the package docstring for the API.
"""

# ruff: noqa: ASYNC109 - helpers take a `timeout` like asyncio.wait_for: tests wait on the bot with a bound.

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import BodyPartReader, web

from . import limits
from .gateway import GUILD_MEMBERS, MESSAGE_CONTENT, FakeGateway
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    EPHEMERAL,
    INTERACTION_TIMEOUT,
    LOADING,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    CommandNotPermitted,
    CommandOverride,
    InteractionRecord,
    InteractionTimeout,
    InvalidOptions,
    OptionContext,
    Upload,
    build_options,
    command_allowed,
    find_command,
    nest_options,
    new_interaction_token,
)
from .openapi import OpenApiValidator
from .permissions import Permission
from .ratelimits import BucketBook, GlobalLimiter, Injection
from .state import CATEGORY, FORUM, Channel, Guild, Member, SnowflakeFactory, User, iso_timestamp, parse_snowflake

log = logging.getLogger(__name__)

Json = dict[str, Any]
DEFAULT_OPENAPI_PATH = Path(__file__).resolve().parents[2] / "shared" / "discord-openapi.json"
API_PREFIX = "/api/v10"
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
NONCE_WINDOW = 5 * 60.0
#: Discord closes a shard with more guilds than this (4011, sharding required).
MAX_GUILDS_PER_SHARD = 2500
FAKE_BODY = web.RequestKey("fake_body", object)
MESSAGE_EDITABLE = ("content", "embeds", "components", "flags", "allowed_mentions", "poll")


class RequestRecord(NamedTuple):
    """One REST call as the fake answered it."""

    method: str
    path: str
    body: Any
    status: int
    time: float


class ApiError(Exception):
    """Raised by handlers to answer with Discord's JSON error shape."""

    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> Json:
        payload: Json = {"message": self.message, "code": self.code}
        if self.errors:
            payload["errors"] = self.errors
        return payload


def not_a_snowflake(value: object, *where: str) -> ApiError:
    """Discord's answer to an id it cannot read: 400/50035 with the field's path in ``errors``."""
    errors: Json = {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": f'Value "{value}" is not snowflake.'}]}
    for key in reversed(where):
        errors = {key: errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def snowflake(value: object, *where: str) -> int:
    """The id in a path, query or body field (``where`` names it), or Discord's 400 for a malformed one."""
    number = parse_snowflake(value)
    if number is None:
        raise not_a_snowflake(value, *where)
    return number


def count(value: str, where: str, *, low: int, high: int) -> int:
    """A small integer query parameter (``limit``), held within ``low..high``; Discord's 400 when not a number."""
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        problem = {"code": "NUMBER_TYPE_COERCE", "message": f'Value "{value}" is not int.'}
        raise ApiError(400, 50035, "Invalid Form Body", {where: {"_errors": [problem]}})
    return max(low, min(high, int(value)))


def foreign_request(request: web.Request, port: int) -> str | None:
    """Why ``request`` does not come from this machine to the server on ``port``; None when it does.

    Both the local Discord and the preview's page bind 127.0.0.1 only, yet a page of another
    site open in the person's browser can still reach them: through a name of its own that
    resolves to 127.0.0.1 (DNS rebinding: a foreign ``Host``), or directly, by a fetch, a
    form or a WebSocket (a foreign ``Origin``; a browser always sends it on those). The bot
    and the tests send no ``Origin`` at all.
    """
    own = {f"127.0.0.1:{port}", f"localhost:{port}"}
    if request.headers.get("Host") not in own:
        return f"this server answers only at http://127.0.0.1:{port}"
    origin = request.headers.get("Origin")
    if origin is not None and origin.removeprefix("http://") not in own:
        return "cross-origin requests are refused"
    return None


@dataclass
class ApiRequest:
    """What a handler sees: route params, query, JSON body and uploaded files."""

    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    files: list[Upload] = field(default_factory=list)


@dataclass
class ApiReply:
    """A handler's answer; ``body=None`` with 204 means no content."""

    status: int = 200
    body: Any = None


Handler = Callable[[ApiRequest], Awaitable[ApiReply]]


@dataclass
class _Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    bot_auth: bool
    check: str | None
    global_exempt: bool


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _strip_nones(value: Any) -> Any:
    """Discord omits null embed fields in what it returns."""
    if isinstance(value, dict):
        return {k: _strip_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nones(v) for v in value]
    return value


class FakeDiscord:
    """A fake Discord (REST + gateway) for one bot application."""

    def __init__(
        self,
        openapi_path: Path | None = DEFAULT_OPENAPI_PATH,
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
        self._routes: list[_Route] = []
        self._runner: web.AppRunner | None = None
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
        guild.notify = self.gateway.dispatch_soon
        self.guilds[guild.id] = guild
        self.commands.setdefault(guild.id, [])
        self.gateway.dispatch_soon("GUILD_CREATE", self._joined_payload(guild))
        return guild

    def set_guild_locale(self, guild: Guild, locale: str) -> None:
        """A server changes its language in Server Settings: GUILD_UPDATE; later interactions carry it as guild_locale."""
        guild.preferred_locale = locale
        self.gateway.dispatch_soon("GUILD_UPDATE", guild.to_partial_payload())

    def remove_guild(self, guild: Guild) -> None:
        """The bot was removed from a guild: GUILD_DELETE without ``unavailable``."""
        self.guilds.pop(guild.id, None)
        guild.notify = None
        self.gateway.dispatch_soon("GUILD_DELETE", {"id": str(guild.id)})

    def _joined_payload(self, guild: Guild) -> Json:
        """GUILD_CREATE for a guild the bot joins: without ``unavailable``, which Discord sends only
        for a guild of READY's list being loaded or coming back from an outage."""
        payload = guild.to_gateway_payload(all_members=bool((self.intents or 0) & GUILD_MEMBERS))
        payload.pop("unavailable", None)
        return payload

    def rejoin_guild(self, guild: Guild) -> None:
        """The bot is added again to a guild it was removed from: GUILD_CREATE, as for any join."""
        guild.notify = self.gateway.dispatch_soon
        self.guilds[guild.id] = guild
        self.commands.setdefault(guild.id, [])
        self.gateway.dispatch_soon("GUILD_CREATE", self._joined_payload(guild))

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

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel] | None:
        for guild in self.guilds.values():
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return guild, channel
        return None

    def channel_messages(self, channel_id: int | Channel) -> list[Json]:
        """Current messages in a channel, oldest first (deleted ones removed)."""
        cid = channel_id.id if isinstance(channel_id, Channel) else int(channel_id)
        return list(self._channel_messages.get(cid, {}).values())

    def messages_seen_by(self, channel_id: int | Channel, user_id: int) -> list[Json]:
        """A channel as one person's client shows it: its messages plus the ephemeral answers to them."""
        cid = channel_id.id if isinstance(channel_id, Channel) else int(channel_id)
        seen = []
        for message in self._messages.values():
            if int(message["channel_id"]) != cid:
                continue
            if message["flags"] & EPHEMERAL:
                invoker = (message.get("interaction_metadata") or {}).get("user") or {}
                if invoker.get("id") != str(user_id):
                    continue
            seen.append(message)
        return sorted(seen, key=lambda m: int(m["id"]))

    def get_message(self, message_id: int) -> Json | None:
        """Any message the fake knows, including ephemeral interaction responses."""
        return self._messages.get(int(message_id))

    async def user_sends_message(self, channel: Channel, member: Member, content: str) -> Json:
        """A person posts in a channel (MESSAGE_CREATE if the bot has the intent)."""
        message = self._new_message(channel, {"content": content}, author=member.user)
        self._store_message(message)
        await self.dispatch("MESSAGE_CREATE", self._gateway_message(message, member))
        return message

    async def user_deletes_message(self, channel_id: int | Channel, message_id: int | Json) -> None:
        """Someone deletes a message: it disappears and MESSAGE_DELETE is dispatched."""
        cid = channel_id.id if isinstance(channel_id, Channel) else int(channel_id)
        mid = int(message_id["id"]) if isinstance(message_id, dict) else int(message_id)
        message = self._remove_message(cid, mid)
        if message is None:
            raise KeyError(f"no message {mid} in channel {cid}")
        await self.dispatch("MESSAGE_DELETE", self._delete_event(message))

    # == commands =======================================================================

    def commands_for(self, guild: Guild | None) -> list[Json]:
        """Commands a member of ``guild`` sees: global plus that guild's."""
        found = list(self.commands.get(None, []))
        if guild is not None:
            found += self.commands.get(guild.id, [])
        return found

    def override_command_permissions(
        self,
        guild: Guild,
        command: str,
        *,
        allow_everyone: bool = False,
        deny_everyone: bool = False,
        roles: Iterable[int] = (),
        users: Iterable[int] = (),
    ) -> None:
        """Like a server admin editing Integrations > command permissions."""
        self.command_overrides[(guild.id, command)] = CommandOverride(
            allow_everyone=allow_everyone,
            deny_everyone=deny_everyone,
            roles={int(r) for r in roles},
            users={int(u) for u in users},
        )

    # == fault tools ======================================================================

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int = 429,
        retry_after: float = 0.2,
        global_: bool = False,
        times: int = 1,
        via: bool = True,
    ) -> Injection:
        """Answer the next ``times`` matching requests with ``status`` instead of handling them.

        ``path_regex`` is searched in the path below /api/v10, e.g.
        ``r"/interactions/\\d+/[^/]+/callback"``.  ``via=False`` mimics a
        Cloudflare ban (no ``Via`` header), which discord.py does not retry.
        """
        injection = Injection(method.upper(), re.compile(path_regex), status, retry_after, global_, times, via)
        self.injections.append(injection)
        return injection

    def global_rate_limit(self, per_second: int = 50) -> None:
        """Enforce Discord's global limit on bot-token routes (callbacks exempt).

        One window for the bot's token, shared by every client that sends it: all shards and
        all processes of the bot together, as on Discord (requests with another token get 401
        and count for nobody).
        """
        self.global_limiter = GlobalLimiter(per_second)

    def set_bucket_limit(self, method: str, path_regex: str, limit: int, per: float) -> None:
        """Give matching routes a per-route bucket, e.g. messages 5 per 5 s."""
        self.buckets.set_limit(method, path_regex, limit, per)

    # == interactions =====================================================================

    def _interaction_base(
        self, guild: Guild, channel: Channel, member: Member, kind: int, data: Json, locale: str
    ) -> Json:
        interaction_id = self.new_id()
        perms = guild.permissions_in(member, channel)
        channel_payload = channel.to_payload() | {"permissions": str(perms)}
        return {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild": {"id": str(guild.id), "locale": guild.preferred_locale, "features": []},
            "guild_id": str(guild.id),
            "channel": channel_payload,
            "channel_id": str(channel.id),
            "member": member.to_payload(permissions=perms),
            "token": new_interaction_token(interaction_id),
            "version": 1,
            "app_permissions": str(guild.bot_permissions_in(channel)),
            "locale": locale,
            "guild_locale": guild.preferred_locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }

    def _gate(self, guild: Guild, channel: Channel, member: Member, root: Json) -> None:
        """Discord hides commands the member may not use; the fake refuses to invoke them."""
        perms = guild.permissions_in(member, channel)
        if channel.type in (CATEGORY, FORUM):
            raise InvalidOptions(
                f"#{channel.name} (type {channel.type}) has no chat; commands run in channels and posts"
            )
        if not perms & Permission.VIEW_CHANNEL:
            raise CommandNotPermitted(f"{member.user.username} cannot see #{channel.name}")
        if not perms & Permission.USE_APPLICATION_COMMANDS:
            raise CommandNotPermitted(f"{member.user.username} lacks USE_APPLICATION_COMMANDS in #{channel.name}")
        contexts = root.get("contexts")
        if contexts is not None and 0 not in contexts:
            raise CommandNotPermitted(f"/{root['name']} is not available in guilds (contexts={contexts})")
        override = self.command_overrides.get((guild.id, root["name"]))
        if not command_allowed(root, member_permissions=perms, override=override, member=member):
            raise CommandNotPermitted(
                f"{member.user.username} lacks default_member_permissions={root.get('default_member_permissions')} for /{root['name']}"
            )

    def _command_data(
        self,
        guild: Guild,
        channel: Channel,
        member: Member,
        path: str,
        options: Mapping[str, Any] | None,
        *,
        focused: str | None = None,
        focused_value: str = "",
    ) -> tuple[Json, Json]:
        root, chain, leaf = find_command(self.commands_for(guild), path)
        self._gate(guild, channel, member, root)
        if focused is not None:
            schema = next((o for o in leaf if o["name"] == focused), None)
            if schema is None or not schema.get("autocomplete"):
                raise InvalidOptions(f"/{path} option {focused!r} does not have autocomplete")
        ctx = OptionContext(
            guild=guild,
            channel=channel,
            member=member,
            new_id=self.new_id,
            attachment_url=lambda aid, name: f"{self.base_url}/attachments/{channel.id}/{aid}/{name}",
            uploads=self.uploads,
        )
        typed = build_options(leaf, options or {}, ctx, focused=focused, focused_value=focused_value)
        data: Json = {"id": str(root["id"]), "name": root["name"], "type": 1}
        nested = nest_options(chain, typed)
        if nested:
            data["options"] = nested
        if ctx.resolved:
            data["resolved"] = ctx.resolved
        if root.get("guild_id"):
            data["guild_id"] = root["guild_id"]
        return root, data

    async def slash(
        self,
        guild: Guild,
        channel: Channel,
        member: Member,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        locale: str = "en-US",
        wait: bool = True,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """Invoke ``/command [group] [sub]`` as ``member`` would; waits for the first callback.

        Raises :class:`CommandNotPermitted` when Discord would hide the command,
        :class:`UnknownCommand`/:class:`InvalidOptions` when its client would refuse.
        """
        root, data = self._command_data(guild, channel, member, command, options)
        payload = self._interaction_base(guild, channel, member, APPLICATION_COMMAND, data, locale)
        record = await self.dispatch_interaction(payload, command_name=root["name"])
        if wait:
            await record.wait_acknowledged(timeout)
        return record

    async def autocomplete(
        self,
        guild: Guild,
        channel: Channel,
        member: Member,
        command: str,
        focused: str,
        value: str = "",
        options: Mapping[str, Any] | None = None,
        *,
        locale: str = "en-US",
        timeout: float = 5.0,
    ) -> list[Json]:
        """Type ``value`` into option ``focused``; returns the choices the bot answered."""
        root, data = self._command_data(guild, channel, member, command, options, focused=focused, focused_value=value)
        payload = self._interaction_base(guild, channel, member, AUTOCOMPLETE, data, locale)
        record = await self.dispatch_interaction(payload, command_name=root["name"])
        if not await record.wait_acknowledged(timeout):
            raise InteractionTimeout(f"autocomplete for /{command} {focused}={value!r} was not answered")
        if record.callback_type != AUTOCOMPLETE_RESULT:
            raise InteractionTimeout(f"autocomplete answered with callback type {record.callback_type}, not 8")
        return record.choices

    def _find_component(self, message: Json, custom_id: str) -> Json:
        stack = list(message.get("components") or [])
        while stack:
            comp = stack.pop(0)
            if comp.get("custom_id") == custom_id:
                return comp
            stack.extend(comp.get("components") or [])
            if isinstance(comp.get("accessory"), dict):
                stack.append(comp["accessory"])
            if isinstance(comp.get("component"), dict):
                stack.append(comp["component"])
        raise InvalidOptions(f"message {message.get('id')} has no component with custom_id {custom_id!r}")

    def _resolve_message(self, message: Json | int) -> Json:
        mid = int(message["id"]) if isinstance(message, dict) else int(message)
        stored = self._messages.get(mid)
        if stored is None:
            raise InvalidOptions(f"message {mid} is not known to the fake (deleted?)")
        return stored

    async def _component_interaction(
        self,
        guild: Guild,
        channel: Channel,
        member: Member,
        message: Json | int,
        custom_id: str,
        data: Json,
        *,
        locale: str,
        wait: bool,
        timeout: float,
    ) -> InteractionRecord:
        stored = self._resolve_message(message)
        comp = self._find_component(stored, custom_id)
        if comp.get("disabled"):
            raise InvalidOptions(f"component {custom_id!r} is disabled; Discord would not send a click")
        data = {"custom_id": custom_id, "component_type": comp["type"], **data}
        if "id" in comp:
            data["id"] = comp["id"]
        payload = self._interaction_base(guild, channel, member, MESSAGE_COMPONENT, data, locale)
        payload["message"] = stored
        record = await self.dispatch_interaction(payload, source_message_id=int(stored["id"]))
        if wait:
            await record.wait_acknowledged(timeout)
        return record

    async def click(
        self,
        guild: Guild,
        channel: Channel,
        member: Member,
        message: Json | int,
        custom_id: str,
        *,
        locale: str = "en-US",
        wait: bool = True,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """Press a button on a stored message; the payload carries that message."""
        stored = self._resolve_message(message)
        if self._find_component(stored, custom_id).get("type") != 2:
            raise InvalidOptions(f"{custom_id!r} is not a button")
        return await self._component_interaction(
            guild, channel, member, stored, custom_id, {}, locale=locale, wait=wait, timeout=timeout
        )

    async def select(
        self,
        guild: Guild,
        channel: Channel,
        member: Member,
        message: Json | int,
        custom_id: str,
        values: list[str],
        *,
        locale: str = "en-US",
        wait: bool = True,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """Pick ``values`` in a string select (option values checked like Discord's client)."""
        stored = self._resolve_message(message)
        comp = self._find_component(stored, custom_id)
        if comp.get("type") != 3:
            raise InvalidOptions(f"{custom_id!r} is not a string select (type {comp.get('type')})")
        allowed = [o.get("value") for o in comp.get("options") or []]
        bad = [v for v in values if v not in allowed]
        low, high = comp.get("min_values", 1), comp.get("max_values", 1)
        if bad or not low <= len(values) <= high:
            raise InvalidOptions(f"values {values} not allowed for {custom_id!r} (options {allowed}, {low}-{high})")
        return await self._component_interaction(
            guild,
            channel,
            member,
            stored,
            custom_id,
            {"values": list(values)},
            locale=locale,
            wait=wait,
            timeout=timeout,
        )

    async def submit_modal(
        self,
        guild: Guild,
        channel: Channel,
        member: Member,
        modal_from: InteractionRecord,
        values: Mapping[str, str],
        *,
        locale: str = "en-US",
        wait: bool = True,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """Fill and submit the modal the bot opened in answer to ``modal_from``."""
        if modal_from.callback_type != MODAL:
            raise InvalidOptions("that interaction was not answered with a modal")
        modal = modal_from.data
        components = [self._filled(comp, values) for comp in modal.get("components") or []]
        data = {"custom_id": modal["custom_id"], "components": components}
        payload = self._interaction_base(guild, channel, member, MODAL_SUBMIT, data, locale)
        source = modal_from.source_message_id
        if source is not None and source in self._messages:
            payload["message"] = self._messages[source]
        record = await self.dispatch_interaction(payload, source_message_id=source)
        if wait:
            await record.wait_acknowledged(timeout)
        return record

    def _filled(self, comp: Json, values: Mapping[str, str]) -> Json:
        kind = comp.get("type")
        if kind == 1:
            return {
                "type": 1,
                "id": comp.get("id", 0),
                "components": [self._filled(c, values) for c in comp.get("components") or []],
            }
        if kind == 18:  # label wrapping one input
            return {"type": 18, "id": comp.get("id", 0), "component": self._filled(comp["component"], values)}
        if kind == 4:
            value = values.get(comp["custom_id"], comp.get("value") or "")
            if comp.get("required", True) and not value:
                raise InvalidOptions(f"text input {comp['custom_id']!r} is required")
            return {"type": 4, "id": comp.get("id", 0), "custom_id": comp["custom_id"], "value": value}
        if kind == 3:
            picked: Any = values.get(comp["custom_id"], [])
            return {"type": 3, "id": comp.get("id", 0), "custom_id": comp["custom_id"], "values": list(picked)}
        return comp

    async def dispatch_interaction(
        self,
        payload: Json,
        *,
        source_message_id: int | None = None,
        command_name: str | None = None,
    ) -> InteractionRecord:
        """Register and dispatch INTERACTION_CREATE without waiting for the bot."""
        interaction_id = int(payload["id"])
        record = InteractionRecord(
            id=interaction_id,
            token=payload["token"],
            type=int(payload["type"]),
            payload=payload,
            guild_id=int(payload["guild_id"]) if payload.get("guild_id") else None,
            channel_id=int(payload["channel_id"]) if payload.get("channel_id") else None,
            source_message_id=source_message_id,
            command_name=command_name,
            timeout=self.interaction_timeout,
        )
        self.interactions[interaction_id] = record
        self._interactions_by_token[record.token] = record
        record.dispatched_at = time.perf_counter()
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    # == REST pipeline =====================================================================

    @property
    def routes(self) -> list[tuple[str, str]]:
        """Every REST route the fake answers, as (method, template under /api/v10)."""
        return [(route.method, route.template) for route in self._routes]

    def _route(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        bot_auth: bool = True,
        check: str | None = None,
        global_exempt: bool = False,
    ) -> None:
        self._routes.append(_Route(method, template, _compile(template), handler, bot_auth, check, global_exempt))

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

    @web.middleware
    async def _only_local(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """REST, gateway and attachments serve this machine's bot, never a page of another site."""
        refused = foreign_request(request, self.port)
        if refused is not None:
            self.refused.append(f"{request.method} {request.path}: {refused}")
            return self._json(403, {"message": "403: Forbidden", "code": 0})
        return await handler(request)

    async def _handle_stray(self, request: web.Request) -> web.StreamResponse:
        """Anything outside /api/v10 (wrong API version, typo'd base URL)."""
        self.unhandled.append(f"{request.method} {request.path}")
        return self._json(404, {"message": "404: Not Found", "code": 0})

    async def _serve_attachment(self, request: web.Request) -> web.StreamResponse:
        upload = self.uploads.get(parse_snowflake(request.match_info["attachment_id"]) or 0)
        if upload is None:
            return web.Response(status=404)
        return web.Response(body=upload.data, headers={"Content-Type": upload.content_type})

    @staticmethod
    def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
        """JSON with Content-Type exactly ``application/json`` (discord.py compares it verbatim)."""
        all_headers = dict(headers or {})
        if status == 204 or body is None:
            return web.Response(status=204 if body is None else status, headers=all_headers)
        all_headers["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Upload]]:
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            body: Any = None
            files: list[Upload] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                name = part.name
                data = await part.read()
                if name == "payload_json":
                    body = json.loads(data)
                elif name and name.startswith("files["):
                    files.append(
                        Upload(
                            filename=part.filename or name,
                            data=bytes(data),
                            content_type=part.headers.get("Content-Type", "application/octet-stream"),
                        )
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError as exc:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from exc

    def _match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        for route in self._routes:
            if route.method == method:
                m = route.regex.match(path)
                if m:
                    return route, m.groupdict()
        return None

    @staticmethod
    def _major(params: Mapping[str, str]) -> str:
        for key in ("channel_id", "guild_id"):
            if key in params:
                return params[key]
        if "token" in params:
            return f"{params.get('application_id') or params.get('interaction_id')}:{params['token']}"
        return ""

    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        method = request.method
        path = "/" + request.match_info["tail"]
        status = 500
        try:
            response = await self._process(request, method, path)
            status = response.status
            if self.check_own_responses and response.headers.get("Content-Type") == "application/json":
                sent = json.loads(response.body)  # type: ignore[arg-type]
                self.own_response_problems += self.openapi.validate_response(method, path, status, sent)
            return response
        finally:
            self.requests.append(RequestRecord(method, path, request.get(FAKE_BODY), status, started))

    def _too_many(
        self, retry_after: float, *, scope: str, global_: bool, via: bool, headers: Mapping[str, str]
    ) -> web.Response:
        self.rate_limit_hits += 1
        out = dict(headers)
        out.update({"Retry-After": str(max(1, math.ceil(retry_after))), "X-RateLimit-Scope": scope})
        if global_:
            out["X-RateLimit-Global"] = "true"
        if via:
            out["Via"] = "1.1 google"
        return self._json(
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_, "code": 0},
            out,
        )

    async def _process(self, request: web.Request, method: str, path: str) -> web.Response:
        matched = self._match(method, path)
        try:
            body, files = await self._read_body(request)
        except ApiError as err:
            return self._json(err.status, err.body())
        request[FAKE_BODY] = body
        if matched is None:
            self.unhandled.append(f"{method} {path}")
            return self._json(404, {"message": "404: Not Found", "code": 0})
        route, params = matched

        if route.bot_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._json(401, {"message": "401: Unauthorized", "code": 0})
        for name, raw in params.items():
            if name.endswith("_id") and parse_snowflake(raw) is None:
                return self._json(400, not_a_snowflake(raw, name).body())

        for injection in self.injections:
            if injection.matches(method, path):
                injection.hits += 1
                if injection.status == 429:
                    scope = "global" if injection.global_ else "user"
                    return self._too_many(
                        injection.retry_after, scope=scope, global_=injection.global_, via=injection.via, headers={}
                    )
                return self._json(injection.status, {"message": f"{injection.status}: Injected failure", "code": 0})

        if self.global_limiter is not None and route.bot_auth and not route.global_exempt:
            retry = self.global_limiter.check()
            if retry is not None:
                return self._too_many(retry, scope="global", global_=True, via=True, headers={})

        bucket = self.buckets.bucket_for(method, route.template, self._major(params), path)
        if not bucket.take():
            return self._too_many(bucket.reset_after(), scope="user", global_=False, via=True, headers=bucket.headers())
        rl_headers = bucket.headers()

        problems = self._check_limits(route, method, path, body)
        if problems:
            for problem in problems:
                self.violations.append(f"{method} {route.template}: {problem.describe()}")
            invalid = ApiError(400, 50035, "Invalid Form Body", limits.errors_object(problems))
            return self._json(400, invalid.body(), rl_headers)
        if body is not None and route.check is not None:
            schema_problems = self.openapi.validate(method, path, body)
            if schema_problems:
                self.violations.extend(schema_problems)
                if self.reject_schema_violations:
                    invalid = ApiError(
                        400,
                        50035,
                        "Invalid Form Body",
                        {"_errors": [{"code": "SCHEMA", "message": m} for m in schema_problems]},
                    )
                    return self._json(400, invalid.body(), rl_headers)

        api_request = ApiRequest(method, path, params, request.query, body, files)
        try:
            reply = await route.handler(api_request)
        except ApiError as err:
            return self._json(err.status, err.body(), rl_headers)
        return self._json(reply.status, reply.body, rl_headers)

    def _check_limits(self, route: _Route, method: str, path: str, body: Any) -> list[limits.Violation]:
        if route.check == "message":
            return limits.check_message(body)
        if route.check == "callback":
            return limits.check_interaction_callback(body)
        if route.check == "commands":
            return limits.check_commands(body, global_="/guilds/" not in path)
        if route.check == "command":
            return limits.check_command(body)
        return []

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

    # == REST: application commands ===========================================================

    def _command_scope(self, req: ApiRequest) -> int | None:
        if int(req.params["application_id"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" not in req.params:
            return None
        guild_id = int(req.params["guild_id"])
        if guild_id not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        return guild_id

    def _stored_command(self, body: Json, scope: int | None, existing: list[Json]) -> Json:
        """Normalise a command like Discord echoes it, keeping ids stable across syncs."""
        kind = int(body.get("type", 1))
        previous = next((c for c in existing if c["name"] == body["name"] and c.get("type", 1) == kind), None)
        dmp = body.get("default_member_permissions")
        stored: Json = {
            "id": previous["id"] if previous else str(self.new_id()),
            "application_id": str(self.application_id),
            "version": str(self.new_id()),
            "type": kind,
            "name": body["name"],
            "name_localizations": body.get("name_localizations"),
            "description": body.get("description", "") if kind == 1 else "",
            "description_localizations": body.get("description_localizations"),
            "default_member_permissions": None if dmp is None else str(dmp),
            "dm_permission": body.get("dm_permission", True),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
            "nsfw": bool(body.get("nsfw", False)),
        }
        if kind == 1:
            stored["options"] = body.get("options") or []
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    async def _get_commands(self, req: ApiRequest) -> ApiReply:
        return ApiReply(body=self.commands.get(self._command_scope(req), []))

    async def _put_commands(self, req: ApiRequest) -> ApiReply:
        scope = self._command_scope(req)
        self.command_syncs.append((scope, req.body))
        existing = self.commands.get(scope, [])
        self.commands[scope] = [self._stored_command(c, scope, existing) for c in req.body or []]
        return ApiReply(body=self.commands[scope])

    async def _post_command(self, req: ApiRequest) -> ApiReply:
        scope = self._command_scope(req)
        existing = self.commands.setdefault(scope, [])
        stored = self._stored_command(req.body, scope, existing)
        self.commands[scope] = [c for c in existing if c["id"] != stored["id"]] + [stored]
        return ApiReply(status=201, body=stored)

    def _command_by_id(self, req: ApiRequest) -> tuple[int | None, Json]:
        scope = self._command_scope(req)
        for command in self.commands.get(scope, []):
            if command["id"] == req.params["command_id"]:
                return scope, command
        raise ApiError(404, 10063, "Unknown application command")

    async def _get_command(self, req: ApiRequest) -> ApiReply:
        return ApiReply(body=self._command_by_id(req)[1])

    async def _patch_command(self, req: ApiRequest) -> ApiReply:
        scope, command = self._command_by_id(req)
        updated = self._stored_command({**command, **(req.body or {})}, scope, self.commands[scope])
        self.commands[scope] = [updated if c["id"] == command["id"] else c for c in self.commands[scope]]
        return ApiReply(body=updated)

    async def _delete_command(self, req: ApiRequest) -> ApiReply:
        scope, command = self._command_by_id(req)
        self.commands[scope] = [c for c in self.commands[scope] if c["id"] != command["id"]]
        return ApiReply(status=204)

    # == messages ============================================================================

    def _attachments(self, channel_id: int, body: Json, files: list[Upload], previous: list[Json]) -> list[Json]:
        """Match ``attachments[].id`` (upload index) to ``files[n]`` and keep retained ones."""
        described = {str(a.get("id")): a for a in body.get("attachments") or []} if "attachments" in body else None
        kept = previous if described is None else [a for a in previous if a["id"] in described]
        result = list(kept)
        for index, upload in enumerate(files):
            meta = (described or {}).get(str(index), {})
            attachment_id = self.new_id()
            self.uploads[attachment_id] = upload
            filename = meta.get("filename") or upload.filename
            url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
            entry: Json = {
                "id": str(attachment_id),
                "filename": filename,
                "size": len(upload.data),
                "url": url,
                "proxy_url": url,
                "content_type": upload.content_type,
            }
            if meta.get("description"):
                entry["description"] = meta["description"]
            result.append(entry)
        return result

    @staticmethod
    def _number_components(components: list[Json]) -> list[Json]:
        """Discord assigns every component a numeric ``id`` when it stores a message."""
        counter = 0

        def walk(comp: Json) -> Json:
            nonlocal counter
            counter += 1
            out = {**comp, "id": comp.get("id") or counter}
            if isinstance(comp.get("components"), list):
                out["components"] = [walk(c) for c in comp["components"]]
            if isinstance(comp.get("accessory"), dict):
                out["accessory"] = walk(comp["accessory"])
            return out

        return [walk(c) for c in components]

    def _new_message(
        self,
        channel: Channel,
        body: Json,
        *,
        author: User | None = None,
        files: Iterable[Upload] = (),
        record: InteractionRecord | None = None,
        message_type: int = 0,
    ) -> Json:
        message_id = self.new_id()
        author = author or self.bot_user
        message: Json = {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "guild_id": str(channel.guild_id),
            "author": author.to_payload(),
            "content": body.get("content") or "",
            "timestamp": iso_timestamp(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._attachments(channel.id, body, list(files), []),
            "embeds": [_strip_nones({"type": "rich", **e}) for e in body.get("embeds") or []],
            "components": self._number_components(body.get("components") or []),
            "pinned": False,
            "type": message_type,
            "flags": int(body.get("flags") or 0),
        }
        if body.get("poll"):
            message["poll"] = body["poll"]
        reference = body.get("message_reference")
        if isinstance(reference, dict) and reference.get("message_id"):
            referenced = self._messages.get(snowflake(reference["message_id"], "message_reference", "message_id"))
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {
                        "message_reference": {
                            "_errors": [{"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}]
                        }
                    },
                )
            message["message_reference"] = {
                "type": 0,
                "channel_id": str(channel.id),
                "guild_id": str(channel.guild_id),
                "message_id": str(reference["message_id"]),
            }
            message["referenced_message"] = referenced
            message["type"] = 19
        if record is not None:
            user = record.payload.get("member", {}).get("user") or record.payload.get("user")
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["interaction_metadata"] = {
                "id": str(record.id),
                "type": record.type,
                "user": user,
                "authorizing_integration_owners": record.payload.get("authorizing_integration_owners", {}),
            }
            if record.type == APPLICATION_COMMAND:
                message["interaction_metadata"]["name"] = record.command_name
                message["interaction_metadata"]["command_type"] = 1
                message["interaction"] = {
                    "id": str(record.id),
                    "type": record.type,
                    "name": record.command_name,
                    "user": user,
                }
            if record.source_message_id is not None:
                message["interaction_metadata"]["interacted_message_id"] = str(record.source_message_id)
        return message

    def _store_message(self, message: Json) -> None:
        """Keep a message; ephemeral ones are reachable by id only (clicks), not in the channel."""
        message_id = int(message["id"])
        self._messages[message_id] = message
        if not message["flags"] & EPHEMERAL:
            channel_id = int(message["channel_id"])
            self._channel_messages.setdefault(channel_id, {})[message_id] = message
            found = self.find_channel(channel_id)
            if found is not None:
                found[1].last_message_id = message_id

    def _remove_message(self, channel_id: int, message_id: int) -> Json | None:
        message = self._channel_messages.get(channel_id, {}).pop(message_id, None)
        if message is None:
            candidate = self._messages.get(message_id)
            if candidate is None or int(candidate["channel_id"]) != channel_id:
                return None
            message = candidate
        self._messages.pop(message_id, None)
        self.deleted_messages.append(message)
        return message

    def _apply_edit(self, message: Json, body: Json, files: list[Upload]) -> Json:
        for key in MESSAGE_EDITABLE:
            if key in body:
                value = body[key]
                if key == "embeds":
                    value = [_strip_nones({"type": "rich", **e}) for e in value or []]
                elif key == "components":
                    value = self._number_components(value or [])
                elif key == "flags":
                    # Ephemeral cannot be toggled by an edit; loading clears once edited.
                    value = (int(value or 0) & ~EPHEMERAL) | (message["flags"] & EPHEMERAL)
                elif key == "content":
                    value = value or ""
                if key != "allowed_mentions":
                    message[key] = value
        if "attachments" in body or files:
            message["attachments"] = self._attachments(int(message["channel_id"]), body, files, message["attachments"])
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = iso_timestamp()
        return message

    @staticmethod
    def _is_empty(body: Json, files: list[Upload]) -> bool:
        return not (
            body.get("content")
            or body.get("embeds")
            or body.get("components")
            or body.get("poll")
            or body.get("sticker_ids")
            or files
        )

    def visible(self, message: Json) -> Json:
        """A message as this bot may read it.

        Without the MESSAGE_CONTENT intent Discord blanks content, embeds,
        attachments and components of other people's messages unless the bot
        is mentioned, both on the gateway and over REST.
        """
        if int(message["author"]["id"]) == self.bot_user.id or (self.intents or 0) & MESSAGE_CONTENT:
            return message
        if f"<@{self.bot_user.id}>" in message.get("content", ""):
            return message
        return {**message, "content": "", "embeds": [], "attachments": [], "components": []}

    def _gateway_message(self, message: Json, member: Member | None = None) -> Json:
        event = dict(self.visible(message))
        if member is not None:
            event["member"] = member.to_payload(include_user=False)
        return event

    def _delete_event(self, message: Json) -> Json:
        return {"id": message["id"], "channel_id": message["channel_id"], "guild_id": message.get("guild_id")}

    async def _announce_message(self, event: str, message: Json) -> None:
        if not message["flags"] & EPHEMERAL:
            guild = self.guilds.get(int(message["guild_id"]))
            member = guild.members.get(int(message["author"]["id"])) if guild else None
            await self.dispatch(event, self._gateway_message(message, member))

    # == REST: interaction callbacks and webhooks ================================================

    def _channel_of(self, record: InteractionRecord) -> Channel:
        found = self.find_channel(record.channel_id or 0)
        if found is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return found[1]

    async def _callback(self, req: ApiRequest) -> ApiReply:
        record = self.interactions.get(int(req.params["interaction_id"]))
        if record is None or record.token != req.params["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if record.answered:
            record.rejected_callbacks.append((400, 40060))
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if record.expired:
            record.rejected_callbacks.append((404, 10062))
            raise ApiError(404, 10062, "Unknown interaction")
        body: Json = req.body or {}
        kind = body.get("type")
        data = body.get("data") or {}
        allowed = {
            APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
            MESSAGE_COMPONENT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
            MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
        }[record.type]
        if kind not in allowed:
            problem = (
                f"callback type {kind} is not valid for interaction type {record.type} (allowed {sorted(allowed)})"
            )
            self.violations.append(f"POST /interactions/{{id}}/{{token}}/callback: {problem}")
            record.rejected_callbacks.append((400, 50035))
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {"type": {"_errors": [{"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": problem}]}},
            )
        if kind == CHANNEL_MESSAGE and self._is_empty(data, req.files):
            self.violations.append("POST /interactions/{id}/{token}/callback: Cannot send an empty message")
            record.rejected_callbacks.append((400, 50006))
            raise ApiError(400, 50006, "Cannot send an empty message")

        record.callback = body
        record.callback_files = list(req.files)
        record.acknowledged_at = time.perf_counter()
        message: Json | None = None
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            channel = self._channel_of(record)
            message_body = (
                data
                if kind == CHANNEL_MESSAGE
                else {"content": "", "flags": LOADING | (int(data.get("flags") or 0) & EPHEMERAL)}
            )
            message_type = 20 if record.type == APPLICATION_COMMAND else 0
            message = self._new_message(
                channel, message_body, files=req.files, record=record, message_type=message_type
            )
            self._store_message(message)
            record.original = message
            await self._announce_message("MESSAGE_CREATE", message)
        elif kind == UPDATE_MESSAGE and record.source_message_id is not None:
            source = self._messages.get(record.source_message_id)
            if source is not None:
                message = self._apply_edit(source, data, req.files)
                record.original = message
                await self._announce_message("MESSAGE_UPDATE", message)
        record._notify()

        if not _truthy(req.query.get("with_response")):
            return ApiReply(status=204)
        interaction: Json = {
            "id": str(record.id),
            "type": record.type,
            "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
            "channel_id": str(record.channel_id),
            "guild_id": str(record.guild_id),
        }
        if message is not None:
            interaction["response_message_id"] = message["id"]
        body_out: Json = {"interaction": interaction}
        if message is not None and kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            # Discord's spec returns a resource only for messages it created or updated (4, 7).
            body_out["resource"] = {"type": kind, "message": message}
        return ApiReply(body=body_out)

    def _webhook_record(self, req: ApiRequest) -> InteractionRecord:
        if int(req.params["application_id"]) != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        record = self._interactions_by_token.get(req.params["token"])
        if record is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        if record.token_expired:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return record

    def _webhook_target(self, req: ApiRequest, record: InteractionRecord) -> Json:
        target = req.path.rsplit("/", 1)[-1]
        if target == "@original":
            if record.original is not None and not record.original_deleted:
                return record.original
            source = record.source_message_id
            if (
                record.callback_type in (DEFERRED_UPDATE, UPDATE_MESSAGE)
                and source is not None
                and source in self._messages
            ):
                return self._messages[source]
            raise ApiError(404, 10008, "Unknown Message")
        wanted = int(target)
        candidates = [*record.followups, *([record.original] if record.original else [])]
        for message in candidates:
            if int(message["id"]) == wanted and wanted in self._messages:
                return self._messages[wanted]
        raise ApiError(404, 10008, "Unknown Message")

    async def _followup(self, req: ApiRequest) -> ApiReply:
        record = self._webhook_record(req)
        if not record.answered:
            raise ApiError(404, 10015, "Unknown Webhook")
        body: Json = req.body or {}
        if self._is_empty(body, req.files):
            self.violations.append("POST /webhooks/{application_id}/{token}: Cannot send an empty message")
            raise ApiError(400, 50006, "Cannot send an empty message")
        original = record.original
        if original is not None and original["flags"] & LOADING and int(original["id"]) in self._messages:
            # The first follow-up after a deferral replaces the "is thinking..." message (discord.py:
            # "send a followup message ... to make this thinking state go away"); the deferral's
            # ephemeral flag stands.
            message = self._apply_edit(original, body, req.files)
            message["edited_timestamp"] = None
            record.followups.append(message)
            record._notify()
            await self._announce_message("MESSAGE_UPDATE", message)
        else:
            message = self._new_message(self._channel_of(record), body, files=req.files, record=record)
            self._store_message(message)
            record.followups.append(message)
            record._notify()
            await self._announce_message("MESSAGE_CREATE", message)
        if _truthy(req.query.get("wait")):
            return ApiReply(body=message)
        return ApiReply(status=204)

    async def _webhook_get(self, req: ApiRequest) -> ApiReply:
        record = self._webhook_record(req)
        return ApiReply(body=self._webhook_target(req, record))

    async def _webhook_edit(self, req: ApiRequest) -> ApiReply:
        record = self._webhook_record(req)
        message = self._webhook_target(req, record)
        body: Json = req.body or {}
        edited = self._apply_edit(message, body, req.files)
        if req.path.endswith("/@original"):
            record.original_edits.append(body)
        record._notify()
        await self._announce_message("MESSAGE_UPDATE", edited)
        return ApiReply(body=edited)

    async def _webhook_delete(self, req: ApiRequest) -> ApiReply:
        record = self._webhook_record(req)
        message = self._webhook_target(req, record)
        self._remove_message(int(message["channel_id"]), int(message["id"]))
        if record.original is message:
            record.original_deleted = True
        record._notify()
        if not message["flags"] & EPHEMERAL:
            await self.dispatch("MESSAGE_DELETE", self._delete_event(message))
        return ApiReply(status=204)

    # == REST: channels ===========================================================================

    def _channel_for_bot(self, req: ApiRequest, *, need: int = 0) -> tuple[Guild, Channel, int]:
        found = self.find_channel(int(req.params["channel_id"]))
        if found is None:
            raise ApiError(404, 10003, "Unknown Channel")
        guild, channel = found
        perms = guild.bot_permissions_in(channel)
        if not perms & Permission.VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if need and (perms & need) != need:
            raise ApiError(403, 50013, "Missing Permissions")
        return guild, channel, perms

    async def _get_channel(self, req: ApiRequest) -> ApiReply:
        _, channel, _ = self._channel_for_bot(req)
        return ApiReply(body=channel.to_payload())

    async def _list_messages(self, req: ApiRequest) -> ApiReply:
        _, channel, perms = self._channel_for_bot(req)
        if not perms & Permission.READ_MESSAGE_HISTORY:
            return ApiReply(body=[])
        limit = count(req.query.get("limit", "50"), "limit", low=1, high=100)
        messages = list(reversed(self.channel_messages(channel.id)))
        if "before" in req.query:
            before = snowflake(req.query["before"], "before")
            messages = [m for m in messages if int(m["id"]) < before]
        if "after" in req.query:
            after = snowflake(req.query["after"], "after")
            messages = [m for m in messages if int(m["id"]) > after]
            messages = messages[-limit:]
        return ApiReply(body=[self.visible(m) for m in messages[:limit]])

    async def _create_message(self, req: ApiRequest) -> ApiReply:
        body: Json = req.body or {}
        _, channel, perms = self._channel_for_bot(req)
        if channel.type in (CATEGORY, FORUM):
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        if channel.is_thread and channel.archived:
            raise ApiError(400, 50083, "Thread is archived")
        send = Permission.SEND_MESSAGES_IN_THREADS if channel.is_thread else Permission.SEND_MESSAGES
        if not perms & send:
            raise ApiError(403, 50013, "Missing Permissions")
        if body.get("embeds") and not perms & Permission.EMBED_LINKS:
            raise ApiError(403, 50013, "Missing Permissions")
        if req.files and not perms & Permission.ATTACH_FILES:
            raise ApiError(403, 50013, "Missing Permissions")
        if self._is_empty(body, req.files):
            self.violations.append("POST /channels/{channel_id}/messages: Cannot send an empty message")
            raise ApiError(400, 50006, "Cannot send an empty message")
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            # Discord: the same author and nonce within a few minutes returns the first message.
            seen = self._nonces.get((self.bot_user.id, str(nonce)))
            if seen is not None and time.monotonic() - seen[0] < NONCE_WINDOW and int(seen[1]["id"]) in self._messages:
                return ApiReply(body=seen[1])
        message = self._new_message(channel, body, files=req.files)
        if nonce is not None:
            message["nonce"] = nonce
            if body.get("enforce_nonce"):
                self._nonces[(self.bot_user.id, str(nonce))] = (time.monotonic(), message)
        self._store_message(message)
        await self._announce_message("MESSAGE_CREATE", message)
        return ApiReply(body=message)

    def _channel_message(self, req: ApiRequest) -> tuple[Guild, Channel, int, Json]:
        guild, channel, perms = self._channel_for_bot(req)
        message = self._channel_messages.get(channel.id, {}).get(int(req.params["message_id"]))
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return guild, channel, perms, message

    async def _get_channel_message(self, req: ApiRequest) -> ApiReply:
        _, _, perms, message = self._channel_message(req)
        if not perms & Permission.READ_MESSAGE_HISTORY:
            raise ApiError(403, 50001, "Missing Access")
        return ApiReply(body=self.visible(message))

    async def _edit_channel_message(self, req: ApiRequest) -> ApiReply:
        _, _, perms, message = self._channel_message(req)
        if int(message["author"]["id"]) != self.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body: Json = req.body or {}
        if body.get("embeds") and not perms & Permission.EMBED_LINKS:
            raise ApiError(403, 50013, "Missing Permissions")
        edited = self._apply_edit(message, body, req.files)
        await self._announce_message("MESSAGE_UPDATE", edited)
        return ApiReply(body=edited)

    async def _delete_channel_message(self, req: ApiRequest) -> ApiReply:
        _, channel, perms, message = self._channel_message(req)
        if int(message["author"]["id"]) != self.bot_user.id and not perms & Permission.MANAGE_MESSAGES:
            raise ApiError(403, 50013, "Missing Permissions")
        self._remove_message(channel.id, int(message["id"]))
        await self.dispatch("MESSAGE_DELETE", self._delete_event(message))
        return ApiReply(status=204)

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
