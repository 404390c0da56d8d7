"""The benchmarks' baseline as a process: the test harness's bare discord.py bot.

``tests/support/bare_bot.py``'s :class:`BareBot` (intents: guilds only, like the
bot; ``/ping`` answers a fixed embed with a persistent button, the button acknowledges
with a deferred update), run the way ``python -m bot`` runs: token and endpoints from
``DISCORD_TOKEN``, ``DISCORD_API_BASE_URL`` and ``DISCORD_GATEWAY_URL``, discord.py's
logging at ``LOG_LEVEL``, the same 2 s ``guild_ready_timeout`` as the bot, a clean
close on SIGTERM, and the same "ready as ... in N guilds" line when READY arrives.

bare_bot.py sits beside the fake server and imports it; importing the fake would add
its aiohttp server and schema checker (about 9 MB) to the baseline's memory, so the
module is loaded on its own, its one import of the server replaced by a stand-in it
never calls here.

With ``BASELINE_DATABASE`` set (an SQLite file's path or a ``postgresql://`` URL), ``/ping``
carries a third button, :class:`DurableButton`: it writes one row durably in that database
(one autocommitted INSERT, on the loop's thread with ``sqlite3`` or in one round trip with
``asyncpg``), then answers privately with one line. That is the floor of a vote, which
must be committed before its click is answered and tells the member what they hold:
discord.py's private answer plus the least a database can do for it.

Run: ``python bench/baseline_bot.py`` (bench/run.py starts it).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import signal
import sys
import types
from pathlib import Path
from typing import Any, Protocol

import discord
import discord.gateway
import discord.http
import yarl

BARE_BOT = Path(__file__).resolve().parents[1] / "tests" / "support" / "bare_bot.py"
GUILD_READY_TIMEOUT = 2.0

log = logging.getLogger("baseline")


def load_bare_bot() -> types.ModuleType:
    """Import ``tests/support/bare_bot.py`` by path: the baseline needs neither the fake nor the tests package."""
    spec = importlib.util.spec_from_file_location("_bare_bot", BARE_BOT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bare_bot = load_bare_bot()


class Clicks(Protocol):
    async def write(self, member: int, n: int) -> None: ...

    async def close(self) -> None: ...


#: Created by both kinds of database; a click's row and nothing else.
CREATE_CLICKS = "CREATE TABLE IF NOT EXISTS bare_clicks (member BIGINT NOT NULL, n INTEGER NOT NULL)"


class SqliteClicks:
    """An SQLite file as the bot's store opens it: WAL, synchronous=NORMAL (a commit survives a
    crash of the process, as the bot's do; it is synced at checkpoints, not at every commit)."""

    def __init__(self, path: str) -> None:
        import sqlite3  # only when asked for: the memory benchmark's baseline has no database

        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")  # the bot checkpoints off its commits; this never does
        self.conn.execute(CREATE_CLICKS)

    async def write(self, member: int, n: int) -> None:
        self.conn.execute("INSERT INTO bare_clicks (member, n) VALUES (?, ?)", (member, n))

    async def close(self) -> None:
        self.conn.close()


class PostgresClicks:
    """One asyncpg connection, used in turns (as the bot's vote path uses its one); each INSERT
    is its own transaction, committed in one round trip."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.turn = asyncio.Lock()

    @classmethod
    async def connect(cls, url: str) -> PostgresClicks:
        import asyncpg

        conn = await asyncpg.connect(url)
        await conn.execute(CREATE_CLICKS)
        return cls(conn)

    async def write(self, member: int, n: int) -> None:
        async with self.turn:
            await self.conn.execute("INSERT INTO bare_clicks (member, n) VALUES ($1, $2)", member, n)

    async def close(self) -> None:
        await self.conn.close()


class DurableButton(bare_bot.AckButton, template=r"bare:durable:(?P<n>\d+)"):  # type: ignore[name-defined, call-arg]
    """Commits one row, then answers privately like the answer button: a vote's floor."""

    kind = "durable"
    label = "Durable"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        assert isinstance(client, BaselineBot)
        assert client.clicks is not None
        await client.clicks.write(interaction.user.id, self.n)
        await interaction.response.send_message(bare_bot.ANSWER_TEXT, ephemeral=True)


class BaselineBot(bare_bot.BareBot):  # type: ignore[misc, name-defined]
    def __init__(self, *, database: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database = database
        self.clicks: Clicks | None = None

    async def setup_hook(self) -> None:
        if self.database is not None:
            if self.database.startswith("postgresql"):
                self.clicks = await PostgresClicks.connect(self.database)
            else:
                self.clicks = SqliteClicks(self.database)
            self.add_dynamic_items(DurableButton)
        await super().setup_hook()

    def ping_buttons(self) -> list[discord.ui.Item[Any]]:
        buttons: list[discord.ui.Item[Any]] = super().ping_buttons()
        return [*buttons, DurableButton(1)] if self.clicks is not None else buttons

    async def close(self) -> None:
        await super().close()
        if self.clicks is not None:
            await self.clicks.close()

    async def on_ready(self) -> None:
        log.info("ready as %s in %d guilds", self.user, len(self.guilds))


async def run(token: str) -> int:
    bot = BaselineBot(guild_ready_timeout=GUILD_READY_TIMEOUT, database=os.environ.get("BASELINE_DATABASE") or None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = asyncio.create_task(bot.start(token), name="baseline")
    stopper = asyncio.create_task(stop.wait(), name="wait-for-signal")
    done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if stopper in done:
        await bot.close()
    else:
        stopper.cancel()
    try:
        await runner
    except discord.LoginFailure:
        log.error("Discord refused the token")
        return 2
    log.info("closed")
    return 0


def main() -> int:
    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if not token:
        print("DISCORD_TOKEN is not set", file=sys.stderr)
        return 2
    discord.http.Route.BASE = os.environ.get("DISCORD_API_BASE_URL", discord.http.Route.BASE).rstrip("/")
    gateway = os.environ.get("DISCORD_GATEWAY_URL")
    if gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    level = getattr(logging, os.environ.get("LOG_LEVEL", "INFO").upper(), logging.INFO)
    discord.utils.setup_logging(level=level, root=True)
    return asyncio.run(run(token))


if __name__ == "__main__":
    sys.exit(main())
