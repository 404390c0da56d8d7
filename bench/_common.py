"""Shared pieces of the benchmarks: bot processes, the fake's world, interaction drivers, statistics.

The bot under test (``python -m bot``) and the baseline (``bench/baseline_bot.py``, the
bare discord.py bot of the test harness) run as real processes; the fake Discord runs
in the benchmark's own event loop on 127.0.0.1 and is what both connect to.

Interaction payloads are built ahead of the timed part with the fake's own builders
(``_command_data``/``_interaction_base``, the code behind ``fake.slash``/``fake.click``)
so a steady rate is not slowed by building them; each is then sent with the public
``fake.dispatch_interaction``, which stamps ``dispatched_at`` just before the
INTERACTION_CREATE goes out, and the fake stamps ``acknowledged_at`` when it accepts
the bot's callback.
"""

# ruff: noqa: ASYNC109 - helpers take a `timeout` like asyncio.wait_for: every wait is bounded.

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import secrets
import signal
import statistics
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from localdiscord import TEXT, FakeDiscord, InteractionRecord  # noqa: E402
from localdiscord.interactions import (  # noqa: E402
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    EPHEMERAL,
    MESSAGE_COMPONENT,
)
from localdiscord.state import Channel, Guild, Member  # noqa: E402

Kind = Literal["bot", "baseline"]
Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")
Json = dict[str, Any]

BASELINE_SCRIPT = ROOT / "bench" / "baseline_bot.py"
#: Both bots log this line (discord.py's READY, after the last GUILD_CREATE and its quiet period).
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
READY_LINE = re.compile(r"\bready as \S+ in (\d+) guilds")
#: discord.py waits this long after the last GUILD_CREATE before READY; HyosanBot's default, used by both.
GUILD_READY_TIMEOUT = 2.0
#: Discord's window for the initial response to an interaction.
ACK_WINDOW = 3.0


# -- statistics ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def print_rows(rows: Sequence[tuple[str, str]]) -> None:
    """A two-column "figure  value" table on stdout, names aligned."""
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None and v == v]
    return statistics.median(present) if present else None


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs


def machine() -> Json:
    import platform

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


# -- the bot's database ------------------------------------------------------------------------

#: The PostgreSQL server the benchmarks make their databases on (any database of it: the
#: URL is only for connecting): BENCH_DATABASE_URL, else the tests' TEST_DATABASE_URL.
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: Databases a benchmark created start with this, so a crashed run's leftovers are easy to find.
BENCH_PREFIX = "hyosan_bench_"


def postgres_server_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_SERVER_URL


