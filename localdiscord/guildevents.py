"""Guild scheduled events (the server's Events list) and member role changes.

Both follow Discord's documentation and OpenAPI description: creating, editing and
deleting an event needs MANAGE_EVENTS; an external event (entity type 3) needs a location
and an end time, and starts in the future; ``with_user_count=true`` adds ``user_count``
(members who clicked "Interested"). Adding or removing a member's role needs MANAGE_ROLES
and a role below the bot's highest role, never @everyone nor a managed role. Changes are
announced on the gateway (GUILD_SCHEDULED_EVENT_*, GUILD_MEMBER_UPDATE).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .core import FakeCore, Json
from .permissions import Permission
from .pipeline import ApiError, ApiReply, ApiRequest
from .state import Guild, Member, Role, ScheduledEvent

EXTERNAL = 3
STAGE_INSTANCE, VOICE_CHANNEL = 1, 2
#: Discord's statuses: scheduled, active, completed, canceled.
SCHEDULED, ACTIVE, COMPLETED, CANCELED = 1, 2, 3, 4
UNKNOWN_EVENT = 10070
UNKNOWN_ROLE = 10011
UNKNOWN_MEMBER = 10007


def _form_error(field: str, code: str, message: str) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", {field: {"_errors": [{"code": code, "message": message}]}})


def _timestamp(value: Any, field: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise _form_error(field, "DATE_TIME_TYPE_COERCE", f'Could not interpret "{value}" as a date.') from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _true(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


class GuildEventRoutes(FakeCore):
    """REST: /guilds/{guild_id}/scheduled-events… and /guilds/{guild_id}/members/{user_id}/roles/{role_id}."""

    def _event_guild(self, req: ApiRequest) -> Guild:
        guild = self.guilds.get(int(req.params["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def _bot_may(self, guild: Guild, permission: Permission) -> None:
        if not guild.guild_permissions(self.bot_user.id) & permission:
            raise ApiError(403, 50013, "Missing Permissions")

    def _event_of(self, guild: Guild, req: ApiRequest) -> ScheduledEvent:
        event = guild.scheduled_events.get(int(req.params["guild_scheduled_event_id"]))
        if event is None:
            raise ApiError(404, UNKNOWN_EVENT, "Unknown Guild Scheduled Event")
        return event

    def _event_payload(self, guild: Guild, event: ScheduledEvent, *, with_user_count: bool = False) -> Json:
        creator = guild.members.get(event.creator_id)
        return event.to_payload(creator.user if creator else None, with_user_count=with_user_count)

    def _check_event_times(self, event: ScheduledEvent, *, changed_start: bool) -> None:
        now = dt.datetime.now(dt.UTC)
        if changed_start and event.start <= now:
            raise _form_error(
                "scheduled_start_time", "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST", "Cannot schedule event in the past."
            )
        if event.entity_type == EXTERNAL:
            if event.end is None:
                raise _form_error(
                    "scheduled_end_time", "BASE_TYPE_REQUIRED", "Required for events with an external entity type."
                )
            if not event.location:
                raise _form_error("entity_metadata", "BASE_TYPE_REQUIRED", "A location is required.")
        if event.end is not None and event.end <= event.start:
            raise _form_error(
                "scheduled_end_time", "GUILD_SCHEDULED_EVENT_END_BEFORE_START", "The end must be after the start."
            )

    async def _list_scheduled_events(self, req: ApiRequest) -> ApiReply:
        guild = self._event_guild(req)
        counted = _true(req.query.get("with_user_count"))
        return ApiReply(
            body=[self._event_payload(guild, e, with_user_count=counted) for e in guild.scheduled_events.values()]
        )

    async def _get_scheduled_event(self, req: ApiRequest) -> ApiReply:
        guild = self._event_guild(req)
        event = self._event_of(guild, req)
        return ApiReply(body=self._event_payload(guild, event, with_user_count=_true(req.query.get("with_user_count"))))

    async def _create_scheduled_event(self, req: ApiRequest) -> ApiReply:
        guild = self._event_guild(req)
        self._bot_may(guild, Permission.MANAGE_EVENTS)
        body: Json = req.body or {}
        entity_type = int(body.get("entity_type", 0))
        if entity_type != EXTERNAL:
            # The bot only ever makes external events; channel-hosted ones are not modelled.
            raise _form_error("entity_type", "UNSUPPORTED", "Only external events are modelled by the local Discord.")
        metadata = body.get("entity_metadata") or {}
        end = body.get("scheduled_end_time")
        event = ScheduledEvent(
            id=self.new_id(),
            guild_id=guild.id,
            creator_id=self.bot_user.id,
            name=str(body["name"]),
            start=_timestamp(body["scheduled_start_time"], "scheduled_start_time"),
            end=_timestamp(end, "scheduled_end_time") if end is not None else None,
            entity_type=entity_type,
            location=metadata.get("location"),
            description=body.get("description"),
            privacy_level=int(body.get("privacy_level", 2)),
        )
        self._check_event_times(event, changed_start=True)
        guild.scheduled_events[event.id] = event
        payload = self._event_payload(guild, event)
        await self.dispatch("GUILD_SCHEDULED_EVENT_CREATE", payload)
        return ApiReply(body=payload)

    async def _edit_scheduled_event(self, req: ApiRequest) -> ApiReply:
        guild = self._event_guild(req)
        self._bot_may(guild, Permission.MANAGE_EVENTS)
        event = self._event_of(guild, req)
        body: Json = req.body or {}
        if event.status in (COMPLETED, CANCELED):
            raise ApiError(400, 180000, "Cannot modify a finished event")
        changed = ScheduledEvent(**{**event.__dict__, "interested": event.interested})
        if "name" in body:
            changed.name = str(body["name"])
        if "description" in body:
            changed.description = body["description"]
        if "scheduled_start_time" in body:
            changed.start = _timestamp(body["scheduled_start_time"], "scheduled_start_time")
        if "scheduled_end_time" in body:
            end = body["scheduled_end_time"]
            changed.end = _timestamp(end, "scheduled_end_time") if end is not None else None
        if body.get("entity_metadata") is not None:
            changed.location = body["entity_metadata"].get("location")
        if body.get("status") is not None:
            changed.status = int(body["status"])
        self._check_event_times(changed, changed_start="scheduled_start_time" in body)
        guild.scheduled_events[event.id] = changed
        payload = self._event_payload(guild, changed)
        await self.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", payload)
        return ApiReply(body=payload)

    async def _delete_scheduled_event(self, req: ApiRequest) -> ApiReply:
        guild = self._event_guild(req)
        self._bot_may(guild, Permission.MANAGE_EVENTS)
        event = self._event_of(guild, req)
        del guild.scheduled_events[event.id]
        await self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", self._event_payload(guild, event))
        return ApiReply(status=204)

    # -- what members do ------------------------------------------------------------------

    async def mark_interested(self, guild: Guild, event_id: int, member: Member, interested: bool = True) -> None:
        """A member clicks "Interested" on an event (or clicks it again to take it back)."""
        event = guild.scheduled_events[event_id]
        kind = "ADD" if interested else "REMOVE"
        (event.interested.add if interested else event.interested.discard)(member.id)
        await self.dispatch(
            f"GUILD_SCHEDULED_EVENT_USER_{kind}",
            {"guild_scheduled_event_id": str(event.id), "user_id": str(member.id), "guild_id": str(guild.id)},
        )

    # -- member roles ----------------------------------------------------------------------

    def _member_role(self, req: ApiRequest) -> tuple[Guild, Member, Role]:
        guild = self._event_guild(req)
        member = guild.members.get(int(req.params["user_id"]))
        if member is None:
            raise ApiError(404, UNKNOWN_MEMBER, "Unknown Member")
        role = guild.roles.get(int(req.params["role_id"]))
        if role is None or role.id == guild.id:
            raise ApiError(404, UNKNOWN_ROLE, "Unknown Role")
        self._bot_may(guild, Permission.MANAGE_ROLES)
        # The hierarchy: the bot edits only roles below its highest one (the owner would be exempt).
        top = guild.top_role(self.bot_user.id)
        if guild.owner_id != self.bot_user.id and guild.role_order(role) >= guild.role_order(top):
            raise ApiError(403, 50013, "Missing Permissions")
        if role.managed:
            raise ApiError(403, 50013, "Missing Permissions")
        return guild, member, role

    async def _add_member_role(self, req: ApiRequest) -> ApiReply:
        guild, member, role = self._member_role(req)
        guild.add_role_to_member(member, role)
        return ApiReply(status=204)

    async def _remove_member_role(self, req: ApiRequest) -> ApiReply:
        guild, member, role = self._member_role(req)
        guild.remove_role_from_member(member, role)
        return ApiReply(status=204)
