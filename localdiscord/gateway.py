"""The fake gateway: HELLO, IDENTIFY/READY, RESUME, heartbeats and dispatches.

discord.py asks for ``compress=zlib-stream`` but ``received_message`` accepts
plain TEXT frames uncompressed, so the fake answers with JSON text frames.
Every dispatch gets a sequence number and stays in a replay log so a RESUME
after a dropped connection receives what it missed, as on Discord.

Shards: IDENTIFY's ``shard: [id, count]`` (absent: ``[0, 1]``) opens one session per
shard id. READY and GUILD_CREATE list only that shard's guilds (``(guild_id >> 22) %
count``), and every event of a guild goes to the session of the shard that owns it;
events of no guild go to shard 0. A bad shard is closed with 4010, a shard over
``fake.max_guilds_per_shard`` guilds with 4011 (sharding required), as on Discord.

IDENTIFY pacing: Discord accepts one IDENTIFY per rate-limit bucket (``shard_id %
max_concurrency``) every 5 s, across every connection of the bot's token, and answers one
that comes sooner with op 9 (invalid session, not resumable). With
``fake.identify_interval = IDENTIFY_INTERVAL`` the fake does the same over all its
connections (it serves one token) and records the early IDENTIFY in ``fake.violations``;
it is off by default because most tests restart a bot within 5 s of its last IDENTIFY.
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

from .state import parse_snowflake

if TYPE_CHECKING:
    from .core import FakeCore

log = logging.getLogger(__name__)

Json = dict[str, Any]

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, RESUME = 0, 1, 2, 3, 6
RECONNECT, REQUEST_GUILD_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 7, 8, 9, 10, 11
HEARTBEAT_INTERVAL_MS = 41250
DECODE_ERROR, INVALID_SHARD, SHARDING_REQUIRED = 4002, 4010, 4011
#: Discord accepts one IDENTIFY per rate-limit bucket in this many seconds.
IDENTIFY_INTERVAL = 5.0
#: Events whose ``id`` (not ``guild_id``) is the guild they belong to.
GUILD_ID_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})
#: Discord answers a heartbeat one network round trip later. Answering at once is faster than
#: discord.py's keep-alive thread, which records the send time only after the loop has sent the
#: beat: an instant ACK is then measured against the previous beat ("Can't keep up ... 41.3s behind").
HEARTBEAT_ACK_DELAY = 0.05

GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, MESSAGE_CONTENT = 1 << 0, 1 << 1, 1 << 9, 1 << 15
GUILD_SCHEDULED_EVENTS = 1 << 16

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
    "GUILD_SCHEDULED_EVENT_CREATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_UPDATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_DELETE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_USER_ADD": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_USER_REMOVE": GUILD_SCHEDULED_EVENTS,
}


def guild_of(event: str, data: Json) -> int | None:
    """The guild a dispatch belongs to (it picks the shard), or None (shard 0)."""
    raw = data.get("id") if event in GUILD_ID_EVENTS else data.get("guild_id")
    return int(raw) if raw is not None else None


class Undecodable(ValueError):
    """A frame Discord cannot read (not JSON, not an object, a malformed id): it closes with 4002."""


def _frame(text: str) -> Json:
    try:
        frame = json.loads(text)
    except ValueError:
        raise Undecodable("the frame is not JSON") from None
    if not isinstance(frame, dict):
        raise Undecodable("the frame is not an object")
    return frame


def _fields(data: object) -> Json:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Undecodable("d is not an object")
    return data


def _whole(value: object) -> int:
    """An integer field (intents, seq); absent is 0."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise Undecodable(f"{value!r} is not an integer")
    return value


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
    session: GatewaySession | None = None


