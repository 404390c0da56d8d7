"""The premiere in each server's Events list: a :class:`bot.scheduler.DueSource` that keeps one
Discord scheduled event per server that turned events on, at the premiere's start.

The countdown posts' ledger discipline: a server's event is claimed in the store
(``countdown_events``, state ``creating``) before Discord is asked to make it, and recorded
(``live``, with its id) once Discord answered. A run that died between the two left
``creating``: the next run lists the server's events and adopts the one the bot made (and
deletes any extra) before it would create one, so a crash never leaves two. Every statement
is limited to the guilds this process owns; the rules are in :mod:`cogs.countdown.premiere`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.i18n import t
from bot.language import public_locale
from cogs.countdown import repo
from cogs.countdown.premiere import EVENT_LENGTH, Step, event_step, premiere_start
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.repo import events as ledger

if TYPE_CHECKING:
    from bot.client import HyosanBot

log = logging.getLogger(__name__)

#: Servers handled in one pass; the scheduler comes back at once for the rest.
BATCH = 100
#: After Discord failed in passing (5xx, network, still rate limited), the pass is tried again after this.
RETRY_AFTER = dt.timedelta(seconds=30)
EXTERNAL = 3
GUILD_ONLY = 2
UNKNOWN_EVENT = 10070


class TransientFailure(Exception):
    """Discord did not answer usefully this time; the ledger is left as it is and tried later."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, discord.DiscordServerError | discord.RateLimited):
        return True
    if isinstance(exc, discord.HTTPException) and exc.status == 429:
        return True
    return isinstance(exc, aiohttp.ClientError | TimeoutError | OSError)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


