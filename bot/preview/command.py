"""Start the local Discord, its page and the real bot as a child ``python -m bot``; stop all three.

The bot runs as its own process, started exactly as an operator starts it, with only the
Discord endpoints, the token and the store path overridden in its environment: the same
settings file, the same data pack, the same log. The preview never touches the internet.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from localdiscord import FakeDiscord

from .web import PreviewSite, wait_for_bot
from .world import PreviewWorld, build_world

DEFAULT_PORT = 8765
DEFAULT_DATABASE = Path("var/preview.db")
BOT_NAME = "hyosan-bot"
#: How long the bot may take to connect before the preview says so (it keeps waiting).
CONNECT_PATIENCE = 60.0
STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class PreviewOptions:
    env_file: Path
    port: int = DEFAULT_PORT
    database: Path | None = None

    @property
    def store(self) -> Path:
        return self.database or DEFAULT_DATABASE


def say(text: str) -> None:
    print(f"preview: {text}", flush=True)


def fresh_scratch_store(path: Path) -> None:
    """The local Discord forgets its messages at exit, so the default store starts afresh too."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


def local_discord() -> FakeDiscord:
    """The preview's local Discord: a bot token of its own at every run, the preview's bot name.

    The token is random so that nothing but the bot this run starts (it gets the token in its
    environment) can log in to it or call its REST API; a wrong one is refused as Discord
    refuses it (401, gateway close 4004).
    """
    return FakeDiscord(openapi_path=None, token=secrets.token_urlsafe(32), bot_name=BOT_NAME)


def bot_environment(fake: FakeDiscord, world: PreviewWorld, options: PreviewOptions) -> dict[str, str]:
    """The operator's environment with Discord replaced by the local one (nothing else changes)."""
    env = dict(os.environ)
    env.update(
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE_URL=fake.api_base_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        # DATABASE_URL wins over an operator's DATABASE_PATH or DATABASE_URL: the preview has its own store.
        DATABASE_URL=str(options.store),
        # The preview's owner owns the bot too, and its server is the admin server: /release works.
        OWNER_IDS=str(world.owner.id),
        ADMIN_GUILD_IDS=str(world.guild.id),
        DEV_GUILD_ID="",
    )
    return env


async def run_preview(settings: Settings, options: PreviewOptions) -> int:
    """Serve until SIGINT/SIGTERM or until the bot stops; the exit status is the bot's when it failed."""
    del settings  # validated by the caller; the bot reads the same settings itself
    if options.database is None:
        fresh_scratch_store(options.store)
    fake = local_discord()
    await fake.start()
    world = build_world(fake)
    site = PreviewSite(fake, world)
    try:
        await site.start(options.port)
    except OSError as exc:
        await fake.close()
        print(
            f"error: cannot serve the preview on 127.0.0.1:{options.port} ({exc.strerror or exc}); "
            "pass --port N, or --port 0 for any free port",
            file=sys.stderr,
        )
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    say(f"open {site.url} in your browser (only this computer can reach it)")
    say(f"the bot's store is {options.store}; its log follows. Ctrl+C stops the preview.")
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--env-file",
        str(options.env_file),
        env=bot_environment(fake, world, options),
    )
    status = 0
    try:
        status = await _serve(fake, bot, stop)
    finally:
        await _stop_bot(bot)
        await site.close()
        await fake.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    say("stopped")
    return status


async def _serve(fake: FakeDiscord, bot: asyncio.subprocess.Process, stop: asyncio.Event) -> int:
    exited = asyncio.create_task(bot.wait(), name="bot-process")
    stopped = asyncio.create_task(stop.wait(), name="wait-for-signal")
    ready = asyncio.create_task(wait_for_bot(fake, within=CONNECT_PATIENCE), name="bot-ready")
    pending = {exited, stopped, ready}
    try:
        while True:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if ready in done:
                if ready.result():
                    say("the bot is connected and its commands are synced; the page is live")
                else:
                    say(f"the bot has not connected after {CONNECT_PATIENCE:.0f} s; see its log above")
            if stopped in done or stop.is_set():
                return 0
            if exited in done:
                code = exited.result()
                say(f"the bot stopped by itself (exit status {code})")
                return code
    finally:
        for task in pending:
            task.cancel()


async def _stop_bot(bot: asyncio.subprocess.Process) -> None:
    """SIGINT, as Ctrl+C gives the bot when it has a terminal; it closes the gateway, then the store."""
    if bot.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        bot.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(bot.wait(), STOP_TIMEOUT)
    except TimeoutError:
        say(f"the bot did not stop within {STOP_TIMEOUT:.0f} s; killing it")
        bot.kill()
        await bot.wait()
