"""Interaction callbacks and the interaction's webhook: the bot answering what a member did.

One initial callback per interaction (then 400/40060), within ``interaction_timeout``
(then 404/10062); follow-ups, edits and deletes through the webhook token for 15 minutes.
"""

from __future__ import annotations

import time

from .core import Json
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    EPHEMERAL,
    LOADING,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    InteractionRecord,
)
from .messages import MessageRoutes
from .pipeline import ApiError, ApiReply, ApiRequest
from .state import Channel, PrivateChannel


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


class CallbackRoutes(MessageRoutes):
    """``/interactions/{id}/{token}/callback`` and ``/webhooks/{application_id}/{token}[/messages/...]``."""

    def _channel_of(self, record: InteractionRecord) -> Channel | PrivateChannel:
        """Where the interaction happened: answers go there wherever it is (a server that did not
        add the app, a DM), through the interaction only."""
        found = self.find_place(record.channel_id or 0)
        if found is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return found[1]

    @staticmethod
    def _forced_private(record: InteractionRecord, body: Json) -> Json:
        """Discord makes the message ephemeral where it forces answers private."""
        if not record.forced_ephemeral:
            return body
        return {**body, "flags": int(body.get("flags") or 0) | EPHEMERAL}

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
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            data = self._forced_private(record, data)
            body = {**body, "data": data}
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
        }
        if record.guild_id is not None:
            interaction["guild_id"] = str(record.guild_id)
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
        body: Json = self._forced_private(record, req.body or {})
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
