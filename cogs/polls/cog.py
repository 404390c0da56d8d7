"""/poll create, close, results, list and export; /settings polls creator_role; vote clicks.

The commands and listeners: they parse options, call the rules and the repo, render, and
respond. Votes go through the ballot box (a vote is committed before its click is
answered); the poll message, from posting to results, is :mod:`cogs.polls.lifecycle`'s,
refreshed by the coalescing refresher, never on the click path.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import HyosanBot
from bot.errors import (
    Trusted,
    UserError,
    guarded_autocomplete,
    interaction_label,
    report_interaction_error,
    send_ephemeral,
)
from bot.i18n import Counted, Locale, cmd, localized_options, t
from bot.installs import server_only_group_options
from bot.moderation import SettingsSubgroup
from bot.spoilers import (
    Reveal,
    register_reveal_provider,
    render_open_text,
    spoilers_for,
    unregister_reveal_provider,
)
from bot.spoilers.reveal import revealing_for
from bot.store.schema import poll_settings
from cogs.polls import repo
from cogs.polls.access import (
    AUTOCOMPLETE_FETCH_SECONDS,
    AUTOCOMPLETE_FETCHES,
    PollReader,
    channel_mention,
    require_member_may_post,
)
from cogs.polls.ballot_box import BallotBox
from cogs.polls.export import ballots_csv, counts_csv, export_filename
from cogs.polls.lifecycle import PollCache, PollDeadlines, PollMessages, PollRetention
from cogs.polls.render import discord_time, poll_embed, results_embed, vote_answer
from cogs.polls.repo import CloseReason, Poll, TooManyOpenPolls
from cogs.polls.rules import InvalidPoll, build_poll_spec
from cogs.polls.views import COG_NAME, REVEAL_KIND, parse_vote_custom_id, shows_button
from cogs.polls.votes import Click, ClickStatus

log = logging.getLogger(__name__)

#: A vote not committed this long (seconds) after its click arrived is acknowledged first
#: ("thinking…", privately) and answered when the commit is done. Discord drops a click
#: not answered within 3 s: the member would see it fail although the vote was stored, and
#: a second click would retract it. The store's own failures ("try again") come sooner
#: (busy timeout and connect timeout 2 s) and are answered directly.
ACK_SLOW_VOTE_AFTER = 2.5
LIST_LIMIT = 15
#: /poll list reads at most this many open polls of a guild before keeping those the member may see.
LIST_SCAN = 200
#: /poll list fetches at most this many uncached channels over REST (their polls are left out beyond).
LIST_FETCHES = 10
CHOICE_NAME_LIMIT = 100
LIST_QUESTION_LIMIT = 150


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _guild_of(interaction: discord.Interaction[Any]) -> discord.Guild:
    if interaction.guild is None:
        raise UserError("errors.guild_only")
    return interaction.guild


def _parse_poll_id(value: str) -> int:
    text = value.strip().lstrip("#")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:  # "²" is a digit to str.isdigit
        raise UserError("polls.unknown_poll", value=value)
    return int(text)


class CreateCooldown:
    """At most one ``/poll create`` per member and server per ``per`` seconds (discord.py's
    :class:`~discord.app_commands.Cooldown`, taken only once a poll is about to be posted, so
    a typo refused before that costs no wait)."""

    #: Entries kept before the expired ones are dropped (the map stays small however many create).
    PRUNE_ABOVE = 1024

    def __init__(self, per: float) -> None:
        self.per = per
        self._buckets: dict[tuple[int, int], app_commands.Cooldown] = {}

    def take(self, guild_id: int, user_id: int) -> None:
        """Use the member's turn, or raise CommandOnCooldown saying when the next one comes."""
        if self.per <= 0:
            return
        if len(self._buckets) > self.PRUNE_ABOVE:
            self._buckets = {key: c for key, c in self._buckets.items() if c.get_tokens() < c.rate}
        bucket = self._buckets.setdefault((guild_id, user_id), app_commands.Cooldown(1, self.per))
        retry_after = bucket.update_rate_limit()
        if retry_after is not None:
            raise app_commands.CommandOnCooldown(bucket, retry_after)

    def give_back(self, guild_id: int, user_id: int) -> None:
        """The poll was refused after the turn was taken: the member may try again at once."""
        bucket = self._buckets.get((guild_id, user_id))
        if bucket is not None:
            bucket.reset()


