"""The release watch on Discord: when to look at TVmaze, the proposal it posts, the owners' decision.

:class:`ReleaseWatch` is a :class:`bot.scheduler.DueSource`: its first look comes a random
0..RELEASE_WATCH_START_JITTER seconds after READY, then one every RELEASE_WATCH_INTERVAL, or
sooner after a failure (:func:`watch.retry_delay`). A look runs in a task of its own, so a
slow TVmaze never holds up the dispatcher (and the countdown posts behind it). What TVmaze
says is read by :mod:`cogs.countdown.tvmaze`, judged by :mod:`cogs.countdown.watch`, claimed
in the store (:mod:`cogs.countdown.repo.findings`: once across restarts and processes) and
only then posted. An owner's "Record as …" goes through :func:`recording.record_release`,
the path of ``/release update``.

Trouble (TVmaze down, rate limited, garbled; the channel gone) is logged once when it starts
and once when it ends, never at every retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import discord

from bot.errors import Trusted, UserError
from bot.i18n import t
from bot.language import public_locale
from bot.observability.metrics import WatchLook
from bot.store import classify_failure
from cogs.countdown import repo
from cogs.countdown.record import ReleaseRecord, check_owner_update
from cogs.countdown.recording import owner_record, record_release
from cogs.countdown.render import in_language as record_in_language
from cogs.countdown.render import instant_timestamp, pack_wording, window_text
from cogs.countdown.repo import findings
from cogs.countdown.repo.findings import Decision
from cogs.countdown.tvmaze import TvmazeClient, TvmazeUnavailable
from cogs.countdown.views import proposal_view
from cogs.countdown.watch import SOURCE_NAME, BadAnswer, Finding, decide, find_season, premiere_of, retry_delay
from cogs.countdown.window import ReleaseWindow, WindowError

if TYPE_CHECKING:
    from bot.client import HyosanBot

log = logging.getLogger(__name__)

EMBED_COLOUR = discord.Colour(0x2B6CB0)

Jitter = Callable[[float, float], float]
Proposed = Literal["posted", "known", "claimed elsewhere", "not posted"]
#: How each outcome of :meth:`ReleaseWatch.propose` is counted (hyosan_release_watch_looks_total).
LOOK_RESULTS: dict[Proposed, WatchLook] = {
    "posted": "proposed",
    "known": "known",
    "claimed elsewhere": "known",
    "not posted": "not_posted",
}
#: A look after a claim held elsewhere comes this long after the claim would be stale.
CLAIM_MARGIN = dt.timedelta(seconds=5)


def show_page(show_id: int) -> str:
    """The show's public page on TVmaze: the source a recorded proposal cites."""
    return f"https://www.tvmaze.com/shows/{show_id}"


def day_window(day: dt.date) -> ReleaseWindow:
    return ReleaseWindow("day", day, day, day.isoformat())


