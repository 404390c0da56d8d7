"""The fake gateway: HELLO, IDENTIFY/READY, RESUME, heartbeats and dispatches.

discord.py asks for ``compress=zlib-stream`` but ``received_message`` accepts
plain TEXT frames uncompressed, so the fake answers with JSON text frames.
Every dispatch gets a sequence number and stays in a replay log so a RESUME
after a dropped connection receives what it missed, as on Discord.
"""

# ruff: noqa: ASYNC109 - helpers take a `timeout` like asyncio.wait_for: tests wait on the bot with a bound.

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

Json = dict[str, Any]

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, RESUME = 0, 1, 2, 3, 6
RECONNECT, REQUEST_GUILD_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 7, 8, 9, 10, 11
HEARTBEAT_INTERVAL_MS = 41250
#: Discord answers a heartbeat one network round trip later. Answering at once is faster than
#: discord.py's keep-alive thread, which records the send time only after the loop has sent the
#: beat: an instant ACK is then measured against the previous beat ("Can't keep up ... 41.3s behind").
HEARTBEAT_ACK_DELAY = 0.05

GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, MESSAGE_CONTENT = 1 << 0, 1 << 1, 1 << 9, 1 << 15

#: Which intent a dispatch needs; events not listed are always delivered.
EVENT_INTENTS: dict[str, int] = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "GUILD_ROLE_DELETE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "THREAD_CREATE": GUILDS,
    "THREAD_UPDATE": GUILDS,
    "THREAD_DELETE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": GUILD_MESSAGES,
}


@dataclass
class GatewayConnection:
    """One websocket the bot opened, and what it asked for."""

    ws: web.WebSocketResponse
    path: str
    query: dict[str, str]
    identified: bool = False
    resumed: bool = False
    heartbeats: int = 0
    closed_by_fake: int | None = None


@dataclass
class GatewaySession:
    """A gateway session: survives a dropped socket until invalidated."""

    session_id: str = field(default_factory=lambda: secrets.token_hex(16))
    seq: int = 0
    log: list[tuple[int, str]] = field(default_factory=list)
    intents: int = 0


