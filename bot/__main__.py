"""Entry point: ``python -m bot`` runs the bot, ``python -m bot check`` checks the set-up,
``python -m bot preview`` runs it against the built-in local Discord with a web page,
``python -m bot invite`` prints the links that add it to a server or to a member's account.

Every expected failure (missing token, bad setting, broken data pack, unusable
database) prints one clear paragraph and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord

from bot import __version__
from bot.client import Clock, HyosanBot, command_payload, utc_now
from bot.datapack import STALE_AFTER_MONTHS, DataPackError, is_stale, load_data_pack, newest_source_date, source_audit
from bot.endpoints import apply_discord_endpoints
from bot.i18n import languages
from bot.invite import application_id_from_token, describe_invite
from bot.observability import OperatingServer
from bot.observability.logs import setup_logging
from bot.settings import Settings, SettingsError, load_settings
from bot.store import Store, StoreError, describe_url, parse_database_url
from bot.store.backup import backup_store, restore_store
from bot.store.copy import copy_store

log = logging.getLogger("bot")

EXIT_CONFIG = 2
EXIT_UNREACHABLE = 1
#: How long `python -m bot health` waits for the bot's answer (seconds).
HEALTH_TIMEOUT = 5.0

#: Gateway close codes that are the operator's to fix, and what to tell them.
GATEWAY_REFUSALS = {
    4010: "Discord refused the shard (close code 4010, invalid shard): check SHARD_COUNT and SHARD_IDS.",
    4011: (
        "Discord requires more shards (close code 4011, sharding required: at most 2,500 servers a shard): "
        "raise SHARD_COUNT, or leave it empty for Discord's recommendation."
    ),
}

NO_TOKEN_HELP = """\
DISCORD_TOKEN is not set, so the bot cannot log in.

