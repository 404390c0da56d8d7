"""Scheduled countdown posts: the DueSource, the bounded posting queue and the pacer.

The one scheduler asks :class:`CountdownPosts` when something is due and calls
``run_due``, which reads what is due, lets ``planning.plan_pass`` decide, claims the
slots in the ledger (one transaction) and hands them to a bounded queue; a few workers
send them, paced at this process's share of Discord's global limit of 50 requests per
second (``bot.rest_pacer``), so the dispatcher is never blocked by a thousand guilds due
in the same minute. Only this module and the cog talk to Discord.

Exactly once: a slot is claimed before it is sent, and every attempt sends it with
the same message nonce (discord.py sends ``enforce_nonce: true`` with any nonce), so
a resend after a crash or a 5xx within Discord's de-duplication window returns the
message already created instead of posting it twice. Past that window an unconfirmed
slot is abandoned (logged and shown), never resent.

Only the guilds this process owns (``bot.ownership``: those on its shards) are looked at,
so processes running other shards never claim the same guild's slots. A release change
can be recorded by any of them, so a process that runs only some shards looks at the
store at least every :data:`SHARED_STORE_LOOK_EVERY` (:func:`look_again_by`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import discord

from bot.language import public_locale
from bot.pacing import RequestPacer
from bot.shards import Ownership
from cogs.countdown import repo
from cogs.countdown.notify import notify_view, role_mentions
from cogs.countdown.planning import NONCE_GRACE, plan_pass
from cogs.countdown.planning import slot_nonce as slot_nonce  # where the tests and tools take it from
from cogs.countdown.render import Card, pack_wording, render_countdown_card
from cogs.countdown.repo import Claim, PostJob, Schedule
from cogs.countdown.repo.options import NOTIFY_ROLE
from cogs.countdown.slots import Slot, load_zone, local_date

if TYPE_CHECKING:
    from bot.client import HyosanBot

log = logging.getLogger(__name__)

#: Slots waiting in memory at most; more due slots stay in the database until there is room.
QUEUE_SIZE = 200
#: Concurrent sends; enough to keep the pacer's rate (at most REST_PER_SECOND) with ~300 ms round trips.
WORKERS = 16
#: Waits before resending after a transient error: 5 s, 15 s, 45 s (then the grace is over).
RETRY_BASE = dt.timedelta(seconds=5)
RETRY_FACTOR = 3
#: Permissions the bot needs in the channel, in the order moderators are told about them.
REQUIRED_PERMISSIONS: tuple[str, ...] = ("view_channel", "send_messages", "embed_links")
EMBED_COLOUR = discord.Colour(0x8B0000)
#: On shutdown, sends already under way get this long to finish and be recorded.
STOP_GRACE_SECONDS = 5.0

#: A process running only some shards shares the store with others, any of which may record
#: a release change (``/release update``): its scheduler looks again at least this often, so
#: the news reaches this process's guilds within it (the scheduler's own pass, no LISTEN/NOTIFY).
SHARED_STORE_LOOK_EVERY = dt.timedelta(seconds=5)

Clock = Callable[[], dt.datetime]


def log_already_posted(guild_id: int, slots: tuple[Slot, ...], when: str) -> None:
    for slot in slots:
        log.info(
            "countdown slot %s of guild %s skipped %s: that local day already had its post",
            slot.key,
            guild_id,
            when,
        )


def look_again_by(due: dt.datetime | None, now: dt.datetime, ownership: Ownership) -> dt.datetime | None:
    """When the scheduler should ask again: ``due``, but no later than :data:`SHARED_STORE_LOOK_EVERY`
    from ``now`` when other processes run the other shards (news they record wakes no one here)."""
    if ownership.owns_every_shard:
        return due
    soon = now + SHARED_STORE_LOOK_EVERY
    return soon if due is None or due > soon else due


def retry_delay(attempts: int) -> dt.timedelta:
    return RETRY_BASE * (RETRY_FACTOR**attempts)


def missing_permissions(channel: Any, me: discord.Member | None) -> list[str]:
    """What the bot lacks to post the countdown embed in ``channel`` (from the cache)."""
    if me is None:
        return []
    perms = channel.permissions_for(me)
    return [name for name in REQUIRED_PERMISSIONS if not getattr(perms, name)]


def card_embed(card: Card) -> discord.Embed:
    embed = discord.Embed(title=card.title, description=card.description, colour=EMBED_COLOUR)
    for name, value in card.fields:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=card.footer)
    return embed


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a send failed: ``permanent`` failures count towards pausing, the others are retried."""

    error: str
    detail: str | None
    permanent: bool


