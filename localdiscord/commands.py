"""Application commands: the routes that sync, create, read, edit and delete them.

Discord echoes every command with its ids and defaults filled in; a sync keeps the ids of
commands it already knew, so buttons and permissions pinned to a command survive restarts.
"""

from __future__ import annotations

from collections.abc import Iterable

from .core import FakeCore, Json
from .interactions import CommandOverride
from .pipeline import ApiError, ApiReply, ApiRequest
from .state import Guild


class CommandRoutes(FakeCore):
    """``/applications/{application_id}[/guilds/{guild_id}]/commands``, and their permissions."""

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