@dataclass
class BotDatabase:
    """Where one bot process keeps its data: an SQLite file in its workdir, or a fresh PostgreSQL database.

    ``create`` makes the PostgreSQL database empty (the bot migrates it at start-up, as
    in production); ``drop`` removes it once nothing reads it any more.
    """

    backend: Backend
    path: Path
    url: str | None = None
    dropped: bool = False

    @classmethod
    async def create(cls, backend: Backend, workdir: Path) -> BotDatabase:
        os.makedirs(workdir, exist_ok=True)
        path = workdir / "bot.db"
        if backend == "sqlite":
            return cls(backend, path)
        server = make_url(postgres_server_url()).set(drivername="postgresql")
        name = f"{BENCH_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(server.render_as_string(hide_password=False), timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return cls(backend, path, server.set(database=name).render_as_string(hide_password=False))

    @property
    def target(self) -> str:
        """What ``Store.open`` takes (seeding before the bot starts)."""
        return self.url if self.url is not None else str(self.path)

    def env(self) -> dict[str, str]:
        """The bot's setting for it: DATABASE_URL on PostgreSQL (DATABASE_PATH, always set, is then unused)."""
        return {} if self.url is None else {"DATABASE_URL": self.url}

    async def fetch(self, statement: str | TextClause, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of one statement (``:name`` parameters), read while the bot may still be running.

        SQLite: the file opened read-only; PostgreSQL: a connection of its own.
        """
        if self.url is None:
            url = f"sqlite+aiosqlite:///file:{self.path}?mode=ro&uri=true"
        else:
            url = make_url(self.url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(text(statement) if isinstance(statement, str) else statement, params)
                return [tuple(row) for row in result]
        finally:
            await engine.dispose()

    async def drop(self) -> None:
        if self.url is None or self.dropped:
            return
        url = make_url(self.url)
        name = url.database
        assert name is not None
        assert name.startswith(BENCH_PREFIX), name
        admin = make_url(postgres_server_url()).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        self.dropped = True


# -- processes ---------------------------------------------------------------------------------


def process_environment(
    fake: FakeDiscord, database: Path, extra: dict[str, str] | None = None, *, root: Path = ROOT
) -> dict[str, str]:
    """The environment an operator would give the bot: token, database, data pack, endpoints.

    ``root`` is the checkout whose ``bot`` package runs (another one for a before/after comparison).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DISCORD_", "DATABASE_", "DATA_DIR", "OWNER_", "ADMIN_", "DEV_GUILD", "LOG_", "SHARD_", "REST_", "POLL_")
        )
    }
    env.update(
        PYTHONPATH=str(root),
        PYTHONUNBUFFERED="1",
        DISCORD_TOKEN=fake.token,
        DATABASE_PATH=str(database),
        DATA_DIR=str(ROOT / "data"),
        LOG_LEVEL="INFO",
        DISCORD_API_BASE_URL=fake.api_base_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        # The benchmarks' driver creates polls back to back, as no member may: no wait, no cap.
        POLL_CREATE_COOLDOWN_SECONDS="0",
        POLL_OPEN_LIMIT="10000",
    )
    env.update(extra or {})
    return env


