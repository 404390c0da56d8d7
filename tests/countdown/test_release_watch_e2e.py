"""The release watch through the real bot, the local Discord and a local TVmaze (real HTTP),
on the harness's clock: proposals, the owners' buttons, once-only, and TVmaze's failures.

The proposals go to #episode-talk of the harness's server (an admin guild); the countdown
posts, and so the release news, to #general. The same story on the real clock, with real
processes, is in tests/process/test_release_watch_process.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import pytest

from cogs.countdown import repo
from cogs.countdown.proposals import ReleaseWatch
from cogs.countdown.repo import findings
from cogs.countdown.watch import Finding
from localdiscord import wait_until
from localdiscord.state import TEXT
from tests.support.countdown import messages, set_daily, text_of
from tests.support.metrics import watch_looks
from tests.support.stores import read_with
from tests.support.tvmaze import SHOW_ID, LocalTvmaze

MARCH_14 = dt.date(2027, 3, 14)
AIRS = dt.datetime(2027, 3, 14, 8, tzinfo=dt.UTC)
PROPOSAL_BUTTON = re.compile(r"countdown:watch:(confirmed|estimated|dismissed):(\d+)")
WATCH_LOG = "cogs.countdown.proposals"


async def watching(h: Any, tv: LocalTvmaze, *, kill: bool = False, **settings: Any) -> ReleaseWatch:
    """Restart the bot with the watch on; returns the watch once its first look has ended."""
    await h.restart(
        kill=kill,
        release_watch_tvmaze_id=SHOW_ID,
        release_watch_channel_id=settings.pop("channel", h.in_category).id,
        tvmaze_api_url=tv.url,
        release_watch_start_jitter=0.0,
        tvmaze_timeout=1.0,
        **settings,
    )
    watch = h.bot.get_cog("CountdownCog").watch
    assert watch is not None
    assert await wait_until(lambda: watch.looks >= 1, timeout=10), "no first look after READY"
    return watch


async def look_after(h: Any, watch: ReleaseWatch, seconds: float) -> bool:
    """Move the clock by ``seconds`` and let the scheduler run: whether the watch looked."""
    before = watch.looks
    await h.run_scheduler(dt.timedelta(seconds=seconds))
    await wait_until(lambda: watch.looks > before, timeout=3)
    await watch.idle()
    return watch.looks > before


def proposals(h: Any) -> list[dict[str, Any]]:
    return messages(h, h.in_category)


def button(message: dict[str, Any], decision: str) -> str:
    ids = [c["custom_id"] for row in message.get("components") or [] for c in row["components"]]
    return next(i for i in ids if i.startswith(f"countdown:watch:{decision}:"))


def watch_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == WATCH_LOG and r.levelno == logging.WARNING]


async def test_a_new_tvmaze_date_is_proposed_and_an_owners_click_records_and_announces_it(
    harness: Any, tv: LocalTvmaze
) -> None:
    h = harness
    await set_daily(h)
    tv.announce(MARCH_14, AIRS)
    await watching(h, tv)

    [proposal] = proposals(h)
    shown = text_of(proposal)
    assert "Release watch: TVmaze lists a premiere for Season 2" in shown
    assert f"TVmaze says: March 14, 2027; the first episode at <t:{int(AIRS.timestamp())}:F>" in shown
    assert re.search(r"The record says: \*\*early 2027\*\* \(the source gives no dates; the bot reads it as <t:\d+:D> – <t:\d+:D>\), "
        r"Estimated, not confirmed by Netflix", shown)
    assert f"Source: [TVmaze](https://www.tvmaze.com/shows/{SHOW_ID}), retrieved November 25, 2026" in shown
    labels = [c["label"] for row in proposal["components"] for c in row["components"]]
    assert labels == ["Record as confirmed", "Record as estimated", "Dismiss"]
    assert {r.path for r in tv.requests} == {f"/shows/{SHOW_ID}/seasons", "/seasons/160001/episodes"}
    assert all(r.user_agent.startswith("hyosan-bot/") for r in tv.requests)

    refused = await h.click(h.member, h.in_category, proposal, button(proposal, "confirmed"))
    assert refused.ephemeral
    assert "Only the bot's owners can decide" in refused.content
    assert len(await read_with(h.bot.store, repo.fetch_history)) == 1

    recorded = await h.click(h.owner, h.in_category, proposal, button(proposal, "confirmed"))
    assert not recorded.ephemeral, recorded.content
    decided = h.fake.get_message(int(proposal["id"]))
    assert decided is not None
    assert not decided.get("components"), "the buttons are gone once decided"
    assert f"Decision: Recorded as confirmed by <@{h.owner.id}>; announced in 1 server" in text_of(decided)
    current = (await read_with(h.bot.store, repo.fetch_history))[0]
    assert (current.window.precision, current.window.start, current.confidence) == ("day", MARCH_14, "confirmed")
    assert (current.source_title, current.source_url) == ("TVmaze", f"https://www.tvmaze.com/shows/{SHOW_ID}")
    assert (current.changed_by, current.source_date) == (h.owner.id, dt.date(2026, 11, 25))

    await h.run_scheduler()
    [news] = messages(h, h.general)
    assert "The release information changed" in text_of(news)
    assert "Confirmed by Netflix" in text_of(news)


@pytest.mark.both_stores
async def test_a_finding_is_proposed_once_and_a_dismissed_one_stays_dismissed_until_tvmaze_changes(
    harness: Any, tv: LocalTvmaze
) -> None:
    h = harness
    tv.announce(MARCH_14)
    watch = await watching(h, tv)
    assert len(proposals(h)) == 1

    watch = await watching(h, tv, kill=True)  # a crash and a new start look again: nothing new
    assert tv.looks() == 2
    assert len(proposals(h)) == 1
    first = proposals(h)[0]
    dismissed = await h.click(h.owner, h.in_category, first, button(first, "dismissed"))
    assert not dismissed.ephemeral, dismissed.content
    assert "Dismissed by" in text_of(h.fake.get_message(int(first["id"])) or {})

    watch = await watching(h, tv)
    assert await look_after(h, watch, 6 * 3600)  # the next look, an interval later
    assert tv.looks() == 4
    assert len(proposals(h)) == 1, "a dismissed finding is not proposed again"
    [row] = await read_with(h.bot.store, findings.fetch_findings)
    assert (row.state, row.decided_by) == ("dismissed", h.owner.id)

    tv.announce(MARCH_14, AIRS)  # TVmaze adds the time: a new finding
    assert await look_after(h, watch, 6 * 3600)
    tv.announce(dt.date(2027, 3, 21))  # and then moves the date
    assert await look_after(h, watch, 6 * 3600)
    assert len(proposals(h)) == 3
    older, newest = proposals(h)[1:]
    late = await h.click(h.owner, h.in_category, older, button(older, "estimated"))
    assert late.ephemeral
    assert "TVmaze has changed its date since this proposal" in late.content
    estimated = await h.click(h.owner, h.in_category, newest, button(newest, "estimated"))
    assert "Recorded as estimated" in text_of(h.fake.get_message(int(newest["id"])) or {}), estimated.content
    history = await read_with(h.bot.store, repo.fetch_history)
    assert [(r.window.start, r.confidence) for r in history[:1]] == [(dt.date(2027, 3, 21), "estimated")]
    states = [f.state for f in await read_with(h.bot.store, findings.fetch_findings)]
    assert states == ["dismissed", "superseded", "estimated"]


async def test_tvmaze_failing_is_never_proposed_logged_once_per_trouble_and_looked_at_again_later(
    harness: Any, tv: LocalTvmaze, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.INFO, logger=WATCH_LOG)
    tv.announce(MARCH_14)
    tv.fail("html", times=2)  # an error page instead of JSON, twice
    watch = await watching(h, tv, release_watch_retry_seconds=60.0)
    assert not await look_after(h, watch, 59)  # the retry waits its 60 s
    assert await look_after(h, watch, 1)
    assert tv.looks() == 2
    assert watch_warnings(caplog) == [
        "release watch: TVmaze's answer is not usable (text/html instead of JSON for /shows/43387/seasons); "
        "nothing proposed, trying again in 60 s"
    ]

    tv.fail("missing_fields", times=1)
    assert await look_after(h, watch, 120)  # each failure in a row doubles the wait: 60, 120, 240 s...
    tv.fail("bad_date", times=1)
    assert await look_after(h, watch, 240)
    tv.fail("server_error", times=2)
    assert await look_after(h, watch, 480)
    assert not await look_after(h, watch, 959)
    assert await look_after(h, watch, 1)
    tv.fail("slow", times=1)  # slower than TVMAZE_TIMEOUT (1 s)
    assert await look_after(h, watch, 1920)
    tv.fail("rate_limited", times=1, retry_after=7)  # 429: TVmaze's Retry-After, not the doubling
    assert await look_after(h, watch, 3840)
    assert proposals(h) == []
    assert not await look_after(h, watch, 6)
    assert await look_after(h, watch, 1)  # it answers now

    assert len(proposals(h)) == 1
    assert watch_warnings(caplog)[1:] == [
        "release watch: TVmaze's answer is not usable (a season without 'number'); nothing proposed, trying again in 240 s",
        "release watch: TVmaze's answer is not usable (a season's premiereDate is not a date: '2027-02-30'); "
        "nothing proposed, trying again in 480 s",
        "release watch: TVmaze is unavailable (server_error (HTTP 500)); trying again in 960 s (logged once until it answers)",
        "release watch: TVmaze is unavailable (timeout (no answer within 1 s)); trying again in 3840 s "
        "(logged once until it answers)",
        "release watch: TVmaze is unavailable (rate_limited (HTTP 429)); trying again in 7 s (logged once until it answers)",
    ]
    assert [r.getMessage() for r in caplog.records if "answers usefully again" in r.getMessage()] == [
        "release watch: TVmaze answers usefully again"
    ]
    assert not await look_after(h, watch, 6 * 3600 - 1)  # back to the interval
    assert await look_after(h, watch, 1)
    # Each look counted by what it came to, as an operator's dashboard would see them.
    assert watch_looks(h.bot.metrics) == {"unusable": 4, "unavailable": 4, "proposed": 1, "known": 1}


async def test_a_proposals_channel_outside_the_admin_guilds_gets_nothing_and_is_logged_once(
    harness: Any, tv: LocalTvmaze, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    other = h.fake.add_guild("Another Server")
    elsewhere = other.add_channel("proposals", TEXT)
    tv.announce(MARCH_14)
    caplog.set_level(logging.INFO, logger=WATCH_LOG)
    watch = await watching(h, tv, channel=elsewhere)
    assert await look_after(h, watch, 6 * 3600)
    assert h.fake.channel_messages(elsewhere) == []
    assert proposals(h) == []
    assert [m for m in watch_warnings(caplog) if "RELEASE_WATCH_CHANNEL_ID" in m] == [
        f"release watch: RELEASE_WATCH_CHANNEL_ID {elsewhere.id} is not a text channel of ADMIN_GUILD_IDS; nothing proposed"
    ]
    assert await read_with(h.bot.store, findings.fetch_findings) == [], "nothing claimed: proposed once the channel is fixed"


async def test_a_korean_admin_server_gets_the_proposal_and_its_answers_in_korean(harness: Any, tv: LocalTvmaze) -> None:
    h = harness
    chosen = await h.slash(h.moderator, h.general, "settings language set", language="ko")
    assert chosen.ephemeral, chosen.content
    tv.announce(MARCH_14)
    await watching(h, tv)
    [proposal] = proposals(h)
    shown = text_of(proposal)
    assert "공개일 감시: TVmaze에 시즌 2 첫 공개일이 올라왔습니다" in shown
    assert "TVmaze 정보: 2027년 3월 14일" in shown
    assert "2026년 11월 25일에 가져옴" in shown
    assert "2027-03-14" not in shown
    assert "2026-11-25" not in shown
    labels = [c["label"] for row in proposal["components"] for c in row["components"]]
    assert labels == ["확정으로 기록", "추정으로 기록", "무시"]
    refused = await h.click(h.member, h.in_category, proposal, button(proposal, "dismissed"), locale="ko")
    assert refused.content == "봇 소유자만 공개일 감시 제안을 결정할 수 있습니다."
    await h.click(h.owner, h.in_category, proposal, button(proposal, "dismissed"), locale="ko")
    decided = text_of(h.fake.get_message(int(proposal["id"])) or {})
    assert f"결정: <@{h.owner.id}> 님이 무시했습니다." in decided


async def test_a_proposal_discord_refuses_is_not_lost_but_proposed_at_the_next_look(
    harness: Any, tv: LocalTvmaze, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.INFO, logger=WATCH_LOG)
    h.fake.inject("POST", rf"/channels/{h.in_category.id}/messages", status=403, times=2)
    tv.announce(MARCH_14)
    watch = await watching(h, tv)
    assert await look_after(h, watch, 6 * 3600)
    assert proposals(h) == []
    assert await read_with(h.bot.store, findings.fetch_findings) == [], "the claim is given back"
    refusals = [m for m in watch_warnings(caplog) if "could not post the proposal" in m]
    assert len(refusals) == 1, refusals
    assert await look_after(h, watch, 6 * 3600)
    assert len(proposals(h)) == 1
    assert [r.getMessage() for r in caplog.records if "proposals can be posted again" in r.getMessage()] == [
        "release watch: proposals can be posted again"
    ]


@pytest.mark.both_stores
async def test_a_finding_claimed_by_a_process_that_died_before_posting_is_posted_once_its_claim_is_stale(
    harness: Any, tv: LocalTvmaze
) -> None:
    h = harness
    tv.announce(MARCH_14)
    dead = await findings.claim(h.store, Finding(SHOW_ID, 2, MARCH_14, None, h.clock.now(), None), h.clock.now())
    assert dead is not None  # claimed, then the process was killed before it posted
    watch = await watching(h, tv)
    assert proposals(h) == []
    assert not await look_after(h, watch, 124)  # the claim is stale after 120 s; the watch looks 5 s later
    assert await look_after(h, watch, 1)
    assert len(proposals(h)) == 1
    [row] = await read_with(h.bot.store, findings.fetch_findings)
    assert (row.id, row.state) == (dead.id, "proposed")
    assert not await look_after(h, watch, 6 * 3600 - 1)  # then back to the interval


async def test_the_first_look_comes_within_the_start_jitter_after_ready(harness: Any, tv: LocalTvmaze) -> None:
    h = harness
    tv.announce(MARCH_14)
    await h.restart(
        release_watch_tvmaze_id=SHOW_ID,
        release_watch_channel_id=h.in_category.id,
        tvmaze_api_url=tv.url,
        release_watch_start_jitter=30.0,
    )
    watch = h.bot.get_cog("CountdownCog").watch
    assert watch is not None
    await h.run_scheduler()
    assert (watch.looks, tv.looks()) == (0, 0), "not at once: a random 0..30 s after READY"
    assert await look_after(h, watch, 30)
    assert len(proposals(h)) == 1