class ReleaseWatch:
    """The release watch's :class:`bot.scheduler.DueSource` (registered only when it is on)."""

    name = "release-watch"

    def __init__(self, bot: HyosanBot, client: TvmazeClient, *, jitter: Jitter = random.uniform) -> None:
        self.bot = bot
        self.client = client
        self._jitter = jitter
        self._next_look: dt.datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        #: The trouble already logged on each side (none: all is well), so an outage is logged once.
        self._trouble_logged: dict[str, str] = {}
        #: Looks finished since start (what tests wait on).
        self.looks = 0

    # -- the scheduler's side ------------------------------------------------------------------

    async def next_due(self, now: dt.datetime) -> dt.datetime | None:
        if self._task is not None and not self._task.done():
            return None  # the look wakes the scheduler when it ends
        if self._next_look is None:
            jitter = self._jitter(0.0, self.bot.settings.release_watch_start_jitter)
            self._next_look = now + dt.timedelta(seconds=jitter)
        return self._next_look

    async def run_due(self, now: dt.datetime) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._look_then_plan(), name="release-watch-look")

    async def idle(self) -> None:
        """Until the look under way (if any) has ended."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.client.close()

    async def _look_then_plan(self) -> None:
        try:
            delay = await self.look()
        except Exception as exc:
            failure = classify_failure(exc)
            if failure is None:
                log.exception("release watch: the look failed; trying again later")
            else:
                log.warning("release watch: the store is %s; looking again later", failure.value)
            self._failures += 1
            delay = self._retry_delay(None)
            self.bot.metrics.count_release_watch_look("failed")
        self._next_look = self.bot.clock() + dt.timedelta(seconds=delay)
        self.looks += 1
        self.bot.scheduler.wake()

    # -- one look ----------------------------------------------------------------------------------

    def _retry_delay(self, retry_after: float | None) -> float:
        settings = self.bot.settings
        return retry_delay(
            self._failures, settings.release_watch_retry_seconds, settings.release_watch_interval, retry_after
        )

    def _trouble(self, side: str, kind: str, message: str, *args: object) -> None:
        """Log ``message`` when ``side`` ("tvmaze" or "discord") gets into this trouble, not while it stays."""
        if self._trouble_logged.get(side) == kind:
            log.debug(message, *args)
            return
        self._trouble_logged[side] = kind
        log.warning(message, *args)

    def _all_well(self, side: str, message: str) -> None:
        if self._trouble_logged.pop(side, None) is not None:
            log.info(message)

    async def look(self) -> float:
        """Ask TVmaze, propose what differs from the record; returns the seconds until the next look."""
        settings = self.bot.settings
        show_id = settings.release_watch_tvmaze_id
        season = self.bot.pack.release.season
        assert show_id is not None
        assert season is not None
        now = self.bot.clock()
        try:
            entry = find_season(await self.client.seasons(show_id), season)
            premiere = None if entry is None else premiere_of(entry, await self.client.episodes(entry.id))
        except TvmazeUnavailable as exc:
            self.bot.metrics.count_release_watch_look("unavailable")
            self._failures += 1
            delay = self._retry_delay(exc.retry_after)
            self._trouble(
                "tvmaze",
                f"unavailable:{exc.kind}",
                "release watch: TVmaze is unavailable (%s); trying again in %.0f s (logged once until it answers)",
                exc,
                delay,
            )
            return delay
        except BadAnswer as exc:
            self.bot.metrics.count_release_watch_look("unusable")
            self._failures += 1
            delay = self._retry_delay(None)
            self._trouble(
                "tvmaze",
                f"bad:{exc.reason}",
                "release watch: TVmaze's answer is not usable (%s); nothing proposed, trying again in %.0f s",
                exc.reason,
                delay,
            )
            return delay
        self._failures = 0
        self._all_well("tvmaze", "release watch: TVmaze answers usefully again")
        async with self.bot.store.read() as conn:
            record = await repo.fetch_current_record(conn)
        finding = decide(premiere, record, show_id, now)
        log.debug("release watch: TVmaze says %s for season %s; finding: %s", premiere, season, finding)
        if finding is None:
            self.bot.metrics.count_release_watch_look("unchanged")
            return settings.release_watch_interval
        proposed = await self.propose(finding, record, now)
        self.bot.metrics.count_release_watch_look(LOOK_RESULTS[proposed])
        if proposed == "claimed elsewhere":
            # Another process is posting it, or died claiming it: its claim is taken over once stale.
            return min(settings.release_watch_interval, (findings.CLAIM_STALE_AFTER + CLAIM_MARGIN).total_seconds())
        return settings.release_watch_interval

    async def _channel(self) -> Any | None:
        """The proposals' channel, if it exists and lies in an admin guild (else logged once)."""
        channel_id = self.bot.settings.release_watch_channel_id
        assert channel_id is not None
        channel: Any = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException as exc:
                self._trouble("discord", "channel", "release watch: RELEASE_WATCH_CHANNEL_ID %s: %s", channel_id, exc)
                return None
        guild_id = getattr(getattr(channel, "guild", None), "id", None)
        if guild_id not in self.bot.settings.admin_guild_ids or not hasattr(channel, "send"):
            self._trouble(
                "discord",
                "channel",
                "release watch: RELEASE_WATCH_CHANNEL_ID %s is not a text channel of ADMIN_GUILD_IDS; nothing proposed",
                channel_id,
            )
            return None
        return channel

    async def propose(self, finding: Finding, record: ReleaseRecord | None, now: dt.datetime) -> Proposed:
        """Post ``finding`` as a proposal, unless it is known already (here, after a restart, or elsewhere)."""
        channel = await self._channel()
        if channel is None:
            return "not posted"
        claimed = await findings.claim(self.bot.store, finding, now)
        if claimed is None:
            async with self.bot.store.read() as conn:
                known = await findings.fetch_by_key(conn, finding.key)
            if known is not None and known.state == "claimed":
                log.info("release watch: %s is claimed by another process (or a dead one); looking again", finding.key)
                return "claimed elsewhere"
            log.info("release watch: %s is proposed or decided already", finding.key)
            return "known"
        locale = await public_locale(self.bot, channel.guild.id)
        try:
            message = await channel.send(
                embed=self.proposal_embed(finding, record, locale),
                view=proposal_view(claimed.id, locale),
                nonce=finding.nonce,
            )
        except discord.HTTPException as exc:
            await findings.release_claim(self.bot.store, claimed.id)
            self._trouble("discord", "post", "release watch: could not post the proposal in channel %s: %s", channel.id, exc)
            return "not posted"
        await findings.mark_proposed(self.bot.store, claimed.id, channel.id, message.id)
        self._all_well("discord", "release watch: proposals can be posted again")
        log.info("release watch: proposed %s (finding %d, message %d)", finding.key, claimed.id, message.id)
        return "posted"

    def proposal_embed(self, finding: Finding, record: ReleaseRecord | None, locale: str | None) -> discord.Embed:
        pack = self.bot.pack
        awaited = pack.release.tr("awaited", locale)
        platform = str(pack.show.platform.tr("name", locale))
        embed = discord.Embed(
            title=t("countdown.watch.title", locale, awaited=awaited),
            description=t("countdown.watch.description", locale),
            colour=EMBED_COLOUR,
        )
        if finding.airstamp is not None:
            says = t(
                "countdown.watch.tvmaze_time",
                locale,
                date=finding.day,
                time=f"{instant_timestamp(finding.airstamp, 'F')} ({instant_timestamp(finding.airstamp, 'R')})",
            )
        else:
            says = t("countdown.watch.tvmaze_day", locale, date=finding.day)
        embed.add_field(name=t("countdown.watch.field_tvmaze", locale), value=says, inline=False)
        if record is None:
            now_says = t("countdown.watch.record_none", locale)
        else:
            shown = record_in_language(record, locale, pack_wording(pack.release, str(locale)))
            now_says = t(
                "countdown.watch.record_value",
                locale,
                window=window_text(shown, locale),
                confidence=t(f"countdown.confidence.{record.confidence}", locale, platform=platform),
            )
        embed.add_field(name=t("countdown.watch.field_record", locale), value=now_says, inline=False)
        embed.add_field(
            name=t("countdown.watch.field_source", locale),
            value=t(
                "countdown.watch.source_value",
                locale,
                source=f"[{SOURCE_NAME}]({show_page(finding.show_id)})",
                date=finding.retrieved_at.astimezone(dt.UTC).date(),
            ),
            inline=False,
        )
        return embed


