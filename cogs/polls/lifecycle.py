"""A poll's message from posting to results, and the jobs its deadline and retention bring.

``/poll create`` stores the poll, then :class:`PollMessages` posts its message and
attaches it (only then does the poll exist for members); votes mark it dirty and the
coalescing refresher edits it; at its close (deadline, ``/poll close``, or its message
deleted) the buttons are disabled, the final tally shown and the results posted under it.
:class:`PollDeadlines` and :class:`PollRetention` are the scheduler's sources for closing
at the deadline and for forgetting who voted. The buttons carry only ids (see
:mod:`cogs.polls.views`), so a message posted before a restart keeps working after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.client import HyosanBot
from bot.language import public_locale
from bot.spoilers import spoiler_view_for
from cogs.polls import repo
from cogs.polls.refresher import TallyRefresher
from cogs.polls.render import close_notice, poll_embed, results_embed, vote_buttons
from cogs.polls.repo import CloseReason, Poll
from cogs.polls.tally import Tally
from cogs.polls.views import REVEAL_KIND, poll_view

log = logging.getLogger(__name__)

#: Polls kept in memory for answering clicks (their options never change).
POLL_CACHE_SIZE = 256


class PollCache:
    """Posted polls for answering clicks: options, spoiler flag and limits never change;
    a poll is dropped when it closes."""

    def __init__(self, bot: HyosanBot, size: int = POLL_CACHE_SIZE) -> None:
        self.bot = bot
        self.size = size
        self._polls: OrderedDict[int, Poll] = OrderedDict()

    async def get(self, poll_id: int) -> Poll | None:
        poll = self._polls.get(poll_id)
        if poll is None:
            async with self.bot.store.read() as conn:
                poll = await repo.fetch_poll(conn, poll_id)
            if poll is None or poll.message_id is None:
                return None
            self._polls[poll_id] = poll
            if len(self._polls) > self.size:
                self._polls.popitem(last=False)
        else:
            self._polls.move_to_end(poll_id)
        return poll

    def drop(self, poll_id: int) -> None:
        self._polls.pop(poll_id, None)


class PollMessages:
    """Posts, refreshes and closes the poll messages; the only part of the feature that edits them."""

    def __init__(self, bot: HyosanBot, cache: PollCache) -> None:
        self.bot = bot
        self.cache = cache
        self.refresher = TallyRefresher(self.refresh)
        self._announcing: set[int] = set()
        #: Polls whose message could not be attached nor the poll discarded (a full disk):
        #: invisible to members, discarded at the next /poll create or start.
        self.to_discard: set[int] = set()

    def channel(self, poll: Poll) -> discord.PartialMessageable:
        return self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)

    async def render(self, poll: Poll, tally: Tally) -> dict[str, Any]:
        locale = await public_locale(self.bot, poll.guild_id)
        spoilers = await spoiler_view_for(self.bot, self.channel(poll), locale)
        reveal = spoilers.reveal_button(REVEAL_KIND, str(poll.id)) if poll.spoiler else None
        return {
            "embed": poll_embed(poll, tally, openly=spoilers.openly, locale=locale),
            "view": poll_view(poll.id, vote_buttons(poll, openly=spoilers.openly), reveal),
        }

    # -- posting ------------------------------------------------------------------

    async def discard_leftovers(self) -> None:
        """Discard the polls an earlier creation could not (see :attr:`to_discard`)."""
        for leftover in sorted(self.to_discard):
            await repo.discard_unposted_poll(self.bot.store, leftover)
            self.to_discard.discard(leftover)

    async def post(self, poll: Poll) -> discord.Message:
        """Post a stored poll's message and attach it: from then on the poll takes votes.

        If anything fails, nothing half-created remains: the poll is discarded (and the
        message taken down if it was posted). ``discord.Forbidden``: the bot may not post
        there.
        """
        try:
            rendered = await self.render(poll, Tally.empty(len(poll.options)))
            message = await self.channel(poll).send(**rendered)
        except discord.Forbidden:
            await repo.discard_unposted_poll(self.bot.store, poll.id)
            raise
        except BaseException:
            await asyncio.shield(repo.discard_unposted_poll(self.bot.store, poll.id))
            raise
        try:
            attached = await repo.attach_message(self.bot.store, poll.id, message.id)
        except BaseException:
            # E.g. a full disk between the two writes: take the message down again, so no
            # message shows buttons of a poll that takes no votes, and drop the poll.
            await asyncio.shield(self._take_back_unattached(poll.id, message))
            raise
        if not attached:  # something discarded the row meanwhile: no message may outlive its poll
            await asyncio.shield(self._take_back_unattached(poll.id, message))
            raise RuntimeError(f"poll {poll.id} vanished before its message was attached")
        return message

    async def _take_back_unattached(self, poll_id: int, message: discord.Message) -> None:
        try:
            await message.delete()
        except discord.HTTPException:
            log.warning("poll %d: could not delete its message after storing it failed", poll_id, exc_info=True)
        try:
            await repo.discard_unposted_poll(self.bot.store, poll_id)
        except Exception:
            self.to_discard.add(poll_id)
            log.warning("poll %d: could not discard it yet; it takes no votes meanwhile", poll_id, exc_info=True)

    # -- refreshing ---------------------------------------------------------------

    async def refresh_stale(self) -> None:
        """After a crash some messages may show an older tally than the store: refresh those."""
        await self.bot.wait_until_ready()
        async with self.bot.store.read() as conn:
            stale = await repo.stale_open_polls(conn, self.bot.ownership)
        for poll_id in stale:
            self.refresher.mark_dirty(poll_id)

    async def refresh(self, poll_id: int) -> None:
        """Show the current tally in the poll message (called by the refresher, coalesced)."""
        async with self.bot.store.read() as conn:
            poll = await repo.fetch_poll(conn, poll_id)
        if poll is None or not poll.is_open or poll.message_id is None:
            return
        tally, version = await repo.read_tally(self.bot.store, poll_id, len(poll.options))
        message = self.channel(poll).get_partial_message(poll.message_id)
        try:
            rendered = await self.render(poll, tally)
            await self.bot.rest_pacer.wait_turn()  # after a crash every stale poll is refreshed at once
            await message.edit(**rendered)
        except discord.NotFound:
            await self._close_deleted(poll)
            return
        await repo.mark_rendered(self.bot.store, poll_id, version)

    # -- closing ------------------------------------------------------------------

    async def _close_deleted(self, poll: Poll) -> None:
        """The poll's message is gone: close the poll; there is nothing to post results under."""
        await repo.close_poll(self.bot.store, poll.id, self.bot.clock(), CloseReason.MESSAGE_DELETED)
        await repo.mark_announced(self.bot.store, poll.id)
        self.cache.drop(poll.id)
        self.bot.scheduler.wake()
        log.info("poll %d closed: its message was deleted", poll.id)

    async def announce_closed(self, poll_id: int) -> bool:
        """Disable the buttons, show the final tally and post the results; False if the message is gone.

        Safe to call twice (the scheduler and /poll close may race): the first caller does it.
        """
        if poll_id in self._announcing:
            return True
        self._announcing.add(poll_id)
        try:
            await self.refresher.forget(poll_id)
            self.cache.drop(poll_id)
            async with self.bot.store.read() as conn:
                poll = await repo.fetch_poll(conn, poll_id)
            if poll is None or poll.is_open or poll.announced:
                return True
            tally, version = await repo.read_tally(self.bot.store, poll_id, len(poll.options))
            channel = self.channel(poll)
            message = channel.get_partial_message(poll.message_id) if poll.message_id else None
            posted = False
            if message is not None:
                try:
                    rendered = await self.render(poll, tally)
                    await self.bot.rest_pacer.wait_turn()  # many polls may close at one deadline
                    await message.edit(**rendered)
                    posted = True
                except (discord.NotFound, discord.Forbidden) as exc:
                    # Deleted, or the bot lost access (even left the server): retrying cannot help.
                    log.info("poll %d closed but its message cannot be edited (%s); no results posted", poll_id, exc)
            if posted and message is not None:
                await self._post_results(poll, tally, message)
            await repo.mark_rendered(self.bot.store, poll_id, version)
            await repo.mark_announced(self.bot.store, poll_id)
            return posted
        finally:
            self._announcing.discard(poll_id)

    async def _post_results(self, poll: Poll, tally: Tally, message: discord.PartialMessage) -> None:
        locale = await public_locale(self.bot, poll.guild_id)
        spoilers = await spoiler_view_for(self.bot, message.channel, locale)
        view = spoilers.reveal_view(REVEAL_KIND, str(poll.id)) if poll.spoiler else None
        try:
            await self.bot.rest_pacer.wait_turn()
            await message.channel.send(
                content=close_notice(poll, locale),
                embed=results_embed(poll, tally, openly=spoilers.openly, locale=locale),
                reference=message.to_reference(fail_if_not_exists=False),
                view=view if view is not None and view.children else discord.utils.MISSING,
            )
        except (discord.Forbidden, discord.NotFound) as exc:
            log.warning("could not post the results of poll %d: %s", poll.id, exc)

    async def close(self) -> None:
        """The cog is unloading: no edit is left half done."""
        await self.refresher.close()


