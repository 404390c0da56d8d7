"""The benchmarks' baseline as a process: the test harness's bare discord.py bot.

``bot/localdiscord/bare_bot.py``'s :class:`BareBot` (intents: guilds only, like the
bot; ``/ping`` answers a fixed embed with a persistent button, the button acknowledges
with a deferred update), run the way ``python -m bot`` runs: token and endpoints from
``DISCORD_TOKEN``, ``DISCORD_API_BASE_URL`` and ``DISCORD_GATEWAY_URL``, discord.py's
logging at ``LOG_LEVEL``, the same 2 s ``guild_ready_timeout`` as the bot, a clean
close on SIGTERM, and the same "ready as ... in N guilds" line when READY arrives.

bare_bot.py sits beside the fake server and imports it; importing the fake would add
its aiohttp server and schema checker (about 9 MB) to the baseline's memory, so the
module is loaded on its own, its one import of the server replaced by a stand-in it
never calls here.

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

import discord
import discord.gateway
import discord.http
import yarl

BARE_BOT = Path(__file__).resolve().parents[1] / "tests" / "bare_bot.py"
GUILD_READY_TIMEOUT = 2.0

log = logging.getLogger("baseline")


def load_bare_bot() -> types.ModuleType:
    """Import ``tests/bare_bot.py`` by path: the baseline needs neither the fake nor the tests package."""
    spec = importlib.util.spec_from_file_location("_bare_bot", BARE_BOT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bare_bot = load_bare_bot()


class BaselineBot(bare_bot.BareBot):  # type: ignore[misc, name-defined]
    async def on_ready(self) -> None:
        log.info("ready as %s in %d guilds", self.user, len(self.guilds))


async def run(token: str) -> int:
    bot = BaselineBot(guild_ready_timeout=GUILD_READY_TIMEOUT)
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