# -- the owners' decision --------------------------------------------------------------------------


async def answer_press(
    bot: HyosanBot, interaction: discord.Interaction[Any], finding_id: int, decision: Decision
) -> None:
    """An owner records or dismisses a proposal (once, whoever presses first); anyone else is refused."""
    if interaction.user.id not in bot.settings.owner_ids:
        raise UserError("countdown.watch.not_owner")
    async with bot.store.read() as conn:
        stored = await findings.fetch_finding(conn, finding_id)
    if stored is None:
        raise UserError("countdown.watch.unknown")
    _refuse_decided(stored, interaction.locale)
    now = bot.clock()
    finding = stored.finding
    window = day_window(finding.day)
    source_date = finding.retrieved_at.astimezone(dt.UTC).date()
    if decision != "dismissed":
        try:
            check_owner_update(window, source_date, now.astimezone(dt.UTC).date())
        except WindowError as exc:
            raise UserError(f"countdown.window.{exc.reason}", **exc.values) from None
    if not await findings.decide(bot.store, finding_id, decision, interaction.user.id, now):
        async with bot.store.read() as conn:
            again = await findings.fetch_finding(conn, finding_id)
        if again is not None:
            _refuse_decided(again, interaction.locale)
        raise UserError("countdown.watch.unknown")
    assert interaction.guild_id is not None
    locale = await public_locale(bot, interaction.guild_id)
    owner = f"<@{interaction.user.id}>"
    if decision == "dismissed":
        status = t("countdown.watch.decided_dismissed", locale, owner=owner)
    else:
        record = owner_record(
            bot,
            window,
            decision,
            source_title=SOURCE_NAME,
            source_url=show_page(finding.show_id),
            source_date=source_date,
            by=interaction.user.id,
            now=now,
        )
        try:
            recorded = await record_release(bot, record, now)
        except BaseException:
            await findings.reopen(bot.store, finding_id, decision)
            raise
        if recorded is None:
            status = t("countdown.watch.decided_unchanged", locale, owner=owner)
        else:
            status = t(f"countdown.watch.decided_{decision}", locale, owner=owner, count=recorded.servers)
    message = interaction.message
    embed = message.embeds[0].copy() if message is not None and message.embeds else discord.Embed()
    embed.add_field(name=t("countdown.watch.field_decision", locale), value=status, inline=False)
    await interaction.response.edit_message(embed=embed, view=None)


def _refuse_decided(stored: findings.StoredFinding, locale: discord.Locale | str | None) -> None:
    if stored.state == "superseded":
        raise UserError("countdown.watch.superseded")
    if stored.state != "proposed":
        raise UserError(
            "countdown.watch.already",
            decision=Trusted(t(f"countdown.watch.state_{stored.state}", locale)),
            owner=Trusted(f"<@{stored.decided_by}>" if stored.decided_by else "?"),
        )