@dataclass
class GatewaySession:
    """A gateway session of one shard: survives a dropped socket until invalidated."""

    session_id: str = field(default_factory=lambda: secrets.token_hex(16))
    seq: int = 0
    log: list[tuple[int, str]] = field(default_factory=list)
    intents: int = 0
    shard_id: int = 0
    shard_count: int = 1
    connection: GatewayConnection | None = None
    ready: bool = False

    def serves(self, guild_id: int | None) -> bool:
        """Whether this shard carries the events of ``guild_id`` (None: shard 0's)."""
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def wants(self, event: str) -> bool:
        """Whether the identified intents subscribe to ``event``."""
        needed = EVENT_INTENTS.get(event)
        return needed is None or bool(self.intents & needed)

    @property
    def live(self) -> bool:
        conn = self.connection
        return conn is not None and not conn.ws.closed and (conn.identified or conn.resumed)


class FakeGateway:
    """Serves ``/gateway`` and ``/resume-gateway`` for one :class:`FakeDiscord`."""

    def __init__(self, fake: FakeCore) -> None:
        self.fake = fake
        #: One session per shard id, made by IDENTIFY and ended by an invalid session.
        self.sessions: dict[int, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.identify_payloads: list[Json] = []
        self.resume_payloads: list[Json] = []
        self.identify_count = 0
        #: When each rate-limit bucket last accepted an IDENTIFY (loop time).
        self._last_identify: dict[int, float] = {}
        #: (loop time, shard id) of every accepted IDENTIFY, for tests that measure the pacing.
        self.identified_at: list[tuple[float, int]] = []
        self.resume_count = 0
        self.invalid_session_count = 0
        self.ready = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._outbox: asyncio.Queue[tuple[str, Json, asyncio.Future[int | None] | None]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._acks: set[asyncio.Task[None]] = set()
        #: HELLO's heartbeat_interval; tests shorten it to watch many heartbeats.
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS
        #: Shards whose IDENTIFY or RESUME waits unanswered (see :meth:`hold`), and what waits.
        self.held: set[int] = set()
        self._held_frames: list[tuple[GatewayConnection, int, Json]] = []

    @property
    def session(self) -> GatewaySession | None:
        """Shard 0's session (the only one of an unsharded bot)."""
        return self.sessions.get(0) or next(iter(self.sessions.values()), None)

    @property
    def current(self) -> GatewayConnection | None:
        """The open connection of shard 0's session."""
        session = self.session
        return session.connection if session is not None else None

    def _update_ready(self) -> None:
        if self.sessions and all(session.ready and session.live for session in self.sessions.values()):
            self.ready.set()
        else:
            self.ready.clear()

    async def _attach(self, conn: GatewayConnection, session: GatewaySession) -> None:
        """``conn`` now carries ``session``; an older socket of that session is closed."""
        old = session.connection
        session.connection = conn
        conn.session = session
        if old is not None and old is not conn and not old.ws.closed:
            await old.ws.close(code=4000)

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
        await self._send(
            conn, {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-gateway"]}}
        )
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        await self._on_frame(conn, _frame(msg.data))
                    except Undecodable:
                        conn.closed_by_fake = DECODE_ERROR
                        await ws.close(code=DECODE_ERROR, message=b"Error while decoding payload.")
                        break
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                session.ready = False
                if conn.closed_by_fake is None and ws.close_code in (1000, 1001):
                    # As on Discord, a client that closes with 1000/1001 ends its session.
                    self.sessions.pop(session.shard_id, None)
                self._update_ready()
        return ws

    async def _on_frame(self, conn: GatewayConnection, frame: Json) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            conn.heartbeats += 1
            ack = asyncio.get_running_loop().create_task(self._ack_heartbeat(conn))
            self._acks.add(ack)
            ack.add_done_callback(self._acks.discard)
        elif op in (IDENTIFY, RESUME) and self._shard_of(op, _fields(data)) in self.held:
            self._held_frames.append((conn, op, _fields(data)))
        elif op == IDENTIFY:
            await self._identify(conn, _fields(data))
        elif op == RESUME:
            await self._resume(conn, _fields(data))
        elif op == REQUEST_GUILD_MEMBERS:
            await self._member_chunk(_fields(data))
        elif op == PRESENCE_UPDATE:
            self.fake.presence_updates.append(data or {})
        else:
            log.debug("fake gateway ignoring op %s", op)

    async def _identify(self, conn: GatewayConnection, data: Json) -> None:
        if data.get("token") not in (self.fake.token, f"Bot {self.fake.token}"):
            conn.closed_by_fake = 4004
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard", [0, 1])
        valid_shard = (
            isinstance(shard, list)
            and len(shard) == 2
            and all(isinstance(part, int) and not isinstance(part, bool) for part in shard)
            and shard[1] >= 1
            and 0 <= shard[0] < shard[1]
        )
        if not valid_shard:
            conn.closed_by_fake = INVALID_SHARD
            await conn.ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        shard_id, shard_count = shard
        session = GatewaySession(intents=_whole(data.get("intents")), shard_id=shard_id, shard_count=shard_count)
        guilds = [g for g in self.fake.guilds.values() if session.serves(g.id)]
        limit = self.fake.max_guilds_per_shard
        if limit is not None and len(guilds) > limit:
            conn.closed_by_fake = SHARDING_REQUIRED
            await conn.ws.close(code=SHARDING_REQUIRED, message=b"Sharding required.")
            return
        if await self._identified_too_soon(conn, shard_id):
            return
        self.identify_payloads.append(data)
        self.identify_count += 1
        conn.identified = True
        previous = self.sessions.get(shard_id)
        if previous is not None:  # a new session of that shard supersedes the old one
            await self._attach(conn, previous)
        self.sessions[shard_id] = session
        await self._attach(conn, session)
        ready = {
            "v": 10,
            "user": self.fake.bot_user.to_payload() | {"verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "shard": [shard_id, shard_count],
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
            await self._send_to(session, "READY", ready)
            all_members = bool(session.intents & GUILD_MEMBERS)
            for guild in guilds:
                await self._send_to(session, "GUILD_CREATE", guild.to_gateway_payload(all_members=all_members))
        session.ready = True
        self._update_ready()

    async def _identified_too_soon(self, conn: GatewayConnection, shard_id: int) -> bool:
        """Discord's identify pacing: one IDENTIFY per bucket per ``fake.identify_interval``;
        a sooner one gets op 9 (not resumable) and is recorded as a violation."""
        interval = self.fake.identify_interval
        bucket = shard_id % max(1, self.fake.max_concurrency)
        now = asyncio.get_running_loop().time()
        last = self._last_identify.get(bucket)
        if interval > 0 and last is not None and now - last < interval:
            self.fake.violations.append(
                f"IDENTIFY of shard {shard_id}: bucket {bucket} identified {now - last:.2f} s before"
                f" (Discord allows one per {interval:g} s per bucket)"
            )
            await self.send_invalid_session(conn=conn)
            return True
        self._last_identify[bucket] = now
        self.identified_at.append((now, shard_id))
        return False

    async def _resume(self, conn: GatewayConnection, data: Json) -> None:
        session = next((s for s in self.sessions.values() if s.session_id == data.get("session_id")), None)
        self.resume_payloads.append(data)
        valid = session is not None and data.get("token") in (self.fake.token, f"Bot {self.fake.token}")
        if not valid:
            await self.send_invalid_session(resumable=False, conn=conn)
            return
        assert session is not None
        self.resume_count += 1
        conn.resumed = True
        await self._attach(conn, session)
        last_seen = _whole(data.get("seq"))
        async with self._send_lock:
            for seq, frame in session.log:
                if seq > last_seen:
                    await conn.ws.send_str(frame)
            await self._send_to(session, "RESUMED", {"_trace": ["fake-gateway"]})
        session.ready = True
        self._update_ready()

    async def _member_chunk(self, data: Json) -> None:
        guild_ids = data.get("guild_id")
        for raw in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            if raw is None:
                continue
            guild_id = parse_snowflake(raw)
            if guild_id is None:
                raise Undecodable(f"guild_id {raw!r} is not a snowflake")
            guild = self.fake.guilds.get(guild_id)
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
        """Whether the identified intents subscribe to ``event`` (every shard asks for the same)."""
        session = self.session
        return session is None or session.wants(event)

    async def _send_to(self, session: GatewaySession, event: str, data: Json) -> int:
        """Sequence, log (for RESUME) and send one dispatch on one shard's session."""
        session.seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data})
        session.log.append((session.seq, frame))
        if session.live:
            assert session.connection is not None
            try:
                await session.connection.ws.send_str(frame)
            except ConnectionError:
                log.debug("fake gateway: socket gone while sending %s; kept for RESUME", event)
        return session.seq

    async def _dispatch_locked(self, event: str, data: Json) -> int | None:
        """To the session of the shard that owns the event's guild; its seq, or None if none took it."""
        guild_id = guild_of(event, data)
        seq = None
        for session in list(self.sessions.values()):
            if session.serves(guild_id) and session.wants(event):
                seq = await self._send_to(session, event, data)
        return seq

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
        if not self.sessions or not self.wants(event):
            return
        self._outbox.put_nowait((event, data, None))

    # -- fault tools ---------------------------------------------------------------------

    def _sessions_of(self, shard_id: int | None) -> list[GatewaySession]:
        """The session of ``shard_id``, or every session (None)."""
        if shard_id is None:
            return list(self.sessions.values())
        session = self.sessions.get(shard_id)
        return [session] if session is not None else []

    async def drop(self, code: int = 4000, *, shard_id: int | None = None) -> None:
        """Close the socket (of one shard, or all) like a network blip; discord.py reconnects and RESUMEs."""
        for session in self._sessions_of(shard_id):
            conn, session.connection = session.connection, None
            session.ready = False
            self._update_ready()
            if conn is not None:
                conn.closed_by_fake = code
                await conn.ws.close(code=code, message=b"fake-discord drop")

    def _shard_of(self, op: int, data: Json) -> int | None:
        if op == IDENTIFY:
            shard = data.get("shard", [0, 1])
            return shard[0] if isinstance(shard, list) and shard and isinstance(shard[0], int) else None
        session = next((s for s in self.sessions.values() if s.session_id == data.get("session_id")), None)
        return session.shard_id if session is not None else None

    def hold(self, shard_id: int) -> None:
        """Leave the shard's next IDENTIFY or RESUME unanswered (the socket stays open, heartbeats
        are acknowledged) until :meth:`release`: a shard that reconnects but is not READY."""
        self.held.add(shard_id)

    async def release(self, shard_id: int) -> None:
        """Answer what the held shard sent meanwhile, in order."""
        self.held.discard(shard_id)
        waiting, self._held_frames = self._held_frames, []
        for conn, op, data in waiting:
            if self._shard_of(op, data) in self.held:
                self._held_frames.append((conn, op, data))
            elif not conn.ws.closed:
                await (self._identify(conn, data) if op == IDENTIFY else self._resume(conn, data))

    async def send_invalid_session(
        self, *, resumable: bool = False, conn: GatewayConnection | None = None, shard_id: int | None = None
    ) -> None:
        """op 9: with ``resumable=False`` the session is forgotten and the bot must IDENTIFY."""
        if conn is not None:  # a failed RESUME: that socket has no session yet
            self.invalid_session_count += 1
            await self._send(conn, {"op": INVALID_SESSION, "d": resumable})
            return
        for session in self._sessions_of(shard_id):
            self.invalid_session_count += 1
            if not resumable:
                self.sessions.pop(session.shard_id, None)
            session.ready = False
            self._update_ready()
            if session.connection is not None:
                await self._send(session.connection, {"op": INVALID_SESSION, "d": resumable})

    async def send_reconnect(self, *, shard_id: int | None = None) -> None:
        """op 7: Discord asks the client to reconnect and resume."""
        for session in self._sessions_of(shard_id):
            if session.connection is not None:
                session.ready = False
                self._update_ready()
                await self._send(session.connection, {"op": RECONNECT, "d": None})

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
        """Until every shard the bot opened identified (GUILD_CREATEs sent) or resumed."""
        await asyncio.wait_for(self.ready.wait(), timeout)
