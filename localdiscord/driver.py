"""The driver that plays members: slash commands, autocomplete, clicks, selects and modals.

Each builds the INTERACTION_CREATE Discord's client would send (from the commands the
bot synced and the messages the fake stores), refuses what the client would refuse
(:class:`CommandNotPermitted`, :class:`InvalidOptions`) and dispatches it to the bot.

Members act in three kinds of place, as on Discord: a server that added the app
(interaction ``context`` 0), a server that did not, where a member who added the app to
their own account uses it (also 0, ``authorizing_integration_owners`` names only the
user), and private channels (``guild=None``): the bot's DM (1), other DMs and group DMs
(2). A command is offered only where its ``contexts`` and ``integration_types`` allow.
"""

# ruff: noqa: ASYNC109 - helpers take a `timeout` like asyncio.wait_for: tests wait on the bot with a bound.

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .core import FakeCore, Json
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    CommandNotPermitted,
    InteractionRecord,
    InteractionTimeout,
    InvalidOptions,
    OptionContext,
    build_options,
    command_allowed,
    find_command,
    nest_options,
    new_interaction_token,
)
from .permissions import Permission
from .state import CATEGORY, DM, FORUM, Channel, Guild, Member, PrivateChannel, User

#: The ``attachment_size_limit`` every interaction carries (10 MiB, a server without boosts).
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

#: Interaction contexts: a server, the bot's own DM, any other DM or group DM.
GUILD_CONTEXT, BOT_DM_CONTEXT, PRIVATE_CHANNEL_CONTEXT = 0, 1, 2
#: Installation types: the app added to a server, or to a user's account.
GUILD_INSTALL, USER_INSTALL = 0, 1
#: ``app_permissions`` in private channels (Discord's documentation), plus Use External Emojis in the bot's DM.
PRIVATE_APP_PERMISSIONS = int(Permission.ATTACH_FILES | Permission.EMBED_LINKS | Permission.MENTION_EVERYONE)

Place = Channel | PrivateChannel
Person = Member | User


def person_user(who: Person) -> User:
    return who.user if isinstance(who, Member) else who