@dataclass
class BotProcess:
    """One bot process (ours or the baseline), its output and its memory."""

    kind: Kind
    process: asyncio.subprocess.Process
    started_at: float
    workdir: Path
    ready_at: float | None = None
    ready_guilds: int | None = None
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=400))
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        kind: Kind,
        fake: FakeDiscord,
        workdir: Path,
        *,
        extra_env: dict[str, str] | None = None,
        root: Path = ROOT,
    ) -> BotProcess:
        argv = [sys.executable, "-m", "bot"] if kind == "bot" else [sys.executable, str(BASELINE_SCRIPT)]
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=workdir,
            env=process_environment(fake, workdir / "bot.db", extra_env, root=root),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        proc = cls(kind=kind, process=process, started_at=started, workdir=workdir)
        proc._reader = asyncio.create_task(proc._read(), name=f"{kind}-output")
        return proc

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _read(self) -> None:
        """Keep the pipe drained (a full pipe would stall the bot) and spot the READY line."""
        stream = self.process.stdout
        assert stream is not None
        while True:
            raw = await stream.readline()
            if not raw:
                return
            line = ANSI_ESCAPE.sub("", raw.decode("utf-8", "replace")).rstrip()
            self.lines.append(line)
            match = READY_LINE.search(line)
            if match and self.ready_at is None:
                self.ready_at = time.perf_counter()
                self.ready_guilds = int(match.group(1))
                self._ready.set()

    async def wait_ready(self, timeout: float) -> float:
        """Seconds from spawning the process to its READY; raises with the log tail if it never came."""
        ready = asyncio.create_task(self._ready.wait())
        exited = asyncio.create_task(self.process.wait())
        try:
            await asyncio.wait({ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            exited.cancel()
        if self.ready_at is None:
            raise RuntimeError(f"{self.kind} was not ready within {timeout} s:\n{self.tail()}")
        return self.ready_at - self.started_at

    def status(self) -> dict[str, int]:
        """VmRSS/VmHWM (peak RSS) of the process in kB, from /proc."""
        values: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    values[name] = int(rest.split()[0])
        return values

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        return process_cpu_seconds(self.pid)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(list(self.lines)[-lines:])

    def errors(self) -> list[str]:
        """ERROR lines, each traceback's last line (its exception) beside them."""
        found: list[str] = []
        in_traceback = False
        for line in self.lines:
            if " ERROR " in line:
                found.append(line)
            elif line.startswith("Traceback"):
                in_traceback = True
            elif in_traceback and line and not line[0].isspace():
                found.append(line)
                in_traceback = False
        return found

    async def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (the bot's clean shutdown), SIGKILL if it does not exit within ``timeout``."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await asyncio.wait_for(self.process.wait(), 10)
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                await asyncio.wait_for(self._reader, 5)
        return self.process.returncode


async def start_ready(
    kind: Kind,
    fake: FakeDiscord,
    workdir: Path,
    *,
    timeout: float = 120.0,
    root: Path = ROOT,
    extra_env: dict[str, str] | None = None,
) -> BotProcess:
    """Start a bot process in ``workdir`` (created) and wait for its READY and the fake's IDENTIFY."""
    os.makedirs(workdir, exist_ok=True)
    proc = await BotProcess.start(kind, fake, workdir, root=root, extra_env=extra_env)
    try:
        await proc.wait_ready(timeout)
        await fake.wait_ready(timeout)
    except BaseException:
        await proc.stop()
        raise
    return proc


async def new_fake() -> FakeDiscord:
    """A fake Discord without OpenAPI validation of every request body.

    The tests validate bodies; here validation would be time the fake spends (more of
    it for the bot's larger embeds than the baseline's) counted as the bot's latency.
    Discord's limits (lengths, counts, 3 s window, one callback) are still enforced.
    """
    fake = FakeDiscord(openapi_path=None)
    # The figures compare one gateway connection with the bare bot's, past Discord's 2,500 a shard.
    fake.max_guilds_per_shard = None
    await fake.start()
    return fake


def quiesce(*fakes: FakeDiscord) -> None:
    """Before a timed step: drop what the fakes recorded of finished steps, then freeze the heap.

    The fake keeps every interaction, request, ephemeral answer and dispatched frame
    (for tests and RESUME). Over tens of thousands of them this process's heap grows
    and its garbage collector pauses longer, landing on whichever bot is measured
    later; clearing and ``gc.freeze()`` keep both bots' steps alike. Call it only
    when no interaction is waiting for an answer.
    """
    for fake in fakes:
        fake.interactions.clear()
        fake._interactions_by_token.clear()
        fake.requests.clear()
        for session in fake.gateway.sessions.values():
            session.log.clear()
        for message_id in [m for m, message in fake._messages.items() if message["flags"] & EPHEMERAL]:
            del fake._messages[message_id]
    gc.collect()
    gc.freeze()


def process_cpu_seconds(pid: int | str) -> float:
    """User + system CPU time process ``pid`` has used so far (from /proc; OSError once it has ended)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def local_database_cpu_seconds() -> float:
    """User + system CPU time of every PostgreSQL server process on this machine (0 if none).

    Only a figure for a server on this machine (the benchmarks' default, 127.0.0.1), whose
    cores the bot and the fake share; it counts everything that server does meanwhile.
    """
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.joinpath("comm").read_text().startswith("postgres"):
                total += process_cpu_seconds(entry.name)
        except OSError:  # the process ended meanwhile
            continue
    return total


class CpuMeter:
    """CPU time a step cost the bot's process, this one (the fake) and a PostgreSQL server on
    this machine, per interaction."""

    def __init__(self, proc: BotProcess) -> None:
        self.proc = proc
        self.bot = proc.cpu_seconds()
        times = os.times()
        self.here = times.user + times.system
        self.database = local_database_cpu_seconds()

    def per_interaction(self, count: int) -> Json:
        times = os.times()
        bot = self.proc.cpu_seconds() - self.bot
        here = times.user + times.system - self.here
        database = local_database_cpu_seconds() - self.database
        return {
            "bot_cpu_ms_per_interaction": round(bot * 1000 / max(1, count), 3),
            "fake_cpu_ms_per_interaction": round(here * 1000 / max(1, count), 3),
            "database_cpu_ms_per_interaction": round(database * 1000 / max(1, count), 3),
        }


# -- worlds ----------------------------------------------------------------------------------


@dataclass
class VotingWorld:
    """One guild with a text channel and many members: where commands and votes come from."""

    guild: Guild
    channel: Channel
    members: list[Member]


def build_voting_world(fake: FakeDiscord, members: int, name: str = "Hyosan High Fans") -> VotingWorld:
    guild = fake.add_guild(name)
    channel = guild.add_channel("general", TEXT)
    return VotingWorld(guild, channel, [guild.add_member(name=f"fan-{n}") for n in range(members)])


def add_plain_guilds(fake: FakeDiscord, count: int, *, channels: int, roles: int) -> list[Guild]:
    """``count`` guilds of ``channels`` text channels and ``roles`` roles in all (@everyone and the bot's included)."""
    guilds = []
    for n in range(count):
        guild = fake.add_guild(f"Fan server {n}")
        for c in range(channels):
            guild.add_channel(f"channel-{c}", TEXT)
        for r in range(max(0, roles - len(guild.roles))):
            guild.add_role(f"role-{r}", 0)
        guilds.append(guild)
    return guilds


# -- interactions ------------------------------------------------------------------------------


@dataclass
class Prepared:
    """An INTERACTION_CREATE payload built ahead of time, and how to register it."""

    payload: Json
    source_message_id: int | None = None
    command_name: str | None = None


def slash_payload(
    fake: FakeDiscord, world: VotingWorld, member: Member, command: str, options: dict[str, Any] | None = None
) -> Prepared:
    root, data = fake._command_data(world.guild, world.channel, member, command, options)
    payload = fake._interaction_base(world.guild, world.channel, member, APPLICATION_COMMAND, data, "en-US")
    return Prepared(payload, command_name=root["name"])


def autocomplete_payload(
    fake: FakeDiscord, world: VotingWorld, member: Member, command: str, focused: str, value: str
) -> Prepared:
    root, data = fake._command_data(
        world.guild, world.channel, member, command, None, focused=focused, focused_value=value
    )
    payload = fake._interaction_base(world.guild, world.channel, member, AUTOCOMPLETE, data, "en-US")
    return Prepared(payload, command_name=root["name"])


def click_payload(fake: FakeDiscord, world: VotingWorld, member: Member, message: Json, custom_id: str) -> Prepared:
    stored = fake._resolve_message(message)
    component = fake._find_component(stored, custom_id)
    data: Json = {"custom_id": custom_id, "component_type": component["type"]}
    if "id" in component:
        data["id"] = component["id"]
    payload = fake._interaction_base(world.guild, world.channel, member, MESSAGE_COMPONENT, data, "en-US")
    payload["message"] = stored
    return Prepared(payload, source_message_id=int(stored["id"]))


@dataclass
class Outcome:
    """What became of a batch of interactions."""

    records: list[InteractionRecord]
    first_dispatch: float
    last_dispatch: float
    offered_rate: float | None

    @property
    def latencies(self) -> list[float]:
        return [r.latency for r in self.records if r.latency is not None]

    @property
    def acknowledged(self) -> list[InteractionRecord]:
        return [r for r in self.records if r.answered]

    @property
    def not_acknowledged(self) -> int:
        return sum(1 for r in self.records if not r.answered)

    @property
    def late(self) -> int:
        """Callbacks refused because they came after Discord's 3 s window (404/10062)."""
        return sum(1 for r in self.records if (404, 10062) in r.rejected_callbacks)

    @property
    def acks_per_second(self) -> float:
        acks = [r.acknowledged_at for r in self.records if r.acknowledged_at is not None]
        if len(acks) < 2:
            return 0.0
        span = max(acks) - self.first_dispatch
        return len(acks) / span if span > 0 else 0.0

    def summary(self) -> Json:
        lat = self.latencies
        return {
            "interactions": len(self.records),
            "offered_per_second": None if self.offered_rate is None else round(self.offered_rate, 1),
            "dispatched_per_second": round(len(self.records) / max(1e-9, self.last_dispatch - self.first_dispatch), 1)
            if len(self.records) > 1
            else None,
            "acknowledged": len(self.acknowledged),
            "not_acknowledged": self.not_acknowledged,
            "late": self.late,
            "acks_per_second": round(self.acks_per_second, 1),
            "p50_ms": round(percentile(lat, 0.50) * 1000, 3) if lat else None,
            "p99_ms": round(percentile(lat, 0.99) * 1000, 3) if lat else None,
            "max_ms": round(max(lat) * 1000, 3) if lat else None,
        }


async def dispatch_all(
    fake: FakeDiscord, prepared: Sequence[Prepared], rate: float | None, *, settle: float = ACK_WINDOW + 1.5
) -> Outcome:
    """Dispatch at a steady ``rate`` per second (open loop; ``None``: all at once), then wait for answers.

    Interactions go out on schedule whether or not earlier ones were answered (a slow
    bot does not slow the arrivals). Waiting ends when every one is answered or
    ``settle`` seconds after the last dispatch: the 3 s window has then passed for all.
    """
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.02
    tasks: list[asyncio.Task[InteractionRecord]] = []
    for index, item in enumerate(prepared):
        if rate is not None:
            delay = start + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        tasks.append(
            asyncio.create_task(
                fake.dispatch_interaction(
                    item.payload, source_message_id=item.source_message_id, command_name=item.command_name
                )
            )
        )
    records = list(await asyncio.gather(*tasks))
    first = min(r.dispatched_at for r in records)
    last = max(r.dispatched_at for r in records)
    wait = max(0.0, last - time.perf_counter() + settle)
    await asyncio.gather(*(r.wait_acknowledged(wait) for r in records if not r.answered))
    return Outcome(records, first, last, rate)


async def wait_commands(fake: FakeDiscord, names: Iterable[str], timeout: float = 30.0) -> None:
    """Until the bot's global commands include ``names`` (it syncs them before connecting)."""
    wanted = set(names)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wanted <= {c["name"] for c in fake.commands_for(None)}:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"commands {sorted(wanted)} were not synced within {timeout} s")


async def dispatch_saturating(
    fake: FakeDiscord, prepared: Sequence[Prepared], in_flight: int, seconds: float
) -> Outcome:
    """Keep ``in_flight`` interactions outstanding for ``seconds`` (closed loop): the most the bot can take.

    A new interaction goes out as soon as one is answered (or its 3 s window is over),
    so the rate settles at what the bot acknowledges; ``prepared`` must hold enough.
    """
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(in_flight)
    records: list[InteractionRecord] = []
    tasks: list[asyncio.Task[None]] = []

    async def one(item: Prepared) -> None:
        try:
            record = await fake.dispatch_interaction(
                item.payload, source_message_id=item.source_message_id, command_name=item.command_name
            )
            records.append(record)
            await record.wait_acknowledged(ACK_WINDOW + 0.5)
        finally:
            slots.release()

    deadline = loop.time() + seconds
    for item in prepared:
        await slots.acquire()
        if loop.time() >= deadline:
            slots.release()
            break
        tasks.append(asyncio.create_task(one(item)))
    else:
        raise RuntimeError(f"{len(prepared)} prepared interactions ran out before {seconds} s")
    await asyncio.gather(*tasks)
    first = min(r.dispatched_at for r in records)
    last = max(r.dispatched_at for r in records)
    return Outcome(records, first, last, None)