class PollSettingsGroup(SettingsSubgroup):
    """``/settings polls``: who may create polls."""

    def __init__(self, cog: PollsCog) -> None:
        super().__init__(name=cmd("polls.settings.name"), description=cmd("polls.settings.description"))
        self.cog = cog

    @app_commands.command(
        name=cmd("polls.settings.creator_role_name"), description=cmd("polls.settings.creator_role_description")
    )
    @localized_options("polls.settings", role=("role_option", "role_option_description"))
    async def creator_role(self, interaction: discord.Interaction[Any], role: discord.Role | None = None) -> None:
        guild = _guild_of(interaction)
        if role is not None and role.is_default():
            role = None  # @everyone may create polls anyway: the same as no restriction
        await repo.set_creator_role(self.cog.bot.store, guild.id, role.id if role else None)
        if role is None:
            text = t("polls.settings.creator_role_lifted", interaction.locale)
        else:
            text = t("polls.settings.creator_role_set", interaction.locale, role=role.mention)
        await interaction.response.send_message(text, ephemeral=True)


class PollsCog(commands.Cog, name=COG_NAME):
    """Polls with vote buttons, deadlines, results and exports."""

    poll = app_commands.Group(
        name=cmd("polls.group.name"),
        description=cmd("polls.group.description"),
        guild_only=True,
        **server_only_group_options(),
    )

    def __init__(self, bot: HyosanBot) -> None:
        self.bot = bot
        self.ballot_box = BallotBox(bot.store, bot.clock)
        self.polls = PollCache(bot)
        self.messages = PollMessages(bot, self.polls)
        #: The refresher of the poll messages (tests and benchmarks shorten its interval).
        self.refresher = self.messages.refresher
        #: Polls an earlier creation could not discard yet (see PollMessages.to_discard).
        self._to_discard = self.messages.to_discard
        self.deadlines = PollDeadlines(bot, self.messages)
        self.retention = PollRetention(bot)
        self.create_cooldown = CreateCooldown(bot.settings.poll_create_cooldown_seconds)
        self.settings_group = PollSettingsGroup(self)
        self._startup_task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        await repo.discard_all_unposted_polls(self.bot.store, self.bot.ownership)
        self.bot.settings_group.add_command(self.settings_group)
        register_reveal_provider(REVEAL_KIND, self.reveal_poll)
        self.bot.scheduler.register(self.deadlines)
        self.bot.guild_keeper.keep(poll_settings)
        self.bot.scheduler.register(self.retention)
        self._startup_task = asyncio.create_task(self.messages.refresh_stale(), name="polls-refresh-stale")

    async def cog_unload(self) -> None:
        self.bot.scheduler.unregister(self.deadlines.name)
        self.bot.guild_keeper.release(poll_settings)
        self.bot.scheduler.unregister(self.retention.name)
        if self._startup_task is not None:
            self._startup_task.cancel()
        await self.ballot_box.close()
        await self.messages.close()
        self.bot.settings_group.remove_command(self.settings_group.name)
        unregister_reveal_provider(REVEAL_KIND)

    # -- helpers ------------------------------------------------------------------

    async def _fetch_guild_poll(self, interaction: discord.Interaction[Any], value: str) -> Poll:
        guild = _guild_of(interaction)
        async with self.bot.store.read() as conn:
            poll = await repo.fetch_guild_poll(conn, guild.id, _parse_poll_id(value))
        if poll is None:
            raise UserError("polls.unknown_poll", value=value)
        return poll

    def reader(self, interaction: discord.Interaction[Any], **bounds: Any) -> PollReader:
        """Every poll read decides who sees what through this (cogs/polls/access.py)."""
        return PollReader(self.bot, interaction, **bounds)

    async def _require_creator_role(self, interaction: discord.Interaction[Any], guild: discord.Guild) -> None:
        async with self.bot.store.read() as conn:
            role_id = await repo.fetch_creator_role(conn, guild.id)
        if role_id is None or interaction.permissions.manage_guild:
            return
        roles = getattr(interaction.user, "roles", [])
        if not any(role.id == role_id for role in roles):
            raise UserError("polls.create.role_required", role=Trusted(f"<@&{role_id}>"))

    # -- voting -------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Vote clicks are answered here, not by a DynamicItem.

        For a DynamicItem click discord.py first rebuilds the whole message's view from
        its components, only to find the clicked button in it; a vote needs nothing but
        the ids in its custom_id. That rebuild cost about 57 us per vote, a tenth of the
        bot's CPU per click with 200 in flight. Errors take the one error
        path, as a button's do.
        """
        if interaction.type is not discord.InteractionType.component or interaction.data is None:
            return
        custom_id = str(interaction.data.get("custom_id", ""))
        vote = parse_vote_custom_id(custom_id)
        if vote is None or not shows_button(interaction.message, custom_id):
            return
        try:
            await self.answer_vote(interaction, *vote)
        except Exception as exc:
            await report_interaction_error(interaction, exc)

    async def answer_vote(self, interaction: discord.Interaction[Any], poll_id: int, index: int) -> None:
        """Commit the click, then answer privately with the member's choices; the message follows later."""
        deferring: list[asyncio.Task[None]] = []
        slow = asyncio.get_running_loop().call_later(
            ACK_SLOW_VOTE_AFTER, lambda: deferring.append(asyncio.create_task(_acknowledge_privately(interaction)))
        )
        try:
            poll = await self.polls.get(poll_id)
            if poll is None:
                raise UserError("polls.vote.gone")
            # A button is clicked in its message's channel: Discord's own answer for it, no look-up.
            await self.reader(interaction).require_view(poll)
            result = await self.ballot_box.cast(Click(poll_id, interaction.user.id, index))
        finally:
            slow.cancel()
            if deferring:
                await deferring[0]  # acknowledged before anything answers (a failure too)
        changed = result.transition is not None and result.transition.after != result.transition.before
        self.bot.metrics.count_vote(stored=changed)
        try:
            if result.status in (ClickStatus.UNKNOWN_POLL, ClickStatus.UNKNOWN_OPTION):
                raise UserError("polls.vote.gone")
            if result.status is ClickStatus.CLOSED:
                raise UserError("polls.vote.closed")
            await send_ephemeral(interaction, vote_answer(poll, result, interaction.locale))
            self.bot.metrics.count_interaction(interaction_label(interaction), "answered", interaction.id)
        finally:
            if changed:
                self.refresher.mark_dirty(poll_id)

    # -- spoilers -----------------------------------------------------------------

    async def reveal_poll(self, bot: HyosanBot, key: str, locale: Locale) -> Reveal | None:
        """ "Reveal privately" on a spoiler poll: its options (and results when visible) unwrapped."""
        if not (key.isascii() and key.isdigit()):
            return None
        async with bot.store.read() as conn:
            poll = await repo.fetch_poll(conn, int(key))
        if poll is None or poll.message_id is None:
            return None
        pressing = revealing_for.get()
        if pressing is None or pressing.guild_id != poll.guild_id:
            return None
        await self.reader(pressing).require_view(poll)
        tally, _ = await repo.read_tally(bot.store, poll.id, len(poll.options))
        return Reveal(embeds=(poll_embed(poll, tally, openly=True, locale=locale),))

    # -- commands -----------------------------------------------------------------

    @poll.command(name=cmd("polls.create.name"), description=cmd("polls.create.description"))
    @localized_options(
        "polls.create", "question", "options", "duration", "max_choices", "anonymous", "hide_results", "spoiler"
    )
    async def create(
        self,
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, 256],
        options: str,
        duration: str | None = None,
        max_choices: int = 1,
        anonymous: bool = False,
        hide_results: bool = False,
        spoiler: bool = False,
    ) -> None:
        guild = _guild_of(interaction)
        await self._require_creator_role(interaction, guild)
        try:
            spec = build_poll_spec(
                question=question,
                options=options,
                duration=duration,
                max_choices=max_choices,
                anonymous=anonymous,
                hide_results=hide_results,
                spoiler=spoiler,
            )
        except InvalidPoll as invalid:
            raise UserError(invalid.key, **invalid.values) from None
        if interaction.channel_id is None:
            raise UserError("polls.create.cannot_post")
        require_member_may_post(interaction)
        self.create_cooldown.take(guild.id, interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.messages.discard_leftovers()
        try:
            poll = await repo.create_poll(
                self.bot.store,
                guild_id=guild.id,
                channel_id=interaction.channel_id,
                creator_id=interaction.user.id,
                spec=spec,
                now=self.bot.clock(),
                open_limit=self.bot.settings.poll_open_limit,
            )
        except TooManyOpenPolls as full:
            self.create_cooldown.give_back(guild.id, interaction.user.id)
            raise UserError("polls.create.too_many_open", limit=full.limit) from None
        try:
            message = await self.messages.post(poll)
        except discord.Forbidden:
            self.create_cooldown.give_back(guild.id, interaction.user.id)
            raise UserError("polls.create.cannot_post") from None
        if poll.closes_at is not None:
            self.bot.scheduler.wake()
        await interaction.followup.send(
            t("polls.create.done", interaction.locale, id=str(poll.id), link=message.jump_url), ephemeral=True
        )

    @poll.command(name=cmd("polls.close.name"), description=cmd("polls.close.description"))
    @localized_options("polls", poll_key=("poll_option", "close.poll_description"))
    async def close(self, interaction: discord.Interaction[Any], poll_key: str) -> None:
        poll = await self._fetch_guild_poll(interaction, poll_key)
        access = await self.reader(interaction).require_view(poll)
        if not poll.is_open:
            raise UserError("polls.close.already_closed", id=str(poll.id))
        if poll.creator_id != interaction.user.id and not access.can_manage:
            raise UserError("polls.close.not_allowed", id=str(poll.id), channel=channel_mention(poll.channel_id))
        await interaction.response.defer(ephemeral=True, thinking=True)
        if not await repo.close_poll(self.bot.store, poll.id, self.bot.clock(), CloseReason.COMMAND):
            raise UserError("polls.close.already_closed", id=str(poll.id))
        self.bot.scheduler.wake()
        if await self.messages.announce_closed(poll.id):
            text = t("polls.close.done", interaction.locale, id=str(poll.id))
        else:
            text = t("polls.close.message_deleted", interaction.locale, id=str(poll.id))
        await interaction.followup.send(text, ephemeral=True)

    @poll.command(name=cmd("polls.results.name"), description=cmd("polls.results.description"))
    @localized_options("polls", poll_key=("poll_option", "results.poll_description"))
    async def results(self, interaction: discord.Interaction[Any], poll_key: str) -> None:
        poll = await self._fetch_guild_poll(interaction, poll_key)
        await self.reader(interaction).require_view(poll)
        tally, _ = await repo.read_tally(self.bot.store, poll.id, len(poll.options))
        spoilers = await spoilers_for(self.bot, interaction)
        view = spoilers.reveal_view(REVEAL_KIND, str(poll.id)) if poll.spoiler else None
        await interaction.response.send_message(
            embed=results_embed(poll, tally, openly=spoilers.openly, locale=interaction.locale),
            ephemeral=True,
            view=view if view is not None and view.children else discord.utils.MISSING,
        )

    @poll.command(name=cmd("polls.list.name"), description=cmd("polls.list.description"))
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        guild = _guild_of(interaction)
        locale = interaction.locale
        async with self.bot.store.read() as conn:
            open_polls = await repo.list_open_polls(conn, guild.id, limit=LIST_SCAN)
        visible = await self.reader(interaction, fetches=LIST_FETCHES).visible(open_polls)
        polls, total = visible[:LIST_LIMIT], len(visible)
        if not polls:
            await interaction.response.send_message(t("polls.list.empty", locale), ephemeral=True)
            return
        lines = []
        for poll in polls:
            closing = (
                t("polls.list.closes", locale, when=discord_time(poll.closes_at, "R"))
                if poll.closes_at
                else t("polls.list.no_deadline", locale)
            )
            link = f"https://discord.com/channels/{poll.guild_id}/{poll.channel_id}/{poll.message_id}"
            question = render_open_text(poll.question, limit=LIST_QUESTION_LIMIT)
            lines.append(t("polls.list.line", locale, id=str(poll.id), question=question, link=link, closing=closing))
        if total > len(polls):
            lines.append(t("polls.list.more", locale, count=total - len(polls)))
        embed = discord.Embed(title=t("polls.list.title", locale, count=total), description="\n".join(lines)[:4096])
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @poll.command(name=cmd("polls.export.name"), description=cmd("polls.export.description"))
    @localized_options("polls", poll_key=("poll_option", "export.poll_description"))
    async def export(self, interaction: discord.Interaction[Any], poll_key: str) -> None:
        poll = await self._fetch_guild_poll(interaction, poll_key)
        access = await self.reader(interaction).require_view(poll)
        if not access.can_manage:
            raise UserError("polls.export.not_allowed", id=str(poll.id), channel=channel_mention(poll.channel_id))
        await interaction.response.defer(ephemeral=True, thinking=True)
        retention = self.retention.retention
        counts = repo.counts_only(poll, self.bot.clock(), retention)
        if counts:
            tally, _ = await repo.read_tally(self.bot.store, poll.id, len(poll.options))
            data = await asyncio.to_thread(counts_csv, poll, tally)
            key = "polls.export.done_anonymous" if poll.anonymous else "polls.export.done_forgotten"
            text = t(key, interaction.locale, id=str(poll.id), days=Counted("units.days", retention.days))
        else:
            async with self.bot.store.read() as conn:
                ballots = await repo.fetch_ballots(conn, poll)
            data = await asyncio.to_thread(ballots_csv, poll, ballots)
            text = t("polls.export.done", interaction.locale, id=str(poll.id))
        limit = interaction.filesize_limit  # what Discord takes from this member here (10 MiB unboosted)
        if len(data) > limit:
            raise UserError(
                "polls.export.too_large",
                id=str(poll.id),
                size=Trusted(_megabytes(len(data))),
                limit=Trusted(_megabytes(limit)),
            )
        file = discord.File(io.BytesIO(data), filename=export_filename(poll, counts=counts))
        await interaction.followup.send(text, file=file, ephemeral=True)

    @close.autocomplete("poll_key")
    @guarded_autocomplete
    async def _open_poll_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._poll_choices(interaction, current, open_only=True)

    @results.autocomplete("poll_key")
    @export.autocomplete("poll_key")
    @guarded_autocomplete
    async def _any_poll_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._poll_choices(interaction, current, open_only=False)

    async def _poll_choices(
        self, interaction: discord.Interaction[Any], current: str, *, open_only: bool
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        async with self.bot.store.read() as conn:
            found = await repo.find_guild_polls(conn, interaction.guild_id, str(current), open_only=open_only)
        reader = self.reader(interaction, fetches=AUTOCOMPLETE_FETCHES, within=AUTOCOMPLETE_FETCH_SECONDS)
        visible = await reader.visible(found)
        choices = []
        for summary in visible[: repo.CHOICES_LIMIT]:
            key = "polls.choice_open" if summary.is_open else "polls.choice_closed"
            name = t(key, interaction.locale, id=str(summary.id), question=" ".join(summary.question.split()))
            if len(name) > CHOICE_NAME_LIMIT:
                name = name[: CHOICE_NAME_LIMIT - 1] + "…"
            choices.append(app_commands.Choice(name=name, value=str(summary.id)))
        return choices


async def _acknowledge_privately(interaction: discord.Interaction[Any]) -> None:
    """A slow vote's first response: "thinking…", visible to the member alone."""
    with contextlib.suppress(discord.HTTPException):  # too late already: the answer will say so in the log
        await interaction.response.defer(ephemeral=True, thinking=True)
