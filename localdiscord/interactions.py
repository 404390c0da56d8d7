"""Interaction records and the INTERACTION_CREATE payloads Discord would send.

Discord builds an interaction from the command the application registered:
it walks subcommand groups, types every option by the registered schema,
fills ``resolved`` for users/roles/channels/attachments and refuses to show a
command to a member lacking its ``default_member_permissions``.  The helpers
here do the same from the commands the bot synced with the fake.
"""

# ruff: noqa: ASYNC109 - helpers take a `timeout` like asyncio.wait_for: tests wait on the bot with a bound.

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .permissions import ALL_PERMISSIONS, Permission
from .state import THREAD_TYPES, Channel, Guild, Member, Role, User

Json = dict[str, Any]

INTERACTION_TIMEOUT = 3.0
WEBHOOK_TOKEN_TTL = 15 * 60.0
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Interaction types (what the user did) and callback types (how the bot answered).
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9


class FakeDiscordError(Exception):
    """Base class for misuse the real Discord client would never allow."""


class UnknownCommand(FakeDiscordError, LookupError):
    """The bot never synced a command with this name/path for this guild."""


class InvalidOptions(FakeDiscordError, ValueError):
    """Options Discord's client would refuse to send (wrong type, missing, out of range)."""


class CommandNotPermitted(FakeDiscordError, PermissionError):
    """Discord hides the command from this member here. ``reason``: "permission" (they lack its
    default_member_permissions or cannot use commands in the channel), "context" (not offered in
    this kind of place) or "install" (no install of the app that offers it here)."""

    def __init__(self, message: str, reason: str = "permission") -> None:
        super().__init__(message)
        self.reason = reason


class InteractionTimeout(FakeDiscordError, TimeoutError):
    """The bot did not answer in time where an answer was required to return a value."""


