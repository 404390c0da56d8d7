"""The bot itself: uses the store it is given, loads the data pack and the cogs, syncs commands."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import pkgutil
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

import cogs
from bot import __version__
from bot.datapack import DataPack, load_data_pack, missing_translations, newest_source_date
from bot.errors import BotCommandTree
from bot.guilds import GuildKeeper
from bot.i18n import CatalogTranslator
from bot.language import ChosenLanguages
from bot.moderation import SettingsGroup
from bot.observability import Metrics, Snapshot
from bot.observability.metrics import RateLimitWatch
from bot.pacing import RequestPacer, RestShare, rest_share
from bot.packstore import PackSyncSummary, sync_data_pack
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.shards import IdentifyGate, Ownership, SharedIdentifyTurns
from bot.spoilers.flags import DiscordSpoilerChannels
from bot.state import delete_state, read_state, state_keys, write_state
from bot.store import Store, classify_failure

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: How long /readyz waits for the store's answer.
READINESS_STORE_TIMEOUT = 2.0
#: How long closing waits for cancelled listener calls to end (before the store is closed).
EVENT_TASKS_END_TIMEOUT = 5.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def discover_cogs() -> list[str]:
    """Every package under cogs/ is a feature extension with a ``setup`` function."""
    return sorted(
        f"{cogs.__name__}.{module.name}"
        for module in pkgutil.iter_modules(cogs.__path__)
        if module.ispkg and not module.name.startswith("_")
    )


def bot_intents() -> discord.Intents:
    """Slash commands only: the guilds intent and nothing privileged."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class HyosanBot(commands.AutoShardedBot):
    """An AutoShardedBot whose async start-up all happens in :meth:`setup_hook`.

    It runs the shards in SHARD_IDS (default: all) of SHARD_COUNT (default: Discord's
    recommendation, read by discord.py from GET /gateway/bot) in this one process. The
    store is opened by whoever makes the bot (the entry point) and closed by it after the
    bot has closed, as in discord.py's ``advanced_startup.py``; a bot made without one
    (``store=None``) can only be looked at, never started.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Clock = utc_now,
        guild_ready_timeout: float = 2.0,
        freeze_heap: bool = True,
    ) -> None:
        """``freeze_heap=False`` skips :func:`freeze_startup_heap` at READY (the test harness,
        which starts hundreds of bots in one process, each paying ~0.2 s for the collections)."""
        #: What this process counts (bot/observability): features call its count_* methods.
        self.metrics = Metrics()
        # The bot never joins voice: discord.py's warnings about missing voice libraries are noise.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=BotCommandTree,
            help_command=None,
            owner_ids=set(settings.owner_ids),
            max_messages=None,
            chunk_guilds_at_startup=False,
            guild_ready_timeout=guild_ready_timeout,
            shard_count=settings.shard_count,
            # None is discord.py's own default (every shard), though its hints say list[int].
            shard_ids=list(settings.shard_ids) if settings.shard_ids is not None else None,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.clock = clock
        self.version = __version__
        self.settings_group = SettingsGroup()
        self.scheduler = Scheduler(clock)
        #: A moderator's choice of the language of the bot's posts, read by the core (bot/language.py).
        self.chosen_languages = ChosenLanguages()
        #: Channels Discord marks as spoiler channels, read from the gateway (bot/spoilers/flags.py).
        self.discord_spoiler_channels = DiscordSpoilerChannels()
        self.discord_spoiler_channels.watch(self._connection.parsers)
        #: Every feature's per-guild rows across the bot's leaving and coming back (bot/guilds.py).
        self.guild_keeper = GuildKeeper(
            lambda: self.store,
            lambda: self.ownership,
            clock,
            timedelta(days=settings.guild_grace_days),
            wake=self.scheduler.wake,
        )
        #: This process's share of Discord's global limit, and the pacer every bulk send waits on.
        self.rest_share: RestShare = rest_share(settings.rest_rate_share, settings.shard_count, settings.shard_ids)
        self.rest_pacer = RequestPacer(self.rest_share.per_second, global_clear=self._global_limit_clear)
        self._store = store
        self._freeze_heap = freeze_heap
        self._heap_frozen = False
        self._event_tasks: set[asyncio.Task[Any]] = set()
        self._pack: DataPack | None = None
        self._scheduler_starter: asyncio.Task[None] | None = None
        self.pack_sync_summary: PackSyncSummary | None = None
        self.missing_translations: list[str] = []
        self._identify_gate: IdentifyGate | None = None
        self._shared_identify: SharedIdentifyTurns | None = None
        self._identified_shards: set[int] = set()
        #: False for `python -m bot check`, which never logs in: then there is no gateway to close.
        self._logged_in = False
        #: Shards READY (or RESUMED) since their last disconnect: what /readyz reports.
        self.shards_ready: dict[int, bool] = {}
        if store is not None:
            store.observer = self.metrics.observe_transaction
        self.metrics.watch(self.snapshot)
        self._rate_limit_watch = RateLimitWatch(self.metrics)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("this bot was made without a store")
        return self._store

    @property
    def pack(self) -> DataPack:
        if self._pack is None:
            raise RuntimeError("the data pack is loaded in setup_hook")
        return self._pack

    def _global_limit_clear(self) -> asyncio.Event | None:
        """discord.py's flag that is clear while it waits out a global 429 (``HTTPClient._global_over``,
        private; made at login), for the pacer to hold its turns meanwhile."""
        event = getattr(self.http, "_global_over", None)
        return event if isinstance(event, asyncio.Event) else None

    @property
    def ownership(self) -> Ownership:
        """The guilds whose timed work this process does (known once the shards are launched)."""
        return Ownership.of(self.shard_count, self.settings.shard_ids)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """IDENTIFY as fast as Discord's ``max_concurrency`` allows at start-up.

        discord.py waits 5 s before every IDENTIFY but the first; Discord allows one per
        bucket (``shard_id % max_concurrency``) every 5 s, so shards in different buckets
        start together. A shard IDENTIFYing again (after an invalid session) still waits
        discord.py's 5 s, as Discord asks. A process of some shards on PostgreSQL (one of
        several) keeps the limit across the bot's processes too: each IDENTIFY also waits for
        its bucket's turn in the shared store. A process of every shard is the only one.
        """
        shard = shard_id or 0
        if shard in self._identified_shards:
            await super().before_identify_hook(shard_id, initial=initial)
        if self._identify_gate is None:
            try:
                limits = await self.fetch_session_start_limits()
                concurrency = limits.max_concurrency
            except discord.DiscordException:
                log.warning("could not read max_concurrency from GET /gateway/bot; identifying one shard at a time")
                concurrency = 1
            self._identify_gate = IdentifyGate(concurrency)
            if self.store.dialect == "postgresql" and not self.ownership.owns_every_shard:
                self._shared_identify = SharedIdentifyTurns(self.store)
        await self._identify_gate.wait_turn(shard)
        if self._shared_identify is not None:
            try:
                waited = await self._shared_identify.wait_turn(shard % self._identify_gate.max_concurrency)
            except Exception as exc:
                failure = classify_failure(exc)
                if failure is None:
                    raise
                # Discord answers an IDENTIFY too soon with op 9, and discord.py tries again.
                log.warning("shard %d IDENTIFYs without its turn: the store is %s", shard, failure.name.lower())
            else:
                if waited > 0:
                    log.info("shard %d waited %.1f s for its IDENTIFY turn in the shared store", shard, waited)
        self._identified_shards.add(shard)

    async def setup_hook(self) -> None:
        self._logged_in = True
        self._rate_limit_watch.attach()
        log.info("pacing Discord requests at %s", self.rest_share.describe())
        await self.prepare()
        await self.sync_commands()
        self._scheduler_starter = asyncio.get_running_loop().create_task(
            self._start_scheduler_when_ready(), name="start-scheduler"
        )

    async def prepare(self) -> None:
        """Everything start-up does that needs no network: data pack, cogs, command tree."""
        log.info("store: %s (%s)", self.store.path, self.store.dialect)
        self._pack = load_data_pack(self.settings.data_dir)
        self.missing_translations = missing_translations(self._pack, self.settings.data_dir)
        for line in self.missing_translations:
            log.warning("%s", line)
        self.pack_sync_summary = await sync_data_pack(self.store, self._pack)
        log.info("data pack loaded (%s)", "changed" if self.pack_sync_summary.changed else "unchanged")
        await self.tree.set_translator(CatalogTranslator())
        for extension in discover_cogs():
            await self.load_extension(extension)
        self.scheduler.register(self.guild_keeper)
        if self.settings_group.commands:
            self.tree.add_command(self.settings_group)

    async def _start_scheduler_when_ready(self) -> None:
        """Jobs may look at the guild cache (permissions, channels), so wait for READY."""
        await self.wait_until_ready()
        self.scheduler.start()

    async def sync_commands(self) -> None:
        """Sync only when a scope's payload changed since its last successful sync, and only
        in the process that runs shard 0 (command sync is global work, done once).

        Scopes are the global commands, each admin guild (owner-only commands) and
        DEV_GUILD_ID (a copy of the globals, which Discord shows at once). A guild that
        was synced before but is no longer configured gets an empty list, so stale
        owner commands do not linger there.
        """
        if self.settings.shard_ids is not None and 0 not in self.settings.shard_ids:
            log.info("not syncing commands: the process that runs shard 0 does")
            return
        guild_ids = set(self.settings.admin_guild_ids)
        if self.settings.dev_guild_id:
            self.tree.copy_global_to(guild=discord.Object(self.settings.dev_guild_id))
            guild_ids.add(self.settings.dev_guild_id)
        prefix = f"command_sync:{self.application_id}:"
        async with self.store.read() as conn:
            synced_before = {key.removeprefix(prefix) for key in await state_keys(conn, prefix)}
        guild_ids |= {int(scope) for scope in synced_before if scope.isdigit()}
        await self._sync_scope(None, prefix)
        for guild_id in sorted(guild_ids):
            await self._sync_scope(discord.Object(guild_id), prefix)

    async def _sync_scope(self, guild: discord.abc.Snowflake | None, prefix: str) -> None:
        payload = await command_payload(self.tree, guild)
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        scope = str(guild.id) if guild else "global"
        key = prefix + scope
        async with self.store.read() as conn:
            synced = await read_state(conn, key)
        if guild is not None and not payload and synced is None:
            return  # nothing to add and nothing of ours to remove there
        if synced == digest:
            log.info("commands unchanged for %s; not syncing", scope)
            return
        await self.tree.sync(guild=guild)
        async with self.store.transaction() as conn:
            if guild is not None and not payload:
                await delete_state(conn, key)
            else:
                await write_state(conn, key, digest)
        log.info("synced %d commands for %s", len(payload), scope)

    async def close(self) -> None:
        """Stop the gateway and background work; the store is its opener's to close, after this."""
        try:
            await self.scheduler.stop()
            if self._logged_in:
                await super().close()
            else:
                # `check` never logs in, and AutoShardedBot.close() needs a login; the cogs are
                # unloaded all the same, so their start-up tasks end instead of failing later.
                for extension in tuple(self.extensions):
                    with contextlib.suppress(Exception):
                        await self.unload_extension(extension)
        finally:
            self._rate_limit_watch.detach()
            await self._end_event_tasks()
            if self._heap_frozen:
                # What was frozen is garbage once this bot is gone (a process that starts
                # another bot, such as the test suite, must not keep it forever). Collected
                # now, while the loop runs: left to the interpreter's exit, a pooled database
                # connection among it could no longer be closed cleanly.
                self._heap_frozen = False
                gc.unfreeze()
                gc.collect()

    def _schedule_event(
        self, coro: Callable[..., Coroutine[Any, Any, Any]], event_name: str, *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """discord.py runs each listener call as a task of its own: the bot keeps track of them."""
        task = super()._schedule_event(coro, event_name, *args, **kwargs)
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)
        return task

    async def _end_event_tasks(self) -> None:
        """Listener calls still running when the bot closes (a cog's catch-up at READY, a click
        being answered) end before the store closes under them: a transaction they hold rolls
        back instead of being left open on a store that is gone."""
        running = [task for task in self._event_tasks if task is not asyncio.current_task() and not task.done()]
        for task in running:
            task.cancel()
        if running:
            _, stuck = await asyncio.wait(running, timeout=EVENT_TASKS_END_TIMEOUT)
            if stuck:
                log.warning("%d listener task(s) did not end within %s s of closing", len(stuck), EVENT_TASKS_END_TIMEOUT)

    async def on_ready(self) -> None:
        log.info(
            "ready as %s in %d guilds on shards %s of %s",
            self.user,
            len(self.guilds),
            ",".join(str(shard) for shard in sorted(self.shards)),
            self.shard_count,
        )
        if self._freeze_heap and not self._heap_frozen:
            self._heap_frozen = True
            freeze_startup_heap()
        try:
            await self.guild_keeper.reconcile({guild.id for guild in self.guilds})
        except Exception:
            if self.is_closed():
                log.info("shutting down; departed guilds are looked for again at the next start")
                return
            raise

    async def on_app_command_completion(
        self, interaction: discord.Interaction[Any], command: app_commands.Command[Any, ..., Any] | app_commands.ContextMenu
    ) -> None:
        self.metrics.count_interaction(command.qualified_name, "answered", interaction.id)

    async def on_shard_ready(self, shard_id: int) -> None:
        self.shards_ready[shard_id] = True

    async def on_shard_resumed(self, shard_id: int) -> None:
        self.shards_ready[shard_id] = True

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self.shards_ready[shard_id] = False

    def snapshot(self) -> Snapshot:
        """This process's shards, scheduler and pack as plain numbers (read at each scrape)."""
        guilds: dict[int, int] = dict.fromkeys(self.shards, 0)
        for guild in self.guilds:
            guilds[guild.shard_id] = guilds.get(guild.shard_id, 0) + 1
        newest = newest_source_date(self._pack) if self._pack is not None else None
        now = self.clock()
        return Snapshot(
            latency={shard: info.latency for shard, info in self.shards.items() if info.latency == info.latency},
            guilds=guilds,
            ready={shard: self.shards_ready.get(shard, False) for shard in self.shards},
            scheduler_lag_seconds=self.scheduler.lag(now).total_seconds(),
            pack_age_days=(now.date() - newest).days if newest is not None else None,
        )

    async def liveness(self) -> str | None:
        """None while the loop runs (this answers) and the bot has not begun closing."""
        return "closing" if self.is_closed() else None

    async def readiness(self) -> str | None:
        """None when every shard of this process is READY and the store answers; else why not."""
        if self.is_closed():
            return "closing"
        if not self.shards:
            return "the shards have not connected yet"
        for shard in sorted(self.shards):
            if not self.shards_ready.get(shard, False):
                return f"shard {shard} is not connected and READY"
        try:
            async with asyncio.timeout(READINESS_STORE_TIMEOUT):
                async with self.store.read() as conn:
                    await conn.exec_driver_sql("SELECT 1")
        except TimeoutError:
            return f"the store did not answer within {READINESS_STORE_TIMEOUT:g} s"
        except Exception as exc:
            failure = classify_failure(exc)
            return f"the store is {failure.value}" if failure is not None else f"the store failed ({type(exc).__name__})"
        return None

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a guild: its settings are kept for the grace period, then purged."""
        await self.guild_keeper.left(guild.id)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Added to a guild: one it left within the grace period finds its settings again."""
        await self.guild_keeper.joined(guild.id)


def freeze_startup_heap() -> None:
    """Keep what start-up built (the guilds, members and channels of the cache, the data
    pack, the compiled statements) out of the cyclic garbage collector's full passes.

    Those objects live as long as the process, yet every full collection walked them all:
    a pause of up to 40 ms in the middle of a vote storm with a few thousand members cached
    (frozen, the vote's p99 is 4 ms instead of 20 ms). ``gc.freeze`` moves them to a
    permanent generation; reference counting still frees any of them that die, and objects
    made later are collected as before. Done once, at the first READY; undone at close.
    """
    gc.collect()
    gc.freeze()
    log.debug("%d start-up objects left out of the garbage collector's passes", gc.get_freeze_count())


async def command_payload(tree: app_commands.CommandTree[HyosanBot], guild: discord.abc.Snowflake | None) -> list:
    """The exact JSON the tree would send to Discord for ``guild`` (None: global)."""
    commands_ = tree._get_all_commands(guild=guild)
    translator = tree.translator
    if translator is None:
        return [command.to_dict(tree) for command in commands_]
    return [await command.get_translated_payload(tree, translator) for command in commands_]