class FakeGateway:
    """Serves ``/gateway`` and ``/resume-gateway`` for one :class:`FakeDiscord`."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.session: GatewaySession | None = None
        self.current: GatewayConnection | None = None
        self.connections: list[GatewayConnection] = []
        self.identify_payloads: list[Json] = []
        self.resume_payloads: list[Json] = []
        self.identify_count = 0
        self.resume_count = 0
        self.invalid_session_count = 0
        self.ready = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._outbox: asyncio.Queue[tuple[str, Json, asyncio.Future[int | None] | None]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._acks: set[asyncio.Task[None]] = set()
        #: HELLO's heartbeat_interval; tests shorten it to watch many heartbeats.
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS

    def start(self) -> None:
        """Start the task that sends queued dispatches in order."""
        self._sender = asyncio.get_running_loop().create_task(self._drain_outbox())

    async def _drain_outbox(self) -> None:
        while True:
            event, data, done = await self._outbox.get()
            try:
                async with self._send_lock:
                    seq = await self._dispatch_locked(event, data)
            except Exception as exc:  # a broken socket must not kill the sender
                if done is not None and not done.done():
                    done.set_exception(exc)
                continue
            if done is not None and not done.done():
                done.set_result(seq)

    # -- connection lifecycle --------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One websocket connection from HELLO to close."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = GatewayConnection(ws=ws, path=request.path, query=dict(request.query))
        self.connections.append(conn)
        if self.current is not None and not self.current.ws.closed:
            await self.current.ws.close(code=4000)
        self.current = conn
        self.ready.clear()
        await self._send(
            conn, {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-gateway"]}}
        )
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            if self.current is conn:
                self.current = None
                self.ready.clear()
        return ws

    async def _on_frame(self, conn: GatewayConnection, frame: Json) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            conn.heartbeats += 1
            ack = asyncio.get_running_loop().create_task(self._ack_heartbeat(conn))
            self._acks.add(ack)
            ack.add_done_callback(self._acks.discard)
        elif op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif op == REQUEST_GUILD_MEMBERS:
            await self._member_chunk(data or {})
        elif op == PRESENCE_UPDATE:
            self.fake.presence_updates.append(data or {})
        else:
            log.debug("fake gateway ignoring op %s", op)

    async def _identify(self, conn: GatewayConnection, data: Json) -> None:
        if data.get("token") not in (self.fake.token, f"Bot {self.fake.token}"):
            conn.closed_by_fake = 4004
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify_payloads.append(data)
        self.identify_count += 1
        conn.identified = True
        self.session = GatewaySession(intents=int(data.get("intents", 0)))
        guilds = list(self.fake.guilds.values())
        ready = {
            "v": 10,
            "user": self.fake.bot_user.to_payload() | {"verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": self.session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.fake.resume_gateway_url,
            "application": {"id": str(self.fake.application_id), "flags": self.fake.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "auth_session_id_hash": secrets.token_hex(8),
            "_trace": ["fake-gateway"],
        }
        async with self._send_lock:
            await self._dispatch_locked("READY", ready)
            all_members = bool(self.session.intents & GUILD_MEMBERS)
            for guild in guilds:
                await self._dispatch_locked("GUILD_CREATE", guild.to_gateway_payload(all_members=all_members))
        self.ready.set()

    async def _resume(self, conn: GatewayConnection, data: Json) -> None:
        session = self.session
        self.resume_payloads.append(data)
        valid = (
            session is not None
            and data.get("session_id") == session.session_id
            and data.get("token") in (self.fake.token, f"Bot {self.fake.token}")
        )
        if not valid:
            await self.send_invalid_session(resumable=False, conn=conn)
            return
        assert session is not None
        self.resume_count += 1
        conn.resumed = True
        last_seen = int(data.get("seq") or 0)
        async with self._send_lock:
            for seq, frame in session.log:
                if seq > last_seen:
                    await conn.ws.send_str(frame)
            await self._dispatch_locked("RESUMED", {"_trace": ["fake-gateway"]})
        self.ready.set()

    async def _member_chunk(self, data: Json) -> None:
        guild_ids = data.get("guild_id")
        for raw in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            guild = self.fake.guilds.get(int(raw)) if raw is not None else None
            if guild is None:
                continue
            chunk: Json = {
                "guild_id": str(guild.id),
                "members": [m.to_payload() for m in guild.members.values()],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _ack_heartbeat(self, conn: GatewayConnection) -> None:
        await asyncio.sleep(HEARTBEAT_ACK_DELAY)
        try:
            await self._send(conn, {"op": HEARTBEAT_ACK, "d": None})
        except ConnectionError:
            log.debug("fake gateway: socket gone before the heartbeat ACK")

    # -- sending ---------------------------------------------------------------------

    async def _send(self, conn: GatewayConnection, frame: Json) -> None:
        if not conn.ws.closed:
            await conn.ws.send_str(json.dumps(frame))

    def wants(self, event: str) -> bool:
        """Whether the identified intents subscribe to ``event``."""
        needed = EVENT_INTENTS.get(event)
        if needed is None or self.session is None:
            return True
        return bool(self.session.intents & needed)

    async def _dispatch_locked(self, event: str, data: Json) -> int | None:
        session = self.session
        if session is None:
            return None
        session.seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data})
        session.log.append((session.seq, frame))
        conn = self.current
        if conn is not None and not conn.ws.closed and (conn.identified or conn.resumed):
            try:
                await conn.ws.send_str(frame)
            except ConnectionError:
                log.debug("fake gateway: socket gone while sending %s; kept for RESUME", event)
        return session.seq

    async def dispatch(self, event: str, data: Json) -> int | None:
        """Send a DISPATCH (or keep it for RESUME while disconnected); returns its seq.

        Everything goes through one queue so events reach the bot in the order
        the test produced them, including those queued by synchronous helpers.
        """
        if not self.wants(event):
            return None
        done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._outbox.put_nowait((event, data, done))
        return await done

    def dispatch_soon(self, event: str, data: Json) -> None:
        """Queue a dispatch from synchronous code (state changes after connect)."""
        if self.session is None or not self.wants(event):
            return
        self._outbox.put_nowait((event, data, None))

    # -- fault tools ---------------------------------------------------------------------

    async def drop(self, code: int = 4000) -> None:
        """Close the socket like a network blip; discord.py reconnects and RESUMEs."""
        conn = self.current
        self.ready.clear()
        if conn is None:
            return
        conn.closed_by_fake = code
        self.current = None
        await conn.ws.close(code=code, message=b"fake-discord drop")

    async def send_invalid_session(self, *, resumable: bool = False, conn: GatewayConnection | None = None) -> None:
        """op 9: with ``resumable=False`` the session is forgotten and the bot must IDENTIFY."""
        conn = conn or self.current
        self.invalid_session_count += 1
        if not resumable:
            self.session = None
        self.ready.clear()
        if conn is not None:
            await self._send(conn, {"op": INVALID_SESSION, "d": resumable})

    async def send_reconnect(self) -> None:
        """op 7: Discord asks the client to reconnect and resume."""
        if self.current is not None:
            self.ready.clear()
            await self._send(self.current, {"op": RECONNECT, "d": None})

    async def close_all(self) -> None:
        """Stop sending and close every socket (used by ``FakeDiscord.close``)."""
        if self._sender is not None:
            self._sender.cancel()
        for ack in list(self._acks):
            ack.cancel()
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.ws.close(code=1001, message=b"fake-discord shutting down")

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Until the bot identified (GUILD_CREATEs sent) or resumed."""
        await asyncio.wait_for(self.ready.wait(), timeout)