class MemberDriver(FakeCore):
    """What members do to the bot, as their Discord client would send it."""

    def context_of(self, guild: Guild | None, channel: Place) -> int:
        """The interaction ``context`` of a place."""
        if guild is not None:
            return GUILD_CONTEXT
        if isinstance(channel, PrivateChannel) and channel.type == DM and channel.with_bot:
            return BOT_DM_CONTEXT
        return PRIVATE_CHANNEL_CONTEXT

    def installs_at(self, guild: Guild | None, channel: Place, user: User) -> dict[int, str]:
        """The installs that can authorise an interaction of ``user`` here, by installation type:
        the server's (its id; "0" in the bot's DM) and the user's own (their id)."""
        owners: dict[int, str] = {}
        if guild is not None and guild.id in self.guilds:
            owners[GUILD_INSTALL] = str(guild.id)
        elif guild is None and self.context_of(guild, channel) == BOT_DM_CONTEXT:
            owners[GUILD_INSTALL] = "0"
        if user.id in self.user_installs:
            owners[USER_INSTALL] = str(user.id)
        return owners

    def _interaction_base(
        self,
        guild: Guild | None,
        channel: Place,
        member: Person,
        kind: int,
        data: Json,
        locale: str,
        *,
        owners: dict[int, str] | None = None,
    ) -> Json:
        interaction_id = self.new_id()
        user = person_user(member)
        context = self.context_of(guild, channel)
        authorizing = owners if owners is not None else self.installs_at(guild, channel, user)
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": new_interaction_token(interaction_id),
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {str(key): value for key, value in sorted(authorizing.items())},
            "context": context,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(channel.id),
        }
        if guild is None or not isinstance(channel, Channel) or not isinstance(member, Member):
            extra = int(Permission.USE_EXTERNAL_EMOJIS) if context == BOT_DM_CONTEXT else 0
            payload["channel"] = channel.to_payload()
            payload["user"] = user.to_payload()
            payload["app_permissions"] = str(PRIVATE_APP_PERMISSIONS | extra)
            return payload
        perms = guild.permissions_in(member, channel)
        installed = guild.id in self.guilds
        payload.update(
            {
                "guild": {"id": str(guild.id), "locale": guild.preferred_locale, "features": []},
                "guild_id": str(guild.id),
                "channel": channel.to_payload() | {"permissions": str(perms)},
                "member": member.to_payload(permissions=perms),
                "app_permissions": str(
                    guild.bot_permissions_in(channel) if installed else guild.everyone_permissions_in(channel)
                ),
                "guild_locale": guild.preferred_locale,
            }
        )
        return payload

    def _gate(self, guild: Guild | None, channel: Place, member: Person, root: Json) -> None:
        """Discord offers a command only where its contexts and installs allow, and hides
        commands the member may not use; the fake refuses to invoke them."""
        context = self.context_of(guild, channel)
        contexts = root.get("contexts")
        if contexts is None:
            # Commands synced without contexts: servers, and the bot's DM unless dm_permission is false.
            contexts = [GUILD_CONTEXT] + ([BOT_DM_CONTEXT] if root.get("dm_permission", True) else [])
        where = {GUILD_CONTEXT: "in servers", BOT_DM_CONTEXT: "in the bot's DM", PRIVATE_CHANNEL_CONTEXT: "in DMs"}
        if context not in contexts:
            raise CommandNotPermitted(
                f"/{root['name']} is not available {where[context]} (contexts={contexts})", reason="context"
            )
        user = person_user(member)
        installs = set(root.get("integration_types") or [GUILD_INSTALL]) & set(self.installs_at(guild, channel, user))
        if not installs:
            raise CommandNotPermitted(
                f"/{root['name']} is not offered to {user.username} here: integration_types="
                f"{root.get('integration_types')}, and the app is installed {sorted(self.installs_at(guild, channel, user))}",
                # A command a member's own install would offer, or one for servers that added the bot only.
                reason="install" if USER_INSTALL in (root.get("integration_types") or []) else "context",
            )
        if guild is None or not isinstance(channel, Channel) or not isinstance(member, Member):
            return
        perms = guild.permissions_in(member, channel)
        if channel.type in (CATEGORY, FORUM):
            raise InvalidOptions(
                f"#{channel.name} (type {channel.type}) has no chat; commands run in channels and posts"
            )
        if not perms & Permission.VIEW_CHANNEL:
            raise CommandNotPermitted(f"{member.user.username} cannot see #{channel.name}")
        if not perms & Permission.USE_APPLICATION_COMMANDS:
            raise CommandNotPermitted(f"{member.user.username} lacks USE_APPLICATION_COMMANDS in #{channel.name}")
        if guild.id not in self.guilds:
            return  # a server's command permissions are for apps it installed
        override = self.command_overrides.get((guild.id, root["name"]))
        if not command_allowed(root, member_permissions=perms, override=override, member=member):
            raise CommandNotPermitted(
                f"{member.user.username} lacks default_member_permissions={root.get('default_member_permissions')} for /{root['name']}"
            )

    def offers(self, guild: Guild | None, channel: Place, member: Person, root: Json) -> CommandNotPermitted | None:
        """None when Discord's client offers the command ``root`` to ``member`` here, else why not."""
        try:
            self._gate(guild, channel, member, root)
        except CommandNotPermitted as refused:
            return refused
        return None

    def forces_ephemeral(self, guild: Guild | None, channel: Place, member: Person) -> bool:
        """A server that did not add the app lets a member without Use External Apps use it,
        but only privately: Discord makes the app's answers ephemeral."""
        if guild is None or guild.id in self.guilds or not isinstance(channel, Channel):
            return False
        if not isinstance(member, Member):
            return False
        return not guild.permissions_in(member, channel) & Permission.USE_EXTERNAL_APPS

    def _command_data(
        self,
        guild: Guild | None,
        channel: Place,
        member: Person,
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
        guild: Guild | None,
        channel: Place,
        member: Person,
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
        record = await self.dispatch_interaction(
            payload, command_name=root["name"], forced_ephemeral=self.forces_ephemeral(guild, channel, member)
        )
        if wait:
            await record.wait_acknowledged(timeout)
        return record

    async def autocomplete(
        self,
        guild: Guild | None,
        channel: Place,
        member: Person,
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
        guild: Guild | None,
        channel: Place,
        member: Person,
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
        # A press is authorised by the installs that authorised the message's command.
        owners = (stored.get("interaction_metadata") or {}).get("authorizing_integration_owners")
        payload = self._interaction_base(
            guild,
            channel,
            member,
            MESSAGE_COMPONENT,
            data,
            locale,
            owners={int(key): value for key, value in owners.items()} if owners else None,
        )
        payload["message"] = stored
        record = await self.dispatch_interaction(
            payload,
            source_message_id=int(stored["id"]),
            forced_ephemeral=self.forces_ephemeral(guild, channel, member),
        )
        if wait:
            await record.wait_acknowledged(timeout)
        return record

    async def click(
        self,
        guild: Guild | None,
        channel: Place,
        member: Person,
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
        guild: Guild | None,
        channel: Place,
        member: Person,
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
        guild: Guild | None,
        channel: Place,
        member: Person,
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
        record = await self.dispatch_interaction(
            payload, source_message_id=source, forced_ephemeral=self.forces_ephemeral(guild, channel, member)
        )
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
        forced_ephemeral: bool = False,
    ) -> InteractionRecord:
        """Register and dispatch INTERACTION_CREATE without waiting for the bot.

        ``forced_ephemeral``: Discord makes every answer private (a member without Use External
        Apps in a server that did not add the app)."""
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
            forced_ephemeral=forced_ephemeral,
        )
        self.interactions[interaction_id] = record
        self._interactions_by_token[record.token] = record
        record.dispatched_at = time.perf_counter()
        await self.dispatch("INTERACTION_CREATE", payload)
        return record
