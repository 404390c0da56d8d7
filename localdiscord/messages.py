"""Messages: building, storing and editing them, and the channel routes that reach them.

Every message the fake keeps, whoever posted it (the bot over REST, an interaction's
answer, a person), goes through :meth:`MessageRoutes._new_message` and
:meth:`MessageRoutes._store_message`; what the bot may read of it through
:meth:`MessageRoutes.visible` (the MESSAGE_CONTENT intent).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from .core import FakeCore, Json
from .gateway import MESSAGE_CONTENT
from .interactions import APPLICATION_COMMAND, EPHEMERAL, LOADING, InteractionRecord, Upload
from .permissions import Permission
from .pipeline import ApiError, ApiReply, ApiRequest, count, snowflake
from .state import CATEGORY, FORUM, Channel, Guild, Member, PrivateChannel, User, iso_timestamp, parse_snowflake

NONCE_WINDOW = 5 * 60.0
MESSAGE_EDITABLE = ("content", "embeds", "components", "flags", "allowed_mentions", "poll")


def _strip_nones(value: Any) -> Any:
    """Discord omits null embed fields in what it returns."""
    if isinstance(value, dict):
        return {k: _strip_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nones(v) for v in value]
    return value


_ROLE_MENTION = re.compile(r"<@&([0-9]{1,20})>")
_MASS_MENTION = re.compile(r"@(everyone|here)")


def pinged(
    content: str,
    allowed: Json | None,
    guild_id: int,
    *,
    mentionable: Iterable[int] | None = None,
    may_mention_everyone: bool = True,
) -> Json:
    """Who a new message pings, by Discord's rules for ``allowed_mentions``: without it every
    mention in the content pings; with it only the kinds in ``parse`` and the ids listed.
    A role that is not mentionable (``mentionable``: the ids that are; None: all) and
    @everyone/@here ping only when the author may Mention Everyone.

    Gives ``mention_everyone`` and ``mention_roles`` (user pings are not modelled: the fake
    has no user mentions to resolve)."""
    open_roles = None if mentionable is None else set(mentionable)
    roles = [
        int(r)
        for r in _ROLE_MENTION.findall(content)
        if int(r) != guild_id and (may_mention_everyone or open_roles is None or int(r) in open_roles)
    ]
    mass = _MASS_MENTION.search(content) is not None and may_mention_everyone
    if allowed is None:
        return {"mention_everyone": mass, "mention_roles": [str(r) for r in roles]}
    parse = set(allowed.get("parse") or [])
    listed = {int(r) for r in allowed.get("roles") or []}
    return {
        "mention_everyone": mass and "everyone" in parse,
        "mention_roles": [str(r) for r in roles if "roles" in parse or r in listed],
    }


class MessageRoutes(FakeCore):
    """``/channels/{channel_id}[/messages[/{message_id}]]``, attachments, and people posting."""

    # == what people see and do =========================================================

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

    # == the store ========================================================================

    async def _serve_attachment(self, request: web.Request) -> web.StreamResponse:
        upload = self.uploads.get(parse_snowflake(request.match_info["attachment_id"]) or 0)
        if upload is None:
            return web.Response(status=404)
        return web.Response(body=upload.data, headers={"Content-Type": upload.content_type})

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

    def _pinged(self, channel: Channel | PrivateChannel, body: Json, author: User) -> Json:
        if channel.guild_id is None:  # a DM or group DM: no roles, and @everyone pings nobody
            return {"mention_everyone": False, "mention_roles": []}
        guild = self.guilds.get(channel.guild_id)
        if guild is None or author.id not in guild.members or not isinstance(channel, Channel):
            return pinged(body.get("content") or "", body.get("allowed_mentions"), channel.guild_id)
        return pinged(
            body.get("content") or "",
            body.get("allowed_mentions"),
            guild.id,
            mentionable=[r.id for r in guild.roles.values() if r.mentionable],
            may_mention_everyone=bool(guild.permissions_in(author.id, channel) & Permission.MENTION_EVERYONE),
        )

    def _new_message(
        self,
        channel: Channel | PrivateChannel,
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
            "author": author.to_payload(),
            "content": body.get("content") or "",
            "timestamp": iso_timestamp(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            **self._pinged(channel, body, author),
            "attachments": self._attachments(channel.id, body, list(files), []),
            "embeds": [_strip_nones({"type": "rich", **e}) for e in body.get("embeds") or []],
            "components": self._number_components(body.get("components") or []),
            "pinned": False,
            "type": message_type,
            "flags": int(body.get("flags") or 0),
        }
        if channel.guild_id is not None:
            message["guild_id"] = str(channel.guild_id)
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
                "message_id": str(reference["message_id"]),
            }
            if channel.guild_id is not None:
                message["message_reference"]["guild_id"] = str(channel.guild_id)
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
            guild = self.guilds.get(int(message.get("guild_id") or 0))
            if guild is None:
                return  # the bot hears only of messages in its servers (its DMs need an intent it lacks)
            member = guild.members.get(int(message["author"]["id"]))
            await self.dispatch(event, self._gateway_message(message, member))

    # == REST: channels ===================================================================

    def _channel_for_bot(self, req: ApiRequest, *, need: int = 0) -> tuple[Guild, Channel, int]:
        found = self.find_channel(int(req.params["channel_id"]))
        if found is None:
            if self.find_place(int(req.params["channel_id"])) is not None:
                # A server that did not add the app, or someone else's DM: the app answers
                # interactions there, but cannot read or post on its own.
                raise ApiError(403, 50001, "Missing Access")
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
