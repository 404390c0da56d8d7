"""The premiere in the server's Events list, through the real bot and the local Discord: a
moderator turns it on, owners' updates create, move and withdraw it, and a crash between
Discord's answer and the ledger never leaves two events.

The harness clock starts at 2026-11-25 12:00 UTC; the pack's window is "early 2027" (no
exact date) and its sourced release time is 00:00 in America/Los_Angeles.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cogs.countdown import repo
from cogs.countdown.repo import events as ledger
from localdiscord import Permission, wait_until
from tests.support.countdown import tick
from tests.support.premiere import PREMIERE, confirm_date, events_of, grant_bot, revoke_bot
from tests.support.stores import read_with


@pytest.mark.both_stores
async def test_the_premiere_event_follows_the_release_record_and_the_setting(harness: Any) -> None:
    h = harness
    await grant_bot(h, Permission.MANAGE_EVENTS)
    on = await h.slash(h.moderator, h.general, "settings countdown event", state="on")
    assert on.ephemeral
    assert "no confirmed date yet" in on.content
    await tick(h)
    assert events_of(h.guild) == []  # "early 2027" is no exact date

    await confirm_date(h)
    await tick(h)
    [event] = events_of(h.guild)
    assert (event.start, event.end) == (PREMIERE, PREMIERE + dt.timedelta(hours=1))
    show = await h.slash(h.moderator, h.general, "settings countdown show")
    fields = {f["name"]: f["value"] for f in show.embeds[0]["fields"]}
    assert fields["Premiere event"] == f"In this server's Events for <t:{int(PREMIERE.timestamp())}:F>."
    assert fields["Notify role"].startswith("None")
    assert event.entity_type == 3
    assert event.location == "Netflix"
    assert event.creator_id == h.fake.bot_user.id
    assert "Season 2" in event.name

    countdown = await h.slash(h.member, h.general, "countdown")
    premiere = next(f for f in countdown.embeds[0]["fields"] if f["name"] == "Premiere")
    assert f"<t:{int(PREMIERE.timestamp())}:F>" in premiere["value"]
    assert "Netflix Help Center" in premiere["value"] or "What time does Netflix" in premiere["value"]
    assert "0 members clicked Interested" in premiere["value"]
    await h.fake.mark_interested(h.guild, event.id, h.member)
    countdown = await h.slash(h.member, h.general, "countdown")
    assert "1 member clicked Interested" in countdown.embeds[0]["fields"][-1]["value"]

    await confirm_date(h, "2027-04-02")  # the date moves: the same event is edited
    await tick(h)
    [moved] = events_of(h.guild)
    assert moved.id == event.id
    assert moved.start == dt.datetime(2027, 4, 2, 7, 0, tzinfo=dt.UTC)  # PDT by then

    await confirm_date(h, "2027-Q2", "estimated")  # withdrawn: no exact date any more
    await tick(h)
    assert events_of(h.guild) == []
    assert await read_with(h.bot.store, repo.fetch_event, h.guild.id) is None

    await confirm_date(h, "2027-04-09")
    await tick(h)
    assert len(events_of(h.guild)) == 1
    off = await h.slash(h.moderator, h.general, "settings countdown event", state="off")
    assert "removes its event" in off.content
    await tick(h)
    assert events_of(h.guild) == []
    assert await read_with(h.bot.store, repo.fetch_event, h.guild.id) is None


@pytest.mark.both_stores
async def test_without_manage_events_the_moderator_is_told_and_nothing_is_made(harness: Any) -> None:
    h = harness
    await confirm_date(h)
    refused = await h.slash(h.moderator, h.general, "settings countdown event", state="on")
    assert refused.ephemeral
    assert "missing the **Manage Events** permission" in refused.content
    assert "Server Settings → Roles" in refused.content
    assert "nothing was saved" in refused.content
    assert (await read_with(h.bot.store, repo.fetch_options, h.guild.id)).events is False
    await tick(h)
    assert events_of(h.guild) == []
    assert not [r for r in h.fake.requests if "scheduled-events" in r.path]


async def test_losing_manage_events_later_records_why_and_makes_nothing(harness: Any) -> None:
    h = harness
    await grant_bot(h, Permission.MANAGE_EVENTS)
    await h.slash(h.moderator, h.general, "settings countdown event", state="on")
    await revoke_bot(h, Permission.MANAGE_EVENTS)
    await confirm_date(h)
    await tick(h)
    assert events_of(h.guild) == []
    row = await read_with(h.bot.store, repo.fetch_event, h.guild.id)
    assert (row.state, row.error) == ("failed", "missing_permissions")
    assert not [r for r in h.fake.requests if r.method == "POST" and "scheduled-events" in r.path]
    show = await h.slash(h.moderator, h.general, "settings countdown show")
    fields = {f["name"]: f["value"] for f in show.embeds[0]["fields"]}
    assert "missing the **Manage Events** permission" in fields["Premiere event"]

    await grant_bot(h, Permission.MANAGE_EVENTS)
    again = await h.slash(h.moderator, h.general, "settings countdown event", state="on")
    assert "going into this server's Events" in again.content
    await tick(h)
    assert len(events_of(h.guild)) == 1


@pytest.mark.both_stores
async def test_a_crash_after_discord_made_the_event_does_not_make_a_second(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    await grant_bot(h, Permission.MANAGE_EVENTS)
    await h.slash(h.moderator, h.general, "settings countdown event", state="on")

    async def crash_before_recording(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(ledger, "mark_live", crash_before_recording)
    h.expect_errors()
    await confirm_date(h)
    await tick(h)
    assert len(events_of(h.guild)) == 1  # Discord made it; the ledger never heard back
    monkeypatch.undo()

    await h.restart(kill=True)
    await tick(h)
    [event] = events_of(h.guild)
    row = await read_with(h.bot.store, repo.fetch_event, h.guild.id)
    assert (row.state, row.event_id) == ("live", event.id)  # adopted, not made again
    made = [r for r in h.fake.requests if r.method == "POST" and r.path.endswith("/scheduled-events")]
    assert len(made) == 1


@pytest.mark.both_stores
async def test_a_server_that_removes_the_bot_keeps_its_event_row_for_the_grace_period_then_loses_it(
    harness: Any,
) -> None:
    h = harness
    await grant_bot(h, Permission.MANAGE_EVENTS)
    await h.slash(h.moderator, h.general, "settings countdown event", state="on")
    await confirm_date(h)
    await tick(h)
    [event] = events_of(h.guild)
    h.fake.remove_guild(h.guild)
    assert await wait_until(lambda: h.bot.get_guild(h.guild.id) is None)
    await tick(h, dt.timedelta(days=7) - dt.timedelta(minutes=1))
    row = await read_with(h.bot.store, repo.fetch_event, h.guild.id)
    assert (row.state, row.event_id) == ("live", event.id)  # kept, and nothing touched in a server it left
    await tick(h, dt.timedelta(minutes=2))
    assert await read_with(h.bot.store, repo.fetch_event, h.guild.id) is None
    assert (await read_with(h.bot.store, repo.fetch_options, h.guild.id)).events is False
