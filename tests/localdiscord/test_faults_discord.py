"""Discord misbehaving: 429s, 5xx, a dropped gateway, an invalid session, a 403 on a
scheduled post. The bot keeps serving, loses nothing, and shows moderators what
failed where the feature says so. The real bot in-process against the fake Discord.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest

from cogs.countdown import repo as countdown_repo
from cogs.polls.cog import PollsCog
from localdiscord import skip_identify_delay, wait_until
from tests.support.countdown import messages as countdown_posts
from tests.support.countdown import set_daily, text_of, tick
from tests.support.harness import Harness
from tests.support.polls import create, current, embed_text, poll_messages, stored_votes, vote, vote_ids
from tests.support.stores import fetch_rows, read_with

#: Their subject is the store (see tests/support/stores.py): they run on SQLite and PostgreSQL.
pytestmark = pytest.mark.both_stores

CALLBACK = r"/interactions/\d+/[^/]+/callback"
FOLLOWUP = r"/webhooks/\d+/[^/]+$"


def polls(h: Harness) -> PollsCog:
    cog = h.bot.get_cog("Polls")
    assert cog is not None
    return cog  # type: ignore[return-value]


@pytest.fixture
def h(harness: Harness, caplog: pytest.LogCaptureFixture) -> Harness:
    """The harness with a quick poll refresher, every log line kept to look for the token."""
    caplog.set_level(logging.DEBUG)
    polls(harness).refresher.interval = 0.05
    return harness


def assert_token_never_logged(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    token = h.fake.token
    assert caplog.records, "nothing was logged at all"
    for record in caplog.records:
        assert token not in record.getMessage(), record.name
        assert token not in str(record.args), record.name


def message_posts(h: Harness, channel_id: int) -> list[Any]:
    return [r for r in h.fake.requests if r.method == "POST" and r.path == f"/channels/{channel_id}/messages"]


async def test_429s_with_retry_after_on_every_route_the_bot_uses_are_waited_out(h: Harness) -> None:
    channel_path = rf"/channels/{h.general.id}/messages$"
    injected = [
        h.fake.inject("POST", CALLBACK, status=429, retry_after=0.3),
        h.fake.inject("POST", channel_path, status=429, retry_after=0.3),
        h.fake.inject("POST", FOLLOWUP, status=429, retry_after=0.3),
    ]
    record, message = await create(h)  # deferral, the poll message, the follow-up: each 429ed once
    assert "Poll #1 is up" in record.followups[0]["content"]
    assert [i.hits for i in injected] == [1, 1, 1]

    h.fake.inject("POST", CALLBACK, status=429, retry_after=0.3)
    edit = h.fake.inject("PATCH", rf"/channels/{h.general.id}/messages/\d+$", status=429, retry_after=0.3)
    answer = await vote(h, h.member, message, 1)
    assert "counted" in answer.content
    assert await wait_until(lambda: "**1** (100%)" in embed_text(current(h, message)), timeout=5)
    assert edit.hits == 1

    await set_daily(h)
    scheduled = h.fake.inject("POST", channel_path, status=429, retry_after=0.3)
    await tick(h, dt.timedelta(hours=1))
    assert await wait_until(lambda: len(countdown_posts(h, h.general)) == 2, timeout=5)  # the poll and the post
    assert scheduled.hits == 1
    ledger = await read_with(h.bot.store, countdown_repo.fetch_ledger, h.guild.id)
    assert [state for _, state, _ in ledger] == ["sent"]
    assert h.fake.rate_limit_hits == 6
    assert await stored_votes(h, 1) == {(h.member.id, 1)}


async def test_a_500_is_retried_and_a_503_while_creating_a_poll_leaves_nothing_behind(h: Harness) -> None:
    h.fake.inject("POST", CALLBACK, status=500)
    h.fake.inject("POST", rf"/channels/{h.general.id}/messages$", status=500)
    record, message = await create(h)  # discord.py waits a second after each 500 and tries again
    assert "Poll #1 is up" in record.followups[0]["content"]

    h.fake.inject("POST", rf"/channels/{h.general.id}/messages$", status=503)  # discord.py does not retry a 503
    h.expect_errors()  # a 503 is reported like a bug: logged with a reference the user can quote
    failed = await h.slash(h.member, h.general, "poll create", question="Second?", options="Yes | No")
    assert await failed.wait_followups()
    assert failed.ephemeral
    assert failed.followups[0]["flags"] & 64
    assert "quote reference" in failed.followups[0]["content"]
    rows = await fetch_rows(h.bot.store, "SELECT id, message_id FROM polls ORDER BY id")
    assert [tuple(row) for row in rows] == [(1, int(message["id"]))], "the failed poll was not left half-created"
    assert len(poll_messages(h, h.general)) == 1

    again, _ = await create(h, question="Second, again?")
    assert "is up" in again.followups[0]["content"]
    answer = await vote(h, h.member2, message, 0)
    assert "counted" in answer.content


async def test_a_dropped_gateway_is_resumed_and_what_happened_meanwhile_is_answered(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    _, message = await create(h)
    identified = h.fake.identify_count
    resumed = h.fake.resume_count
    await h.fake.drop_gateway()
    # Clicks and a command while the bot is disconnected: Discord replays them after RESUME.
    stored = current(h, message)
    clicks = [
        await h.fake.click(h.guild, h.general, member, stored, vote_ids(message)[n], wait=False)
        for n, member in enumerate((h.member, h.member2))
    ]
    countdown = await h.fake.slash(h.guild, h.general, h.member, "countdown", wait=False)
    assert await wait_until(lambda: h.fake.resume_count == resumed + 1, timeout=10)
    for record in (*clicks, countdown):
        assert await record.wait_acknowledged(5), record.rejected_callbacks
    assert h.fake.identify_count == identified, "a RESUME, not a new session"
    assert await stored_votes(h, 1) == {(h.member.id, 0), (h.member2.id, 1)}
    assert await wait_until(lambda: "2 voted" in embed_text(current(h, message)), timeout=5)
    assert "days" in text_of({"embeds": countdown.embeds})
    assert_token_never_logged(h, caplog)


async def test_an_invalid_session_identifies_afresh_and_the_schedule_posts_once(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await set_daily(h)
    skip_identify_delay(h.bot)
    identified = h.fake.identify_count
    await h.fake.invalidate_session()
    assert await wait_until(lambda: h.fake.identify_count == identified + 1, timeout=10)
    await h.fake.wait_ready(10)
    await h.settle(0.2)

    record = await h.slash(h.member, h.general, "countdown")
    assert record.answered
    assert not record.ephemeral
    _, message = await create(h)
    assert "counted" in (await vote(h, h.member, message, 0)).content

    await tick(h, dt.timedelta(hours=1))
    assert await wait_until(lambda: len(countdown_posts(h, h.general)) == 2, timeout=5)  # the poll and the post
    await tick(h, dt.timedelta(minutes=5))
    await asyncio.sleep(0.2)
    assert len(message_posts(h, h.general.id)) == 2, "one dispatcher after the new session: one post per slot"
    assert_token_never_logged(h, caplog)


async def test_a_403_on_a_scheduled_post_is_shown_to_moderators_and_the_next_slot_posts(h: Harness) -> None:
    await set_daily(h)
    refused = h.fake.inject("POST", rf"/channels/{h.general.id}/messages$", status=403)
    await tick(h, dt.timedelta(hours=1))
    assert refused.hits == 1
    assert countdown_posts(h, h.general) == []

    show = await h.slash(h.moderator, h.general, "settings countdown show")
    assert show.ephemeral
    fields = {f["name"]: f["value"] for f in show.embeds[0]["fields"]}
    assert "Discord refused the post" in fields["Last error"]
    assert "Paused" not in fields["Next post"], "one refusal does not pause the schedule"

    members_see = await h.slash(h.member, h.general, "countdown")
    assert members_see.answered, "the bot keeps serving everyone else"

    await tick(h, dt.timedelta(days=1))
    assert await wait_until(lambda: len(countdown_posts(h, h.general)) == 1, timeout=5)
    ledger = await read_with(h.bot.store, countdown_repo.fetch_ledger, h.guild.id)
    assert [(key, state) for key, state, _ in ledger] == [("day:2026-11-25", "failed"), ("day:2026-11-26", "sent")]
    show = await h.slash(h.moderator, h.general, "settings countdown show")
    fields = {f["name"]: f["value"] for f in show.embeds[0]["fields"]}
    assert "Last error" not in fields, "a successful post clears the error"


async def test_a_503_on_a_tally_edit_is_caught_up_without_another_vote(h: Harness) -> None:
    _, message = await create(h)
    h.expect_errors()  # the failed edit is logged; what matters here is the message catching up
    h.fake.inject("PATCH", rf"/channels/{h.general.id}/messages/\d+$", status=503)
    await vote(h, h.member, message, 2)
    assert await stored_votes(h, 1) == {(h.member.id, 2)}
    assert await wait_until(lambda: "1 voted" in embed_text(current(h, message)), timeout=4)