class PremiereEvents:
    """The premiere events' :class:`bot.scheduler.DueSource`."""

    name = "premiere events"

    def __init__(self, bot: HyosanBot) -> None:
        self.bot = bot
        self._retry_at: dt.datetime | None = None
        #: Servers whose event the bot cannot change now (no Manage Events), with the target it
        #: was kept from: not asked again (no 403s piling up) until the target changes.
        self._blocked: dict[int, dt.datetime | None] = {}

    def target(self, record: ReleaseRecord | None) -> dt.datetime | None:
        return premiere_start(record, self.bot.pack.release.premiere_time)

    async def _work(self, now: dt.datetime) -> tuple[dt.datetime | None, list[tuple[ledger.EventRow, Step]]]:
        async with self.bot.store.read() as conn:
            record = await repo.fetch_current_record(conn)
            target = self.target(record)
            if target is not None and target <= now:
                return target, []  # the premiere has begun: events are left to Discord to end
            rows = await ledger.pending(conn, target, BATCH, self.bot.ownership)
        steps = []
        for row in rows:
            step = event_step(row, target, now)
            if step is None:
                continue
            blocked = row.guild_id in self._blocked and self._blocked[row.guild_id] == target
            if blocked and not self._may_manage_events(row.guild_id):
                continue
            steps.append((row, step))
        return target, steps

    # -- DueSource ---------------------------------------------------------------------------

    async def next_due(self, now: dt.datetime) -> dt.datetime | None:
        if self._retry_at is not None and self._retry_at > now:
            return self._retry_at
        _, steps = await self._work(now)
        return now if steps else None

    async def run_due(self, now: dt.datetime) -> None:
        target, steps = await self._work(now)
        self._retry_at = None
        for row, step in steps:
            try:
                await self.apply(row, step, target, now)
            except TransientFailure as exc:
                log.info("premiere event of guild %s not changed (%s); trying again later", row.guild_id, exc)
                self._retry_at = now + RETRY_AFTER
                self.bot.scheduler.wake()
                return

    # -- one server ------------------------------------------------------------------------

    def _may_manage_events(self, guild_id: int) -> bool:
        guild = self.bot.get_guild(guild_id)
        return guild is None or guild.me is None or guild.me.guild_permissions.manage_events

    async def apply(self, row: ledger.EventRow, step: Step, target: dt.datetime | None, now: dt.datetime) -> None:
        """Bring one server's event to ``target`` (or remove it)."""
        guild_id = row.guild_id
        if step == "forget":
            await ledger.forget(self.bot.store, guild_id)
            return
        if not self._may_manage_events(guild_id):
            # Known from the cache: no request, so no 403 counts towards Discord's invalid-request limit.
            if step in ("create", "retry") and target is not None:
                if await ledger.claim(self.bot.store, guild_id, target, now):
                    await ledger.mark_failed(self.bot.store, guild_id, "missing_permissions", target, now)
            else:
                self._blocked[guild_id] = target
            log.info("premiere event of guild %s not changed: the bot lacks Manage Events", guild_id)
            return
        self._blocked.pop(guild_id, None)
        try:
            if step in ("create", "retry"):
                assert target is not None
                if not await ledger.claim(self.bot.store, guild_id, target, now):
                    return
                await self._create_claimed(guild_id, target, now)
            elif step == "recover":
                await self._recover(row, target, now)
            elif step == "edit":
                assert target is not None
                assert row.event_id is not None
                await self._edit(guild_id, row.event_id, target, now)
            elif step == "delete":
                if row.event_id is not None:
                    await self._delete(guild_id, row.event_id)
                await ledger.forget(self.bot.store, guild_id)
        except discord.HTTPException as exc:
            if is_transient(exc):
                raise TransientFailure(f"{exc.status} {exc.code}") from None
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransientFailure(type(exc).__name__) from None

    async def _create_claimed(self, guild_id: int, target: dt.datetime, now: dt.datetime) -> None:
        """Create the claimed event and record it; a refusal is recorded, nothing half-made."""
        await self.bot.rest_pacer.wait_turn()
        try:
            made = await self.bot.http.create_guild_scheduled_event(guild_id, **await self._fields(guild_id, target))
        except discord.HTTPException as exc:
            if is_transient(exc):
                raise  # stays claimed: the next pass looks for it before making one
            error = "missing_permissions" if isinstance(exc, discord.Forbidden) else f"rejected:{exc.code}"
            await ledger.mark_failed(self.bot.store, guild_id, error, target, now)
            log.info("premiere event of guild %s refused by Discord: %s", guild_id, error)
            return
        await ledger.mark_live(self.bot.store, guild_id, int(made["id"]), target)
        log.info("premiere event %s made in guild %s for %s", made["id"], guild_id, target)

    async def _fields(self, guild_id: int, target: dt.datetime) -> dict[str, Any]:
        locale = await public_locale(self.bot, guild_id)
        pack = self.bot.pack
        show = pack.show.show.tr("title", locale)
        awaited = pack.release.tr("awaited", locale)
        platform = pack.show.platform.tr("name", locale)
        return {
            "name": t("countdown.event.name", locale, show=show, awaited=awaited)[:100],
            "description": t("countdown.event.description", locale, show=show, awaited=awaited, platform=platform)[
                :1000
            ],
            "privacy_level": GUILD_ONLY,
            "entity_type": EXTERNAL,
            "entity_metadata": {"location": platform[:100]},
            "scheduled_start_time": iso(target),
            "scheduled_end_time": iso(target + EVENT_LENGTH),
        }

    async def _recover(self, row: ledger.EventRow, target: dt.datetime | None, now: dt.datetime) -> None:
        """A claim whose answer was never recorded: adopt the event the bot made, if Discord has it."""
        guild_id = row.guild_id
        await self.bot.rest_pacer.wait_turn()
        listed = await self.bot.http.get_scheduled_events(guild_id, False)
        bot_id = self.bot.user.id if self.bot.user else None
        ours = [
            event
            for event in listed
            if event.get("creator_id") is not None
            and int(str(event["creator_id"])) == bot_id
            and event.get("entity_type") == EXTERNAL
            and event.get("status") in (1, 2)
        ]
        wanted = row.enabled and target is not None
        keep = ours[0] if wanted and ours else None
        for extra in ours:
            if extra is not keep:
                await self._delete(guild_id, int(extra["id"]))
        if not wanted:
            await ledger.forget(self.bot.store, guild_id)
            return
        assert target is not None
        if keep is None:
            log.warning("premiere event of guild %s was claimed but never made; making it now", guild_id)
            await self._create_claimed(guild_id, target, now)
            return
        event_id = int(keep["id"])
        log.warning("premiere event %s of guild %s was made by an earlier run; adopting it", event_id, guild_id)
        if dt.datetime.fromisoformat(keep["scheduled_start_time"]) != target:
            await self._edit(guild_id, event_id, target, now)
        else:
            await ledger.mark_live(self.bot.store, guild_id, event_id, target)

    async def _edit(
        self, guild_id: int, event_id: int, target: dt.datetime, now: dt.datetime, *, adopt: bool = False
    ) -> None:
        await self.bot.rest_pacer.wait_turn()
        try:
            await self.bot.http.edit_scheduled_event(
                guild_id,
                event_id,
                scheduled_start_time=iso(target),
                scheduled_end_time=iso(target + EVENT_LENGTH),
            )
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_EVENT:
                raise
            # A moderator deleted it: the next pass makes it again (the setting is still on).
            log.info("premiere event %s of guild %s was deleted in Discord; making a new one", event_id, guild_id)
            await ledger.forget(self.bot.store, guild_id)
            self.bot.scheduler.wake()
            return
        await ledger.mark_live(self.bot.store, guild_id, event_id, target)
        log.info("premiere event %s of guild %s moved to %s", event_id, guild_id, target)

    async def _delete(self, guild_id: int, event_id: int) -> None:
        await self.bot.rest_pacer.wait_turn()
        try:
            await self.bot.http.delete_scheduled_event(guild_id, event_id)
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_EVENT:
                raise
        log.info("premiere event %s of guild %s deleted", event_id, guild_id)

    # -- for /countdown ------------------------------------------------------------------------

    async def interested(self, guild_id: int) -> int | None:
        """How many members clicked "Interested" on the server's live event (None: no event)."""
        async with self.bot.store.read() as conn:
            row = await ledger.fetch_event(conn, guild_id)
        if row is None or row.state != "live" or row.event_id is None:
            return None
        try:
            event = await self.bot.http.get_scheduled_event(guild_id, row.event_id, True)
        except discord.HTTPException:
            return None
        return int(event.get("user_count") or 0)
