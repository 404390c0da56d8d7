"""The countdown through the real bot and the fake Discord: commands, settings, owners' updates
and scheduled posts that happen exactly once, across restarts and crashes.

The harness clock starts at 2026-11-25 12:00 UTC; the data pack expects "early 2027"
(2027-01-01..2027-03-31), 37 days later.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
from typing import Any

import pytest

from bot.store import Store
from cogs.countdown import repo
from cogs.countdown.posting import slot_nonce
from localdiscord import Permission, wait_until
from tests.support.countdown import messages, set_daily, text_of, tick
from tests.support.countdown_records import keep, record_version
from tests.support.stores import read_with


async def test_anyone_sees_the_honest_countdown_to_the_window(harness: Any) -> None:
    h = harness
    rec = await h.slash(h.member, h.general, "countdown")
    assert not rec.ephemeral
    shown = text_of({"embeds": rec.embeds})
    assert "**37 days** until the start of the expected window **early 2027**" in shown
    # The article gives "early 2027" and no dates: the card says the dates are the bot's reading.
    assert "(the source gives no dates; the bot reads it as" in shown
    assert "Estimated, not confirmed by Netflix" in shown
    assert "Days are counted in UTC" in rec.embeds[0]["footer"]["text"]


async def test_history_lists_the_data_pack_entry_with_its_source(harness: Any) -> None:
    h = harness
    rec = await h.slash(h.member, h.general, "countdown", history=True)
    assert rec.ephemeral
    assert "**early 2027**" in rec.embeds[0]["description"]
    assert "data pack" in rec.embeds[0]["description"]


@pytest.mark.both_stores
async def test_a_moderator_sets_daily_posts_and_one_post_happens_per_slot(harness: Any) -> None:
    h = harness
    rec = await set_daily(h)
    assert "Countdown posts set" in rec.content
    assert "<#" in rec.content
    show = await h.slash(h.moderator, h.general, "settings countdown show")
    next_field = next(f for f in show.embeds[0]["fields"] if f["name"] == "Next post")
    due = int(dt.datetime(2026, 11, 25, 13, tzinfo=dt.UTC).timestamp())
    assert f"<t:{due}:F>" in next_field["value"]

    await tick(h, dt.timedelta(minutes=59))
    assert messages(h, h.general) == []
    await tick(h, dt.timedelta(minutes=1))  # 13:00: the real dispatcher posts
    assert await wait_until(lambda: len(messages(h, h.general)) == 1)
    assert "**37 days** until the start" in text_of(messages(h, h.general)[0])

    await tick(h, dt.timedelta(minutes=30))
    await h.restart()
    await tick(h)
    assert len(messages(h, h.general)) == 1  # the slot is never posted twice

    show = await h.slash(h.moderator, h.general, "settings countdown show")
    fields = {f["name"]: f["value"] for f in show.embeds[0]["fields"]}
    assert "Every day at 13:00 (UTC)" in fields["When"]
    assert str(messages(h, h.general)[0]["id"]) in fields["Last post"]
    assert f"<t:{due + 86400}:F>" in fields["Next post"]


@pytest.mark.both_stores
async def test_moving_todays_time_after_todays_post_promises_tomorrow_and_keeps_that_promise(
    harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.INFO)
    await set_daily(h)
    await tick(h, dt.timedelta(hours=1))  # 13:00: today's post
    assert await wait_until(lambda: len(messages(h, h.general)) == 1)

    h.clock.advance(dt.timedelta(minutes=10))
    moved = await set_daily(h, time="13:30")
    tomorrow = int(dt.datetime(2026, 11, 26, 13, 30, tzinfo=dt.UTC).timestamp())
    today = int(dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC).timestamp())
    assert f"<t:{tomorrow}:F>" in moved.content
    assert f"<t:{today}:F>" not in moved.content
    assert "has already been posted" in moved.content
    show = await h.slash(h.moderator, h.general, "settings countdown show")
    fields = {f["name"]: f["value"] for f in show.embeds[0]["fields"]}
    assert f"<t:{tomorrow}:F>" in fields["Next post"]  # what the confirmation said
    assert any("day:2026-11-25" in r.getMessage() and "already had its post" in r.getMessage() for r in caplog.records)

    await tick(h, dt.timedelta(minutes=25))  # 13:35 today: nothing, as promised
    assert len(messages(h, h.general)) == 1
    await tick(h, dt.timedelta(days=1))  # 13:35 tomorrow: the promised post
    assert await wait_until(lambda: len(messages(h, h.general)) == 2)
    assert [key for key, _, _ in await read_with(h.bot.store, repo.fetch_ledger, h.guild.id)] == [
        "day:2026-11-25",
        "day:2026-11-26",
    ]


@pytest.mark.both_stores
async def test_a_post_that_failed_for_good_is_tried_again_when_the_moderator_resets_the_same_day(harness: Any) -> None:
    h = harness
    await set_daily(h)
    h.guild.set_bot_overwrite(h.general, deny=int(Permission.SEND_MESSAGES))
    channel = h.bot.get_channel(h.general.id)
    assert await wait_until(lambda: not channel.permissions_for(channel.guild.me).send_messages)
    await tick(h, dt.timedelta(hours=1))  # 13:00: refused, nothing posted
    assert [state for _, state, _ in await read_with(h.bot.store, repo.fetch_ledger, h.guild.id)] == ["failed"]

    h.guild.set_bot_overwrite(h.general, allow=0, deny=0)
    assert await wait_until(lambda: channel.permissions_for(channel.guild.me).send_messages)
    h.clock.advance(dt.timedelta(minutes=10))
    moved = await set_daily(h, time="13:30")
    today = int(dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC).timestamp())
    assert f"<t:{today}:F>" in moved.content  # nothing was posted today, so today it is
    await tick(h, dt.timedelta(minutes=20))
    assert await wait_until(lambda: len(messages(h, h.general)) == 1)
    assert [state for _, state, _ in await read_with(h.bot.store, repo.fetch_ledger, h.guild.id)] == ["sent"]


@pytest.mark.both_stores
async def test_a_slot_missed_while_down_is_posted_once_if_less_than_an_hour_late(harness: Any) -> None:
    h = harness
    await set_daily(h)
    await h.stop(kill=True)
    h.clock.advance(dt.timedelta(hours=1, minutes=40))  # 13:40: 40 minutes late
    await h.start()
    await tick(h)
    assert await wait_until(lambda: len(messages(h, h.general)) == 1)
    await tick(h)
    assert len(messages(h, h.general)) == 1


@pytest.mark.both_stores
async def test_a_slot_missed_by_an_hour_or_more_is_skipped_and_logged(
    harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    await set_daily(h)
    await h.stop()
    h.clock.advance(dt.timedelta(hours=2))  # 14:00: an hour late
    await h.start()
    await tick(h)
    assert messages(h, h.general) == []
    assert any("skipped" in r.getMessage() and "day:2026-11-25" in r.getMessage() for r in caplog.records)
    show = await h.slash(h.moderator, h.general, "settings countdown show")
    due = int(dt.datetime(2026, 11, 26, 13, tzinfo=dt.UTC).timestamp())
    assert f"<t:{due}:F>" in show.embeds[0]["fields"][3]["value"]


@pytest.mark.both_stores
async def test_a_crash_right_after_sending_does_not_post_twice(harness: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    await set_daily(h)
    reported = asyncio.Event()

    async def crash_before_recording(*args: Any, **kwargs: Any) -> None:
        reported.set()
        await asyncio.Event().wait()  # the process "dies" here: the send is never recorded

    # The extension's modules are re-imported by every bot start: patch the loaded one.
    monkeypatch.setattr(importlib.import_module("cogs.countdown.repo"), "mark_sent", crash_before_recording)
    h.clock.advance(dt.timedelta(hours=1))
    h.bot.scheduler.wake()
    await asyncio.wait_for(reported.wait(), 5)
    assert len(messages(h, h.general)) == 1
    monkeypatch.undo()

    await h.restart(kill=True)
    await tick(h)
    sends = [r for r in h.fake.requests if r.method == "POST" and r.path.endswith(f"/channels/{h.general.id}/messages")]
    assert len(sends) == 2  # resent once at start-up...
    nonce = slot_nonce(h.guild.id, "day:2026-11-25")
    assert [(r.body["nonce"], r.body["enforce_nonce"]) for r in sends] == [(nonce, True)] * 2  # ...under the same nonce
    ledger = await read_with(h.bot.store, repo.fetch_ledger, h.guild.id)
    assert ledger == [("day:2026-11-25", "sent", int(messages(h, h.general)[-1]["id"]))]
    assert len(messages(h, h.general)) == 1  # Discord returned the message it already had


@pytest.mark.both_stores
async def test_edit_mode_keeps_one_message_and_replaces_it_when_deleted(harness: Any) -> None:
    h = harness
    await set_daily(h, mode="edit")
    await tick(h, dt.timedelta(hours=1))
    assert await wait_until(lambda: len(messages(h, h.general)) == 1)
    first = messages(h, h.general)[0]
    await tick(h, dt.timedelta(days=1))
    assert await wait_until(lambda: "**36 days**" in text_of(messages(h, h.general)[0]))
    assert [m["id"] for m in messages(h, h.general)] == [first["id"]]

    await h.fake.user_deletes_message(h.general, first)
    await tick(h, dt.timedelta(days=1))
    assert await wait_until(lambda: len(messages(h, h.general)) == 1)
    assert messages(h, h.general)[0]["id"] != first["id"]
    assert "**35 days**" in text_of(messages(h, h.general)[0])


@pytest.mark.both_stores
async def test_three_failed_posts_pause_the_schedule_and_show_says_why(harness: Any) -> None:
    h = harness
    await set_daily(h)
    h.guild.set_bot_overwrite(h.general, deny=int(Permission.SEND_MESSAGES))
    channel = h.bot.get_channel(h.general.id)
    assert await wait_until(lambda: not channel.permissions_for(channel.guild.me).send_messages)
    await tick(h, dt.timedelta(hours=1))
    for _ in range(2):
        await tick(h, dt.timedelta(days=1))
    assert messages(h, h.general) == []
    show = await h.slash(h.moderator, h.general, "settings countdown show")
    fields = {f["name"]: f["value"] for f in show.embeds[0]["fields"]}
    assert "Paused after 3 failed posts" in fields["Next post"]
    assert "Send Messages" in fields["Last error"]
    ledger = await read_with(h.bot.store, repo.fetch_ledger, h.guild.id)
    assert [state for _, state, _ in ledger] == ["failed"] * 3

    await tick(h, dt.timedelta(days=1))
    assert len(await read_with(h.bot.store, repo.fetch_ledger, h.guild.id)) == 3  # paused: no more attempts


@pytest.mark.both_stores
async def test_transient_errors_are_retried_under_the_same_nonce(harness: Any) -> None:
    h = harness
    await set_daily(h)
    h.fake.inject("POST", rf"/channels/{h.general.id}/messages", status=503)  # discord.py does not retry a 503
    await tick(h, dt.timedelta(hours=1))
    assert messages(h, h.general) == []
    show = await h.slash(h.moderator, h.general, "settings countdown show")
    assert "Discord was unavailable" in {f["name"]: f["value"] for f in show.embeds[0]["fields"]}["Last error"]
    await tick(h, dt.timedelta(seconds=5))
    assert await wait_until(lambda: len(messages(h, h.general)) == 1)
    nonces = {
        r.body["nonce"] for r in h.fake.requests if r.method == "POST" and r.path.endswith(f"{h.general.id}/messages")
    }
    assert nonces == {slot_nonce(h.guild.id, "day:2026-11-25")}


@pytest.mark.both_stores
async def test_a_post_still_rate_limited_after_discord_pys_retries_is_retried_not_failed(harness: Any) -> None:
    """Processes over their share of the global limit: the post waits, it is not lost or paused."""
    h = harness
    await set_daily(h)
    # discord.py tries a request 5 times, sleeping out each 429, then raises the last.
    h.fake.inject("POST", rf"/channels/{h.general.id}/messages", status=429, retry_after=0.01, global_=True, times=5)
    await tick(h, dt.timedelta(hours=1))
    assert messages(h, h.general) == []
    # discord.py sleeps out each 429 on the real clock before it gives up: wait for the failure.
    for _ in range(100):
        show = await h.slash(h.moderator, h.general, "settings countdown show")
        fields = {f["name"]: f["value"] for f in show.embeds[0]["fields"]}
        if "Last error" in fields:
            break
        await asyncio.sleep(0.05)
    assert "rate limit" in fields["Last error"]
    await tick(h, dt.timedelta(seconds=5))
    assert await wait_until(lambda: len(messages(h, h.general)) == 1)
    assert [state for _, state, _ in await read_with(h.bot.store, repo.fetch_ledger, h.guild.id)] == ["sent"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"time": "25:99"}, '"25:99" is not a time I can use'),
        ({"time": "7pm"}, '"7pm" is not a time I can use'),
        ({"timezone": "Mars/Olympus"}, '"Mars/Olympus" is not a time zone I know'),
    ],
)
async def test_bad_settings_are_refused_and_nothing_is_saved(
    harness: Any, options: dict[str, Any], expected: str
) -> None:
    h = harness
    values = {"channel": h.general, "time": "09:00", "timezone": "UTC", "cadence": "daily", "mode": "post", **options}
    rec = await h.slash(h.moderator, h.general, "settings countdown set", **values)
    assert rec.ephemeral
    assert expected in rec.content
    assert "nothing was saved" in rec.content
    assert await read_with(h.bot.store, repo.fetch_schedule, h.guild.id) is None


async def test_a_channel_the_bot_cannot_post_in_names_the_missing_permission(harness: Any) -> None:
    h = harness
    h.guild.set_bot_overwrite(h.in_category, deny=int(Permission.EMBED_LINKS))
    channel = h.bot.get_channel(h.in_category.id)
    assert await wait_until(lambda: not channel.permissions_for(channel.guild.me).embed_links)
    rec = await h.slash(
        h.moderator,
        h.general,
        "settings countdown set",
        channel=h.in_category,
        time="09:00",
        timezone="UTC",
        cadence="daily",
        mode="post",
    )
    assert rec.ephemeral
    assert "I'm missing Embed Links there" in rec.content
    assert await read_with(h.bot.store, repo.fetch_schedule, h.guild.id) is None


async def test_members_cannot_change_countdown_settings_even_if_the_server_allows_the_command(harness: Any) -> None:
    h = harness
    h.fake.override_command_permissions(h.guild, "settings", allow_everyone=True)
    rec = await h.slash(
        h.member,
        h.general,
        "settings countdown set",
        channel=h.general,
        time="09:00",
        timezone="UTC",
        cadence="daily",
        mode="post",
    )
    assert rec.ephemeral
    assert "Manage Server" in rec.content
    assert await read_with(h.bot.store, repo.fetch_schedule, h.guild.id) is None


async def test_timezone_autocomplete_offers_iana_names(harness: Any) -> None:
    h = harness
    choices = await h.autocomplete(h.moderator, h.general, "settings countdown set", focused="timezone", value="seoul")
    assert [c["value"] for c in choices] == ["Asia/Seoul"]


@pytest.mark.both_stores
async def test_an_owner_confirms_a_date_and_every_scheduled_server_hears_it(harness: Any) -> None:
    h = harness
    await set_daily(h)
    rec = await h.slash(
        h.owner,
        h.general,
        "release update",
        window="2027-03-14",
        confidence="confirmed",
        source="https://about.netflix.com/en/news/aoaad-s2",
    )
    assert rec.ephemeral
    assert "Release information updated" in rec.content
    assert "1 server with" in rec.content
    await tick(h)
    assert await wait_until(lambda: len(messages(h, h.general)) == 1)
    announced = text_of(messages(h, h.general)[0])
    assert "The release information changed" in announced
    assert "Confirmed by Netflix" in announced
    assert "**109 days** to go until Season 2" in announced

    await h.restart()  # the owner's update survives: the pack's entry is older
    countdown = await h.slash(h.member, h.general, "countdown")
    assert "**109 days** to go" in countdown.embeds[0]["description"]
    await tick(h)
    assert len(messages(h, h.general)) == 1  # announced once
    history = await h.slash(h.member, h.general, "countdown", history=True)
    assert history.embeds[0]["description"].count("Source:") == 2


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"window": "2026-11-24"}, "That window ended on November 24, 2026, before today (November 25, 2026)"),
        ({"window": "2027-03-31..2027-01-01"}, "The window ends (January 1, 2027) before it starts (March 31, 2027)"),
        ({"window": "sometime"}, 'I can\'t read "sometime" as a date or window'),
        ({"source_date": "2027-01-01"}, "lies in the future"),
    ],
)
async def test_bad_owner_updates_are_refused_and_nothing_is_saved(
    harness: Any, options: dict[str, Any], expected: str
) -> None:
    h = harness
    values = {"window": "2027-03-14", "confidence": "confirmed", "source": "Netflix Tudum", **options}
    rec = await h.slash(h.owner, h.general, "release update", **values)
    assert rec.ephemeral
    assert expected in rec.content
    assert len(await read_with(h.bot.store, repo.fetch_history)) == 1


async def test_a_non_owner_cannot_update_the_release(harness: Any) -> None:
    h = harness
    rec = await h.slash(
        h.moderator, h.general, "release update", window="2027-03-14", confidence="confirmed", source="trust me"
    )
    assert rec.ephemeral
    assert "Only the bot's owners" in rec.content
    assert len(await read_with(h.bot.store, repo.fetch_history)) == 1


async def test_release_update_is_registered_only_in_admin_guilds(harness: Any) -> None:
    h = harness
    names = {(scope, c["name"]) for scope, payload in h.fake.command_syncs for c in payload}
    assert (h.guild.id, "release") in names
    assert (None, "release") not in names
    assert (None, "countdown") in names


@pytest.mark.both_stores
async def test_a_post_still_failing_after_the_nonce_grace_is_given_up_not_resent(harness: Any) -> None:
    h = harness
    await set_daily(h)
    h.fake.inject("POST", rf"/channels/{h.general.id}/messages", status=503, times=10)
    await tick(h, dt.timedelta(hours=1))
    for wait in (5, 15, 45):  # the retries, each failing again
        await tick(h, dt.timedelta(seconds=wait))
    ledger = await read_with(h.bot.store, repo.fetch_ledger, h.guild.id)
    assert ledger == [("day:2026-11-25", "abandoned", None)]
    attempts = [r for r in h.fake.requests if r.method == "POST" and r.path.endswith(f"{h.general.id}/messages")]
    assert len(attempts) == 4
    await tick(h, dt.timedelta(minutes=5))
    assert len([r for r in h.fake.requests if r.method == "POST" and r.path.endswith(f"{h.general.id}/messages")]) == 4


async def test_countdown_cards_follow_the_day_and_the_record_whatever_was_shown_before(harness: Any) -> None:
    """The cog keeps rendered cards: a new day and a new record each get their own."""
    h = harness
    first = text_of({"embeds": (await h.slash(h.member, h.general, "countdown")).embeds})
    assert "**37 days**" in first
    h.clock.advance(dt.timedelta(days=1))
    assert "**36 days**" in text_of({"embeds": (await h.slash(h.member, h.general, "countdown")).embeds})
    rec = await h.slash(
        h.owner, h.general, "release update", window="2027-03-14", confidence="confirmed", source="Netflix Tudum"
    )
    assert rec.ephemeral, rec.content
    updated = text_of({"embeds": (await h.slash(h.member, h.general, "countdown")).embeds})
    assert "**108 days** to go" in updated  # 2026-11-26 to the confirmed 2027-03-14


@pytest.mark.both_stores
async def test_a_change_another_process_records_shows_in_countdown_once_the_scheduler_has_seen_it(
    harness: Any, store_url: str
) -> None:
    """/countdown's record is remembered (bot/store/memo.py); the scheduler's own look at the
    store forgets it when it finds a version another process recorded, so /countdown shows
    the version before its news can be posted here, without waiting for the memory to expire."""
    h = harness
    await set_daily(h)
    assert "**37 days**" in text_of({"embeds": (await h.slash(h.member, h.general, "countdown")).embeds})
    other = await Store.open(store_url)  # another process of the same cluster
    try:
        await repo.record_change(other, record_version("owner", "2027-03-14", dt.date(2026, 11, 20)), h.clock(), keep)
    finally:
        await other.close()
    await tick(h)
    updated = text_of({"embeds": (await h.slash(h.member, h.general, "countdown")).embeds})
    assert "**109 days** to go" in updated  # 2026-11-25 to the confirmed 2027-03-14