@dataclass
class Upload:
    """A file a user attaches to an attachment option."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(eq=False)
class InteractionRecord:
    """Everything that happened to one interaction, as Discord saw it.

    ``callback`` is the accepted initial response body; refused attempts (late,
    duplicate, invalid) land in ``rejected_callbacks`` as ``(status, code)``.
    Times are ``time.perf_counter()`` values so benchmarks can subtract them.
    """

    id: int
    token: str
    type: int
    payload: Json
    guild_id: int | None
    channel_id: int | None
    dispatched_at: float = 0.0
    created_monotonic: float = field(default_factory=time.monotonic)
    acknowledged_at: float | None = None
    callback: Json | None = None
    callback_files: list[Upload] = field(default_factory=list)
    rejected_callbacks: list[tuple[int, int]] = field(default_factory=list)
    original: Json | None = None
    original_edits: list[Json] = field(default_factory=list)
    original_deleted: bool = False
    followups: list[Json] = field(default_factory=list)
    source_message_id: int | None = None
    command_name: str | None = None
    timeout: float = INTERACTION_TIMEOUT
    #: Discord makes the answers ephemeral whatever the bot asks (see ``MemberDriver.forces_ephemeral``).
    forced_ephemeral: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    # -- what the bot answered ------------------------------------------------

    @property
    def answered(self) -> bool:
        return self.callback is not None

    @property
    def callback_type(self) -> int | None:
        return self.callback.get("type") if self.callback else None

    @property
    def data(self) -> Json:
        """The callback's ``data`` (message body, choices, modal) or ``{}``."""
        return (self.callback or {}).get("data") or {}

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        """True when the response (or deferral) was flagged ephemeral (64)."""
        return bool(self.flags & EPHEMERAL)

    @property
    def content(self) -> str | None:
        return self.data.get("content")

    @property
    def embeds(self) -> list[Json]:
        return list(self.data.get("embeds") or [])

    @property
    def components(self) -> list[Json]:
        return list(self.data.get("components") or [])

    @property
    def choices(self) -> list[Json]:
        return list(self.data.get("choices") or [])

    @property
    def attachments(self) -> list[Json]:
        return list(self.data.get("attachments") or [])

    @property
    def latency(self) -> float | None:
        """Seconds from dispatch to the accepted initial callback."""
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.dispatched_at

    @property
    def expired(self) -> bool:
        """Past Discord's 3 s window (``timeout``) for the initial callback."""
        return time.monotonic() - self.created_monotonic > self.timeout

    @property
    def token_expired(self) -> bool:
        """Past the 15 min during which the webhook token works."""
        return time.monotonic() - self.created_monotonic > WEBHOOK_TOKEN_TTL

    def age(self, seconds: float) -> None:
        """Pretend the interaction was created ``seconds`` earlier (expiry tests)."""
        self.created_monotonic -= seconds

    # -- waiting ----------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[InteractionRecord], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate(self)`` holds; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return predicate(self)
        return True

    async def wait_acknowledged(self, timeout: float = 5.0) -> bool:
        """Wait for the initial callback; False if none arrived in time."""
        return await self.wait_for(lambda r: r.answered, timeout)

    async def wait_followups(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Wait for at least ``n`` follow-up messages."""
        return await self.wait_for(lambda r: len(r.followups) >= n, timeout)

    async def wait_edits(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Wait for at least ``n`` edits of the original response."""
        return await self.wait_for(lambda r: len(r.original_edits) >= n, timeout)


def new_interaction_token(interaction_id: int) -> str:
    """Opaque token shaped like Discord's (base64 prefix + random tail)."""
    prefix = base64.urlsafe_b64encode(f"interaction:{interaction_id}:".encode()).decode().rstrip("=")
    return prefix + secrets.token_urlsafe(96)


# -- command lookup and option typing -------------------------------------------


def find_command(commands: list[Json], path: str, *, command_type: int = 1) -> tuple[Json, list[Json], list[Json]]:
    """Resolve "settings spoilers add" to (root command, [group, sub] options, leaf option schemas)."""
    parts = path.split()
    if not parts:
        raise UnknownCommand("empty command path")
    root = next((c for c in commands if c.get("name") == parts[0] and c.get("type", 1) == command_type), None)
    if root is None:
        known = sorted(c.get("name", "?") for c in commands)
        raise UnknownCommand(f"/{parts[0]} was not synced (known: {known})")
    chain: list[Json] = []
    node = root
    for part in parts[1:]:
        child = next((o for o in node.get("options") or [] if o.get("name") == part and o.get("type") in (1, 2)), None)
        if child is None:
            raise UnknownCommand(f"/{path}: no subcommand {part!r} under {node.get('name')!r}")
        chain.append(child)
        node = child
    leaf_options = node.get("options") or []
    if any(o.get("type") in (1, 2) for o in leaf_options):
        raise UnknownCommand(f"/{path} is a group; name a subcommand")
    return root, chain, leaf_options


def nest_options(chain: list[Json], leaf: list[Json]) -> list[Json]:
    """Wrap leaf options in the subcommand(-group) layers Discord sends."""
    options = leaf
    for layer in reversed(chain):
        options = [{"name": layer["name"], "type": layer["type"], "options": options}]
    return options


@dataclass
class OptionContext:
    """What typing an option needs: where, who, and a sink for uploads."""

    guild: Guild | None
    channel: Any
    member: Any
    new_id: Callable[[], int]
    attachment_url: Callable[[int, str], str]
    uploads: dict[int, Upload]
    resolved: Json = field(default_factory=dict)

    def _section(self, name: str) -> Json:
        return self.resolved.setdefault(name, {})

    def _guild(self, kind: str) -> Guild:
        if self.guild is None:
            raise InvalidOptions(f"{kind} options in private channels are not modelled by the local Discord")
        return self.guild

    def resolve_user(self, who: Member | User | int) -> str:
        self._guild("user")
        assert self.guild is not None
        user_id = who.id if isinstance(who, (Member, User)) else int(who)
        member = self.guild.members.get(user_id)
        user = member.user if member else who if isinstance(who, User) else None
        if user is None:
            raise InvalidOptions(f"user {user_id} is not known to the fake")
        self._section("users")[str(user_id)] = user.to_payload()
        if member is not None:
            perms = self.guild.permissions_in(member, self.channel)
            self._section("members")[str(user_id)] = member.to_payload(permissions=perms, include_user=False)
        return str(user_id)

    def resolve_role(self, role: Role | int) -> str:
        self._guild("role")
        assert self.guild is not None
        role_id = role.id if isinstance(role, Role) else int(role)
        if role_id not in self.guild.roles:
            raise InvalidOptions(f"role {role_id} is not in guild {self.guild.name}")
        self._section("roles")[str(role_id)] = self.guild.roles[role_id].to_payload()
        return str(role_id)

    def resolve_channel(self, channel: Channel | int, allowed_types: list[int] | None) -> str:
        channel_id = channel.id if isinstance(channel, Channel) else int(channel)
        guild = self._guild("channel")
        target = guild.channels.get(channel_id)
        if target is None:
            raise InvalidOptions(f"channel {channel_id} is not in guild {guild.name}")
        if allowed_types and target.type not in allowed_types:
            raise InvalidOptions(f"#{target.name} (type {target.type}) is not one of channel_types {allowed_types}")
        payload: Json = {
            "id": str(target.id),
            "name": target.name,
            "type": target.type,
            "guild_id": str(target.guild_id),
            "parent_id": str(target.parent_id) if target.parent_id else None,
            "flags": 0,
            "permissions": str(guild.permissions_in(self.member, target)),
        }
        if target.type in THREAD_TYPES:
            full = target.to_payload()
            payload.update({k: full[k] for k in ("owner_id", "member_count", "message_count", "thread_metadata")})
        self._section("channels")[str(target.id)] = payload
        return str(target.id)

    def resolve_attachment(self, value: Upload | tuple[str, bytes] | bytes) -> str:
        if isinstance(value, tuple):
            value = Upload(value[0], value[1])
        elif isinstance(value, bytes):
            value = Upload("file.bin", value)
        attachment_id = self.new_id()
        self.uploads[attachment_id] = value
        url = self.attachment_url(attachment_id, value.filename)
        self._section("attachments")[str(attachment_id)] = {
            "id": str(attachment_id),
            "filename": value.filename,
            "size": len(value.data),
            "url": url,
            "proxy_url": url,
            "content_type": value.content_type,
            "ephemeral": True,
        }
        return str(attachment_id)


def type_option(schema: Json, value: Any, ctx: OptionContext) -> Any:
    """Convert a test-supplied value to the JSON Discord sends for this option type."""
    kind = schema["type"]
    name = schema["name"]
    if kind == 3:
        if not isinstance(value, str):
            raise InvalidOptions(f"option {name!r} is a string option, got {value!r}")
        low, high = schema.get("min_length", 0), schema.get("max_length", 6000)
        if not low <= len(value) <= high:
            raise InvalidOptions(f"option {name!r} must be {low}-{high} characters long")
        result: Any = value
    elif kind == 4:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidOptions(f"option {name!r} is an integer option, got {value!r}")
        result = value
    elif kind == 5:
        if not isinstance(value, bool):
            raise InvalidOptions(f"option {name!r} is a boolean option, got {value!r}")
        return value
    elif kind == 10:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidOptions(f"option {name!r} is a number option, got {value!r}")
        result = value
    elif kind == 6:
        return ctx.resolve_user(value)
    elif kind == 7:
        return ctx.resolve_channel(value, schema.get("channel_types"))
    elif kind == 8:
        return ctx.resolve_role(value)
    elif kind == 9:
        return ctx.resolve_role(value) if isinstance(value, Role) else ctx.resolve_user(value)
    elif kind == 11:
        return ctx.resolve_attachment(value)
    else:
        raise InvalidOptions(f"option {name!r} has unsupported type {kind}")
    if kind in (4, 10):
        low, high = schema.get("min_value"), schema.get("max_value")
        if (low is not None and result < low) or (high is not None and result > high):
            raise InvalidOptions(f"option {name!r} must be within [{low}, {high}], got {result}")
    choices = schema.get("choices")
    if choices and result not in [c["value"] for c in choices]:
        raise InvalidOptions(f"option {name!r} must be one of {[c['value'] for c in choices]}, got {result!r}")
    return result


def build_options(
    leaf: list[Json],
    values: Mapping[str, Any],
    ctx: OptionContext,
    *,
    focused: str | None = None,
    focused_value: str = "",
) -> list[Json]:
    """Typed option list in the command's declared order; autocomplete marks ``focused``."""
    by_name = {o["name"]: o for o in leaf}
    unknown = set(values) - set(by_name)
    if focused is not None and focused not in by_name:
        unknown.add(focused)
    if unknown:
        raise InvalidOptions(f"unknown options {sorted(unknown)}; declared: {sorted(by_name)}")
    options: list[Json] = []
    for schema in leaf:
        name = schema["name"]
        if name == focused:
            options.append({"name": name, "type": schema["type"], "value": focused_value, "focused": True})
            continue
        if name not in values:
            if schema.get("required") and focused is None:
                raise InvalidOptions(f"required option {name!r} missing")
            continue
        options.append({"name": name, "type": schema["type"], "value": type_option(schema, values[name], ctx)})
    return options


def command_allowed(
    command: Json,
    *,
    member_permissions: int,
    override: CommandOverride | None,
    member: Member,
) -> bool:
    """Discord's gate: default_member_permissions unless the server overrode it."""
    if member_permissions == ALL_PERMISSIONS or member_permissions & Permission.ADMINISTRATOR:
        return True
    if override is not None:
        if member.id in override.users or set(member.roles) & override.roles or override.allow_everyone:
            return True
        if override.deny_everyone:
            return False
    required = command.get("default_member_permissions")
    if required is None:
        return True
    required = int(required)
    return (member_permissions & required) == required if required else False


@dataclass
class CommandOverride:
    """A server's integration settings for one command (Server Settings > Integrations)."""

    allow_everyone: bool = False
    deny_everyone: bool = False
    roles: set[int] = field(default_factory=set)
    users: set[int] = field(default_factory=set)