def classify_failure(exc: BaseException) -> Failure:
    """Missing access or permissions and unknown channels are the moderators' to fix."""
    if isinstance(exc, discord.Forbidden):
        kind = {50001: "missing_access", 50013: "missing_permissions"}.get(exc.code, "forbidden")
        return Failure(kind, str(exc.code), True)
    if isinstance(exc, discord.NotFound):
        return Failure("unknown_channel" if exc.code == 10003 else "not_found", str(exc.code), True)
    if isinstance(exc, discord.DiscordServerError):
        return Failure("discord_unavailable", str(exc.status), False)
    if isinstance(exc, discord.RateLimited) or (isinstance(exc, discord.HTTPException) and exc.status == 429):
        # Still limited after discord.py's own retries (other processes over their share?):
        # Discord did not take the request, so sending it again later is safe.
        return Failure("rate_limited", "429", False)
    if isinstance(exc, discord.HTTPException):
        return Failure("rejected", str(exc.code or exc.status), True)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return Failure("network", type(exc).__name__, False)
    raise exc


class CountdownPosts:
    """The countdown's :class:`bot.scheduler.DueSource` and its posting workers."""

    name = "countdown"

    def __init__(
        self,
        bot: HyosanBot,
        *,
        queue_size: int = QUEUE_SIZE,
        workers: int = WORKERS,
    ) -> None:
        self.bot = bot
        self.queue: asyncio.Queue[PostJob] = asyncio.Queue(maxsize=queue_size)
        self.pacer: RequestPacer = bot.rest_pacer  # shared with the bot's other bulk sends
        self._worker_count = workers
        self._workers: list[asyncio.Task[None]] = []
        self._in_flight: set[tuple[int, str]] = set()
        self._room_wanted = False
        self._started = False
        self._closing = False
        self._busy: set[asyncio.Task[Any]] = set()
        #: The release version the last look found (see next_due).
        self._seen_record_id: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Slots claimed by an earlier run that never reported back are retried first."""
        if self._started:
            return
        self._started = True
        requeued = await repo.requeue_unfinished(self.bot.store, self.bot.clock(), self.bot.ownership)
        if requeued:
            log.warning("resending %d countdown posts left unconfirmed by the last run", requeued)
        self._workers = [
            asyncio.create_task(self._work(), name=f"countdown-poster-{i}") for i in range(self._worker_count)
        ]

    async def stop(self) -> None:
        """Let posts already being sent finish (so they are recorded), then stop the workers.

        Queued posts that were not started stay claimed in the ledger and are sent by the
        next run; cancelling a send midway would leave it unconfirmed for no reason.
        """
        self._closing = True
        for task in self._workers:
            if task not in self._busy:
                task.cancel()
        busy = [task for task in self._workers if task in self._busy]
        if busy:
            await asyncio.wait(busy, timeout=STOP_GRACE_SECONDS)
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        self._started = False
        self._closing = False

    async def idle(self) -> None:
        """Wait until every queued post has been handled (tests and the benchmark)."""
        await self.queue.join()

    # -- DueSource ---------------------------------------------------------------------------

    async def next_due(self, now: dt.datetime) -> dt.datetime | None:
        """The next regular slot or retry; ``now`` itself while some schedule has news to announce."""
        if not self._started:
            await self.start()
        if self.queue.qsize() > self.queue.maxsize // 2:
            # A worker wakes the scheduler when the queue is down to half: asked again before,
            # a backlog of news (thousands of servers) would find a few places at a time and
            # keep the scheduler "still due" in its back-off, up to seconds between passes.
            self._room_wanted = True
            return None
        owned = self.bot.ownership
        async with self.bot.store.read() as conn:
            current = await repo.fetch_current_record(conn)
            due, news = await repo.earliest_due(conn, current.id if current else 0, owned)
        current_id = current.id if current else None
        if current_id != self._seen_record_id:
            # Maybe another process recorded it: /countdown reads it again before any news goes out.
            self.bot.store.forget(repo.CURRENT_RECORD.every())
            self._seen_record_id = current_id
        if news:
            return now
        return look_again_by(due, now, owned)

    async def run_due(self, now: dt.datetime) -> None:
        """Claim what is due (as much as the queue has room for) and queue it for sending:
        read what the store holds, plan (``planning.plan_pass``), then write."""
        room = self.queue.maxsize - self.queue.qsize()
        if room <= 0:
            self._room_wanted = True
            return
        owned = self.bot.ownership
        # The reads share one connection, given back before the claims are written.
        async with self.bot.store.read() as conn:
            record = await repo.fetch_current_record(conn)
            retries = await repo.due_retries(conn, now, room, owned)
            with_news = await repo.schedules_with_news(conn, record.id, room, owned) if record else []
            due = await repo.due_schedules(conn, now, room, owned)
            posted = await repo.posted_days(conn, [schedule.guild_id for schedule in due], now - repo.POSTED_LOOKBACK)
        plan = plan_pass(
            now,
            record,
            due_retries=retries,
            with_news=with_news,
            due=due,
            posted=posted,
            in_flight=frozenset(self._in_flight),
            room=room,
        )
        for passed in plan.passed:
            if passed.reason == "already_posted":
                log_already_posted(passed.guild_id, (passed.slot,), "when it came due")
            else:
                log.warning(
                    "countdown slot %s of guild %s skipped: %s late when the bot could post it",
                    passed.slot.key,
                    passed.guild_id,
                    now - passed.slot.due_at,
                )
        for job in plan.abandoned:
            log.warning(
                "countdown slot %s of guild %s abandoned: not confirmed sent and too old to resend safely",
                job.claim.slot_key,
                job.claim.guild_id,
            )
            await repo.mark_failed(self.bot.store, job, state="abandoned", error="unconfirmed", detail=None, now=now)
        if not plan.claims_anything:
            return
        jobs = await repo.claim_slots(self.bot.store, plan.claims, plan.advances, plan.announced, plan.retries, now)
        claimed = {(job.claim.guild_id, job.claim.slot_key) for job in jobs}
        for claim in plan.claims:
            if (claim.guild_id, claim.slot_key) not in claimed:
                log.warning(
                    "countdown slot %s of guild %s skipped: the ledger already holds it (posted or under way)",
                    claim.slot_key,
                    claim.guild_id,
                )
        for job in jobs:
            self._in_flight.add((job.claim.guild_id, job.claim.slot_key))
            self.queue.put_nowait(job)

    # -- workers -----------------------------------------------------------------------------

    async def _work(self) -> None:
        while not self._closing:
            job = await self.queue.get()
            task = asyncio.current_task()
            assert task is not None
            self._busy.add(task)
            try:
                await self.deliver(job)
            except Exception:
                log.exception("countdown post %s of guild %s failed", job.claim.slot_key, job.claim.guild_id)
            finally:
                self._busy.discard(task)
                self._in_flight.discard((job.claim.guild_id, job.claim.slot_key))
                self.queue.task_done()
                if self._room_wanted and self.queue.qsize() <= self.queue.maxsize // 2:
                    self._room_wanted = False
                    self.bot.scheduler.wake()

    async def deliver(self, job: PostJob) -> None:
        """Send (or edit) one claimed slot and record how it went."""
        claim = job.claim
        store = self.bot.store
        async with store.read() as conn:
            schedule = await repo.fetch_schedule(conn, claim.guild_id)
        if schedule is None:
            await repo.mark_failed(
                store, job, state="abandoned", error="schedule_off", detail=None, now=self.bot.clock()
            )
            return
        guild = self.bot.get_guild(claim.guild_id)
        channel = guild.get_channel(claim.channel_id) if guild else None
        if guild is None or channel is None:
            await self._record_failure(job, Failure("unknown_channel", None, True))
            return
        missing = missing_permissions(channel, guild.me)
        if missing:
            # Known from the cache: no request, so no 403 counts towards Discord's invalid-request limit.
            await self._record_failure(job, Failure("missing_permissions", ",".join(missing), True))
            return
        built = await self.build_embed(claim, schedule, guild)
        if built is None:
            await repo.mark_failed(store, job, state="abandoned", error="no_record", detail=None, now=self.bot.clock())
            return
        embed, locale, release_day = built
        # The notify role: a "Notify me" button on every post, and pinged by news and the release day only.
        role_id = await store.recall(NOTIFY_ROLE, claim.guild_id)
        if role_id is not None and guild.get_role(role_id) is None:
            role_id = None  # deleted in Discord since: nothing to mention or hand out
        view = notify_view(locale) if role_id is not None else None
        pings = role_id is not None and (claim.occasion == "change" or release_day)
        content = f"<@&{role_id}>" if pings else None
        mentions = role_mentions(role_id if pings else None)
        target = self.bot.get_partial_messageable(claim.channel_id, guild_id=claim.guild_id)
        try:
            message_id = None
            if claim.mode == "edit" and schedule.message_id and schedule.channel_id == claim.channel_id:
                await self.pacer.wait_turn()
                try:
                    # An edit never pings (Discord does not notify on edits): the role stays as text.
                    await target.get_partial_message(schedule.message_id).edit(
                        content=content, embed=embed, view=view, allowed_mentions=mentions
                    )
                    message_id = schedule.message_id
                except discord.NotFound as exc:
                    if exc.code != 10008:
                        raise
                    log.info("countdown message of guild %s was deleted; posting a new one", claim.guild_id)
            if message_id is None:
                await self.pacer.wait_turn()
                extra: dict[str, Any] = {"view": view} if view is not None else {}
                message = await target.send(
                    content=content, embed=embed, nonce=claim.nonce, allowed_mentions=mentions, **extra
                )
                message_id = message.id
        except Exception as exc:
            await self._record_failure(job, classify_failure(exc))
            return
        await repo.mark_sent(store, job, message_id=message_id, kept_message=claim.mode == "edit", now=self.bot.clock())
        self.bot.metrics.count_scheduled_post("sent")
        if claim.occasion == "change":
            self.bot.metrics.count_release_announcement()

    async def build_embed(
        self, claim: Claim, schedule: Schedule, guild: discord.Guild
    ) -> tuple[discord.Embed, str | None, bool] | None:
        """The post's embed, the language it is in, and whether it is the release day's post."""
        previous = None
        async with self.bot.store.read() as conn:
            if claim.occasion == "change":
                record = await repo.fetch_record(conn, claim.change_id)
                previous = await repo.fetch_previous_record(conn, claim.change_id)
            else:
                record = await repo.fetch_current_record(conn)
        if record is None:
            return None
        zone = schedule.rule.zone
        if claim.occasion == "change":
            today = local_date(self.bot.clock(), load_zone(zone))
        else:
            today = local_date(claim.due_at, load_zone(zone))
        pack = self.bot.pack
        locale = await public_locale(self.bot, guild.id)
        card = render_countdown_card(
            record,
            today=today,
            count_zone=zone,
            show_title=pack.show.show.tr("title", locale),
            platform=pack.show.platform.tr("name", locale),
            context=pack.release.context,
            source_dates=pack.source_dates(),
            locale=locale,
            occasion=claim.occasion,
            previous=previous,
            wording=pack_wording(pack.release, locale, pack.sources),
        )
        return card_embed(card), locale, record.release_day is not None and record.release_day == today

    async def _record_failure(self, job: PostJob, failure: Failure) -> None:
        now = self.bot.clock()
        claim = job.claim
        if not failure.permanent:
            retry_at = now + retry_delay(job.attempts)
            if retry_at - job.claimed_at <= NONCE_GRACE:
                log.info(
                    "countdown post %s of guild %s failed (%s %s); retrying at %s",
                    claim.slot_key,
                    claim.guild_id,
                    failure.error,
                    failure.detail,
                    retry_at,
                )
                await repo.schedule_retry(
                    self.bot.store, job, retry_at=retry_at, error=failure.error, detail=failure.detail, now=now
                )
                self.bot.scheduler.wake()
                self.bot.metrics.count_scheduled_post("retried")
                return
            log.warning(
                "countdown post %s of guild %s given up after %d attempts (%s)",
                claim.slot_key,
                claim.guild_id,
                job.attempts + 1,
                failure.error,
            )
        self.bot.metrics.count_scheduled_post("given_up")
        # A transient error past the nonce grace may hide a post that did arrive: never resend it.
        state: Literal["failed", "abandoned"] = "failed" if failure.permanent else "abandoned"
        paused = await repo.mark_failed(
            self.bot.store, job, state=state, error=failure.error, detail=failure.detail, now=now
        )
        log.info(
            "countdown post %s of guild %s failed: %s %s%s",
            claim.slot_key,
            claim.guild_id,
            failure.error,
            failure.detail or "",
            " (schedule paused)" if paused else "",
        )