Create an application at https://discord.com/developers/applications, open its
"Bot" page and press "Reset Token" to get a token. Put it in a file named .env in
this directory as DISCORD_TOKEN=... (copy .env.example to start), or export
DISCORD_TOKEN in the environment. Never commit the token.
Run `python -m bot check` to check everything else without a token, or
`python -m bot preview` to try the bot without Discord, in your browser."""


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_CONFIG


async def check(settings: Settings, *, clock: Clock = utc_now) -> str:
    """Everything start-up does without a network: migrate the database, validate and load
    the data pack, load every cog and build the command tree. No token needed.

    Also warns (without failing) when the pack's newest source is more than six months
    old on ``clock``'s date, so an operator knows its facts may be out of date.
    """
    async with await Store.open(settings.store_url) as store:
        bot = HyosanBot(settings, store=store, clock=clock)
        try:
            await bot.prepare()
            version = await store.schema_version()
            bot_store_path, dialect = store.path, store.dialect
            summary = bot.pack_sync_summary
            newest = newest_source_date(bot.pack)
            today = bot.clock().astimezone(dt.UTC).date()
            global_commands = len(await command_payload(bot.tree, None))
            features = len(bot.extensions)
            missing = bot.missing_translations
            audit = source_audit(bot.pack, settings.data_dir, today)
            rate = bot.rest_share.describe()
            season = bot.pack.release.season
        finally:
            await bot.close()
    assert summary is not None
    counts = ", ".join(f"{kind}: {count}" for kind, count in sorted(summary.counts.items()))
    translated = "complete" if not missing else f"incomplete, missing: {len(missing)} (listed below)"
    age = f"newest source {newest.isoformat()}" if newest else "no dated source"
    warnings = []
    if is_stale(newest, today):
        warnings.append(
            f"warning: the data pack's newest source is more than {STALE_AFTER_MONTHS} months old "
            f"({newest.isoformat() if newest else 'no dated source'}, today {today.isoformat()}): "
            f"its facts may be out of date; add newer sources to {settings.data_dir}"
        )
    return "\n".join(
        [
            f"hyosan-bot {__version__}: configuration OK",
            f"  token:        {'set' if settings.token else 'not set (needed to run the bot)'}",
            f"  database:     {describe_store(bot_store_path, dialect)} (schema revision {version})",
            f"  data pack:    {settings.data_dir} ({counts}; {'updated' if summary.changed else 'unchanged'})",
            f"  pack sources: {age}",
            f"  features:     {features} cogs, {global_commands} global commands",
            f"  owners:       {len(settings.owner_ids)}; admin guilds: {len(settings.admin_guild_ids)}; "
            f"dev guild: {settings.dev_guild_id or 'none'}",
            f"  discord:      {settings.discord_api_base_url} / {settings.discord_gateway_url}",
            f"  shards:       {describe_shards(settings)}",
            f"  rest rate:    {rate}",
            f"  left servers: settings kept {settings.guild_grace_days:g} days after removal (GUILD_GRACE_DAYS)",
            f"  release watch: {describe_release_watch(settings, season)}",
            f"  languages:    {', '.join(languages())}; data pack translations {translated}",
            f"  source audit: {len(audit)} findings (listed below: no date or address, no source, older than "
            f"{STALE_AFTER_MONTHS} months)"
            if audit
            else "  source audit: every source is dated with an address, every fact current",
            f"  application:  {describe_application(settings)}",
            f"  metrics:      {describe_metrics(settings)}",
            f"  log format:   {settings.log_format} (LOG_FORMAT)",
            *(f"  warning: {line}" for line in missing),
            *(f"  audit: {line}" for line in audit),
            *warnings,
        ]
    )


def describe_release_watch(settings: Settings, season: int | None) -> str:
    """Whether the bot looks at TVmaze by itself, and for what."""
    if not settings.release_watch_on:
        return "off (set RELEASE_WATCH_TVMAZE_ID and RELEASE_WATCH_CHANNEL_ID to turn it on)"
    if season is None:
        return "off: the data pack's release.toml names no season (add e.g. season = 2)"
    return (
        f"on: TVmaze show {settings.release_watch_tvmaze_id}, season {season}, at {settings.tvmaze_api_url}, "
        f"every {describe_seconds(settings.release_watch_interval)}; proposals in channel "
        f"{settings.release_watch_channel_id} (must be in one of ADMIN_GUILD_IDS)"
    )


def describe_seconds(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def application_of(settings: Settings) -> tuple[int, str] | None:
    """The application id and where it came from: the token, else APPLICATION_ID."""
    from_token = application_id_from_token(settings.token) if settings.token else None
    if from_token is not None:
        return from_token, "from DISCORD_TOKEN"
    if settings.application_id is not None:
        return settings.application_id, "from APPLICATION_ID"
    return None


def describe_application(settings: Settings) -> str:
    found = application_of(settings)
    if found is None:
        return "not known (set DISCORD_TOKEN or APPLICATION_ID for `python -m bot invite`)"
    application_id, source = found
    mismatch = (
        f"; APPLICATION_ID {settings.application_id} is another application's"
        if settings.application_id is not None and settings.application_id != application_id
        else ""
    )
    return f"{application_id} ({source}{mismatch}); `python -m bot invite` prints the install links"


def invite(settings: Settings) -> int:
    """``invite``: the server and user install links, without a network."""
    found = application_of(settings)
    if found is None:
        return fail(
            "the application id is not known: set DISCORD_TOKEN (its first part names the application) "
            "or APPLICATION_ID (the Developer Portal's General Information page)"
        )
    print(describe_invite(*found))
    if settings.application_id is not None and settings.application_id != found[0]:
        print(f"warning: APPLICATION_ID {settings.application_id} is not the token's application; the token's is used")
    return 0


def describe_metrics(settings: Settings) -> str:
    if settings.metrics_port is None:
        return "off (set METRICS_PORT to serve /metrics, /livez and /readyz)"
    return f"http://{settings.metrics_host}:{settings.metrics_port} (/metrics, /livez, /readyz)"


def describe_store(path: str, dialect: str) -> str:
    return f"{path} (SQLite)" if dialect == "sqlite" else f"{path} (PostgreSQL)"


async def store_command(settings: Settings, action: str | None, target: str | None, file: str | None) -> int:
    """``store copy --to URL``: copy this bot's store (DATABASE_URL / DATABASE_PATH) into an
    empty PostgreSQL database, then say how to switch over. ``store backup FILE``: a consistent
    SQLite copy of it, taken while the bot runs; ``store restore FILE``: a backup loaded into it
    (it must be empty)."""
    if action == "backup" or action == "restore":
        if not file:
            return fail(f"usage: python -m bot store {action} FILE")
        if action == "backup":
            async with await Store.open(settings.store_url) as source:
                report = await backup_store(source, Path(file))
            print("\n".join(report.lines("backed up")))
            return 0
        report = await restore_store(Path(file), settings.store_url)
        print("\n".join(report.lines("restored")))
        print("Run `python -m bot check`, then start the bot.")
        return 0
    if action != "copy":
        return fail(
            "usage: python -m bot store copy --to postgresql://user@host:5432/database, "
            "python -m bot store backup FILE or python -m bot store restore FILE"
        )
    if not target:
        return fail("store copy needs --to postgresql://user@host:5432/database (an empty database)")
    target_url = parse_database_url(target, setting="--to")
    async with await Store.open(settings.store_url) as source:
        copied = await copy_store(source, target_url, progress=lambda line: print(f"  {line}", flush=True))
    print("\n".join(copied.lines()))
    print(f"Set DATABASE_URL to that database (written as {describe_url(target_url)}) and start the bot.")
    return 0


def health(settings: Settings, probe: str | None) -> int:
    """``python -m bot health [live]``: ask the running process on METRICS_PORT; 0 ready (or live), 1 not."""
    if probe not in (None, "ready", "live"):
        return fail("usage: python -m bot health [ready|live]")
    if settings.metrics_port is None:
        return fail("health needs METRICS_PORT: the running bot serves /readyz and /livez there")
    host = settings.metrics_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    url = f"http://{host if ':' not in host else f'[{host}]'}:{settings.metrics_port}/{'livez' if probe == 'live' else 'readyz'}"
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT) as response:
            print(response.read().decode(errors="replace").strip())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(errors="replace").strip())
        return EXIT_UNREACHABLE
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f'{{"status": "unreachable", "reason": "nothing answers at {url}: {reason}"}}')
        return EXIT_UNREACHABLE


def describe_shards(settings: Settings) -> str:
    count = f"{settings.shard_count} in total" if settings.shard_count else "as many as Discord recommends"
    if settings.shard_ids is None:
        return f"{count}; this process runs every shard"
    return f"{count}; this process runs {', '.join(map(str, settings.shard_ids))}"


async def run(settings: Settings) -> int:
    """Open the store, run the bot with it until SIGINT or SIGTERM, then close the gateway
    and the store cleanly (discord.py's ``advanced_startup.py``: the entry point owns the
    resources and hands them to the bot).

    The close is awaited here, inside the main coroutine, so asyncio.run cannot cancel
    it half-way when the gateway task finishes first.
    """
    token = settings.token
    assert token is not None
    apply_discord_endpoints(settings)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _request_shutdown, stop_requested, signum)
    try:
        store = await Store.open(settings.store_url)
        try:
            async with HyosanBot(settings, store=store) as bot, operating_server(settings, bot):
                runner = asyncio.create_task(bot.start(token, reconnect=True), name="bot")
                stopper = asyncio.create_task(stop_requested.wait(), name="wait-for-signal")
                done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if stopper in done:
                    await bot.close()
                else:
                    stopper.cancel()
                await runner
        finally:
            await store.close()  # after the bot, whose close ends what still used the store
            log.info("store closed")
    except MetricsPortError as exc:
        return fail(str(exc))
    except discord.LoginFailure:
        return fail("Discord refused DISCORD_TOKEN (401). Reset the token on the Bot page and update .env.")
    except discord.PrivilegedIntentsRequired:
        return fail("Discord refused an intent; the bot needs no privileged intents, so this is a bug.")
    except discord.ConnectionClosed as exc:
        if exc.code in GATEWAY_REFUSALS:
            return fail(GATEWAY_REFUSALS[exc.code])
        raise
    except (aiohttp.ClientConnectionError, OSError) as exc:
        print(f"error: cannot reach Discord at {settings.discord_api_base_url}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return 0


@contextlib.asynccontextmanager
async def operating_server(settings: Settings, bot: HyosanBot) -> AsyncIterator[None]:
    """/metrics, /livez and /readyz on METRICS_PORT for as long as the bot runs (nothing if unset)."""
    if settings.metrics_port is None:
        yield
        return
    server = OperatingServer(bot.metrics, bot.liveness, bot.readiness, settings.metrics_host, settings.metrics_port)
    try:
        await server.start()
    except OSError as exc:
        raise MetricsPortError(
            f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port} ({exc.strerror or exc}): "
            "choose another METRICS_PORT, or stop what listens there"
        ) from None
    try:
        yield
    finally:
        await server.close()


class MetricsPortError(Exception):
    """METRICS_HOST:METRICS_PORT cannot be listened on."""


def _request_shutdown(stop_requested: asyncio.Event, signum: int) -> None:
    log.info("received %s; shutting down", signal.Signals(signum).name)
    stop_requested.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="hyosan-bot")
    parser.add_argument(
        "command", nargs="?", choices=["run", "check", "preview", "store", "invite", "health"], default="run"
    )
    parser.add_argument("action", nargs="?", help="with store: copy, backup or restore; with health: ready or live")
    parser.add_argument("file", nargs="?", help="with store backup and store restore: the backup file")
    parser.add_argument("--to", dest="target", help="with store copy: the empty PostgreSQL database to copy into")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="settings file (default .env)")
    preview_options = parser.add_argument_group("preview")
    preview_options.add_argument(
        "--port", type=int, default=8765, help="port of the preview's page on 127.0.0.1 (default 8765; 0: any free)"
    )
    preview_options.add_argument(
        "--database",
        type=Path,
        default=None,
        help="keep the preview's store here (default: a fresh var/preview.db at every start)",
    )
    args = parser.parse_args(argv)
    if args.action is not None and args.command not in ("store", "health"):
        return fail(f"unexpected argument {args.action!r} after {args.command}")
    if args.command == "preview":
        return preview(args)
    try:
        settings = load_settings(args.env_file)
    except SettingsError as exc:
        return fail(str(exc))
    # `check` prints a summary; its log stays quiet unless LOG_LEVEL asks for DEBUG.
    level = settings.log_level if args.command == "run" or settings.log_level == "DEBUG" else "WARNING"
    password = settings.store_url.password
    setup_logging(getattr(logging, level), settings.log_format, [settings.token, str(password) if password else None])
    if args.command == "invite":
        return invite(settings)
    try:
        if args.command == "health":
            return health(settings, args.action)
        if args.command == "check":
            print(asyncio.run(check(settings)))
            return 0
        if args.command == "store":
            return asyncio.run(store_command(settings, args.action, args.target, args.file))
        if settings.token is None:
            print(NO_TOKEN_HELP, file=sys.stderr)
            return EXIT_CONFIG
        return asyncio.run(run(settings))
    except (DataPackError, StoreError) as exc:
        return fail(str(exc))


def preview(args: argparse.Namespace) -> int:
    """Check what the bot would refuse before showing an address, then run the preview."""
    from bot.preview.command import PreviewOptions, run_preview

    try:
        settings = load_settings(args.env_file)
        load_data_pack(settings.data_dir)
    except (SettingsError, DataPackError) as exc:
        return fail(str(exc))
    if not 0 <= args.port <= 65535:
        return fail(f"--port {args.port} is not a port (0-65535)")
    options = PreviewOptions(env_file=args.env_file, port=args.port, database=args.database)
    return asyncio.run(run_preview(settings, options))


if __name__ == "__main__":
    sys.exit(main())