class PollDeadlines:
    """The polls' :class:`~bot.scheduler.DueSource`: deadlines, and closed polls still to announce."""

    name = "polls"

    def __init__(self, bot: HyosanBot, messages: PollMessages) -> None:
        self.bot = bot
        self.messages = messages

    async def next_due(self, now: datetime) -> datetime | None:
        async with self.bot.store.read() as conn:
            return await repo.next_poll_job(conn, self.bot.ownership)

    async def run_due(self, now: datetime) -> None:
        """Only polls of guilds on this process's shards: another process closes the others."""
        owned = self.bot.ownership
        await repo.close_expired_polls(self.bot.store, now, owned)
        failed = 0
        async with self.bot.store.read() as conn:
            unannounced = await repo.unannounced_polls(conn, owned)
        for poll_id in unannounced:
            try:
                await self.messages.announce_closed(poll_id)
            except Exception:
                failed += 1
                log.exception("announcing the results of poll %d failed", poll_id)
        if failed:
            # Raising makes the scheduler back off instead of retrying at once.
            raise RuntimeError(f"{failed} closed polls could not be announced yet")


class PollRetention:
    """The :class:`~bot.scheduler.DueSource` that forgets who voted in closed polls
    (``POLL_VOTE_RETENTION_DAYS`` after they closed; anonymous polls at their close).
    Only polls of guilds on this process's shards: another process does the others."""

    name = "poll-retention"

    def __init__(self, bot: HyosanBot) -> None:
        self.bot = bot

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.bot.settings.poll_vote_retention_days)

    async def next_due(self, now: datetime) -> datetime | None:
        async with self.bot.store.read() as conn:
            return await repo.next_forgetting(conn, self.retention, self.bot.ownership)

    async def run_due(self, now: datetime) -> None:
        forgotten = await repo.forget_expired_voters(self.bot.store, now, self.retention, self.bot.ownership)
        if forgotten:
            log.info("forgot who voted in %d closed polls", len(forgotten))
