"""Polls end to end: the real bot and store against the fake Discord.

The story: a fan asks "Who returns in season 2?"; members vote with buttons, change
their minds and take votes back; the message follows the tally a few seconds
behind, never once per click; the poll closes at its deadline (also when the bot
was down then) or when its creator or a moderator closes it, and the results are
posted with a winner. Votes survive a crash, buttons keep working after a restart,
and every bad input gets a private explanation with nothing half-created.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

import discord
import pytest
from sqlalchemy import func, select

from bot.store import Store
from bot.store.schema import poll_votes
from bot.store.schema import polls as polls_table
from cogs.polls.cog import ACK_SLOW_VOTE_AFTER
from localdiscord.interactions import DEFERRED_CHANNEL_MESSAGE
from localdiscord.state import Channel
from tests.support.harness import Harness
from tests.support.polls import (
    OPTIONS,
    QUESTION,
    create,
    current,
    embed_text,
    poll_count,
    poll_id_of,
    poll_messages,
    polls,
    stored_votes,
    vote,
    vote_ids,
)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


async def wait_for_tally(h: Harness, message: dict[str, Any], text: str, within: float = 3.0) -> dict[str, Any]:
    """Wait until the poll message (as edited by the refresher) shows ``text``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        shown = current(h, message)
        if text in embed_text(shown):
            return shown
        if loop.time() > deadline:
            raise AssertionError(f"{text!r} never appeared in {embed_text(shown)!r}")
        await asyncio.sleep(0.02)


def edits_of(h: Harness, message: dict[str, Any]) -> int:
    path = f"/channels/{message['channel_id']}/messages/{message['id']}"
    return sum(1 for r in h.fake.requests if r.method == "PATCH" and r.path.endswith(path))


def results_posts(h: Harness, channel: Channel) -> list[dict[str, Any]]:
    return [m for m in h.fake.channel_messages(channel.id) if m.get("message_reference")]


# -- creating ---------------------------------------------------------------------------


async def test_a_fan_creates_a_poll_and_its_message_shows_question_options_tally_creator_and_deadline(
    h: Harness,
) -> None:
    record, message = await create(h, duration="2h")
    assert "Poll #1 is up" in record.followups[0]["content"]
    text = embed_text(message)
    assert "Who returns in season 2?" in text
    for option in ("On\\-jo", "Su\\-hyeok", "Nam\\-ra"):
        assert option in text
    assert "0 voted" in text
    assert f"<@{h.member.id}>" in text
    deadline = int((h.clock.now() + timedelta(hours=2)).timestamp())
    assert f"<t:{deadline}:R>" in text
    assert [b["label"] for b in buttons(message)] == ["On-jo", "Su-hyeok", "Nam-ra"]
    assert vote_ids(message) == ["poll:vote:1:0", "poll:vote:1:1", "poll:vote:1:2"]
    assert message["mentions"] == []
    assert not message["mention_everyone"]


async def test_twenty_options_make_four_rows_of_five_buttons(h: Harness) -> None:
    options = " | ".join(f"Choice {n} " + "x" * 60 for n in range(20))
    _, message = await create(h, options=options, max_choices=20)
    rows = message["components"]
    assert [len(row["components"]) for row in rows] == [5, 5, 5, 5]
    assert all(len(b["label"]) <= 80 for b in buttons(message))


# -- voting -----------------------------------------------------------------------------


@pytest.mark.both_stores
async def test_a_click_votes_a_second_click_elsewhere_moves_and_the_same_click_retracts(h: Harness) -> None:
    _, message = await create(h)
    poll_id = poll_id_of(message)

    first = await vote(h, h.member, message, 0)
    assert "Your vote for **1.** On\\-jo is counted." in first.content
    assert "Your choices: **1.** On\\-jo" in first.content
    assert await stored_votes(h, poll_id) == {(h.member.id, 0)}

    moved = await vote(h, h.member, message, 2)
    assert "moved your vote from **1.** On\\-jo to **3.** Nam\\-ra" in moved.content
    assert await stored_votes(h, poll_id) == {(h.member.id, 2)}

    retracted = await vote(h, h.member, message, 2)
    assert "took back your vote for **3.** Nam\\-ra" in retracted.content
    assert "You have no vote in this poll now." in retracted.content
    assert await stored_votes(h, poll_id) == set()

    await vote(h, h.member2, message, 1)
    shown = await wait_for_tally(h, message, "**2.** Su\\-hyeok · **1** (100%)")
    assert "1 voted" in embed_text(shown)


@pytest.mark.both_stores
async def test_with_two_choices_a_third_is_refused_with_a_clear_message(h: Harness) -> None:
    _, message = await create(h, max_choices=2)
    poll_id = poll_id_of(message)
    await vote(h, h.member, message, 0)
    second = await vote(h, h.member, message, 1)
    assert "Your choices: **1.** On\\-jo, **2.** Su\\-hyeok" in second.content
    refused = await vote(h, h.member, message, 2)
    assert "at most 2 options" in refused.content
    assert "Your choices: **1.** On\\-jo, **2.** Su\\-hyeok" in refused.content
    assert await stored_votes(h, poll_id) == {(h.member.id, 0), (h.member.id, 1)}
    shown = await wait_for_tally(h, message, "1 voted, 2 votes")
    assert "Pick up to 2" in embed_text(shown)


@pytest.mark.both_stores
async def test_simultaneous_clicks_of_one_member_never_make_a_double_vote(h: Harness) -> None:
    _, message = await create(h, max_choices=2)
    poll_id = poll_id_of(message)
    stored = current(h, message)
    records = [
        await h.fake.click(h.guild, h.general, h.member, stored, vote_ids(message)[i % 3], wait=False)
        for i in range(30)
    ]
    assert all([await r.wait_acknowledged() for r in records])
    votes = await stored_votes(h, poll_id)
    assert len(votes) <= 2
    async with h.bot.store.read() as conn:
        doubled = await conn.execute(
            select(func.count())
            .where(poll_votes.c.poll_id == poll_id)
            .group_by(poll_votes.c.user_id, poll_votes.c.option_index)
            .having(func.count() > 1)
        )
        assert doubled.all() == []


async def test_a_vote_is_answered_without_discord_py_rebuilding_the_poll_messages_view(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For a DynamicItem click discord.py rebuilds the message's whole view (issue 15: too
    costly per vote). "Reveal privately" on the same message is one, so the count can tell."""
    rebuilt: list[int] = []
    rebuild = discord.ui.View.from_message.__func__  # type: ignore[attr-defined]

    def counting_rebuild(
        cls: type[discord.ui.View], message: discord.Message, /, *, timeout: float | None = 180.0
    ) -> Any:
        rebuilt.append(message.id)
        return rebuild(cls, message, timeout=timeout)

    monkeypatch.setattr(discord.ui.View, "from_message", classmethod(counting_rebuild))
    _, message = await create(h, options="Cheong-san lives | Cheong-san dies", spoiler=True)
    poll_id = poll_id_of(message)

    answer = await vote(h, h.member, message, 1)
    assert "Your vote for **2.** ||Cheong\\-san dies|| is counted." in answer.content
    assert await stored_votes(h, poll_id) == {(h.member.id, 1)}
    assert rebuilt == []

    reveal = await h.click(h.member2, h.general, current(h, message), f"spoiler:reveal:poll:{poll_id}")
    assert reveal.ephemeral
    assert rebuilt == [int(message["id"])]


@pytest.mark.both_stores
async def test_a_burst_of_clicks_is_coalesced_into_few_edits_and_the_last_shows_the_exact_tally(
    h: Harness,
) -> None:
    polls(h).refresher.interval = 1.0
    _, message = await create(h)
    poll_id = poll_id_of(message)
    voters = [h.guild.add_member(name=f"fan-{n}") for n in range(40)]
    before = edits_of(h, message)
    stored = current(h, message)
    records = [
        await h.fake.click(h.guild, h.general, voter, stored, vote_ids(message)[n % 3], wait=False)
        for n, voter in enumerate(voters)
    ]
    assert all([await r.wait_acknowledged() for r in records])
    assert edits_of(h, message) - before <= 2, "the click path must not edit the message"
    shown = await wait_for_tally(h, message, "40 voted", within=4.0)
    assert edits_of(h, message) - before <= 3
    assert len(await stored_votes(h, poll_id)) == 40
    text = embed_text(shown)
    assert "On\\-jo · **14** (35%)" in text
    assert "Su\\-hyeok · **13** (33%)" in text
    assert "Nam\\-ra · **13** (32%)" in text


async def test_hidden_results_show_only_the_number_of_voters_until_the_poll_closes(h: Harness) -> None:
    _, message = await create(h, hide_results=True)
    poll_id = poll_id_of(message)
    await vote(h, h.member, message, 0)
    await vote(h, h.member2, message, 0)
    shown = await wait_for_tally(h, message, "2 voted")
    assert "**2**" not in embed_text(shown)
    assert "%" not in embed_text(shown)
    results = await h.slash(h.member2, h.general, "poll results", poll=str(poll_id))
    assert results.ephemeral
    assert "hidden until it closes" in embed_text({"embeds": results.embeds})
    assert "%" not in embed_text({"embeds": results.embeds})

    closing = await h.slash(h.member, h.general, "poll close", poll=str(poll_id))
    assert await closing.wait_followups()
    after = await h.slash(h.member2, h.general, "poll results", poll=str(poll_id))
    assert "On\\-jo · **2** (100%)" in embed_text({"embeds": after.embeds})


# -- exports ----------------------------------------------------------------------------


async def test_an_anonymous_poll_exports_only_counts_and_never_shows_voters(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="cogs")
    _, message = await create(h, member=h.moderator, anonymous=True)
    poll_id = poll_id_of(message)
    await vote(h, h.member, message, 1)
    await vote(h, h.member2, message, 1)
    record = await h.slash(h.moderator, h.general, "poll export", poll=str(poll_id))
    assert await record.wait_followups()
    followup = record.followups[0]
    assert followup["flags"] & 64
    [upload] = [u for u in h.fake.uploads.values() if u.filename == f"poll-{poll_id}-counts.csv"]
    table = list(csv.reader(io.StringIO(upload.data.decode())))
    assert table[0] == ["poll_id", "option_number", "option", "votes", "percent"]
    assert table[2] == [str(poll_id), "2", "Su-hyeok", "2", "100"]
    everything = upload.data.decode() + embed_text(current(h, message)) + caplog.text
    for voter in (h.member, h.member2):
        assert str(voter.id) not in everything


async def test_a_poll_that_is_not_anonymous_exports_one_row_per_vote(h: Harness) -> None:
    _, message = await create(h)
    poll_id = poll_id_of(message)
    await vote(h, h.member, message, 2)
    record = await h.slash(h.moderator, h.general, "poll export", poll=str(poll_id))
    assert await record.wait_followups()
    [upload] = [u for u in h.fake.uploads.values() if u.filename == f"poll-{poll_id}-votes.csv"]
    rows = list(csv.DictReader(io.StringIO(upload.data.decode())))
    assert [(r["user_id"], r["option"]) for r in rows] == [(str(h.member.id), "Nam-ra")]


async def test_a_member_without_manage_messages_cannot_export(h: Harness) -> None:
    _, message = await create(h)
    record = await h.slash(h.member, h.general, "poll export", poll=str(poll_id_of(message)))
    assert record.ephemeral
    assert "Manage Messages" in record.content
    assert not [u for u in h.fake.uploads.values() if u.filename.endswith(".csv")]


# -- closing ----------------------------------------------------------------------------


@pytest.mark.both_stores
async def test_the_poll_closes_by_itself_at_its_deadline_and_posts_the_results(h: Harness) -> None:
    _, message = await create(h, duration="30m")
    poll_id = poll_id_of(message)
    await vote(h, h.member, message, 1)
    await vote(h, h.member2, message, 1)
    await vote(h, h.moderator, message, 0)

    await h.run_scheduler(timedelta(minutes=29))
    assert not any(b.get("disabled") for b in buttons(current(h, message)))

    await h.run_scheduler(timedelta(minutes=1))
    final = current(h, message)
    assert all(b["disabled"] for b in buttons(final))
    assert "🏆 **2.** Su\\-hyeok · **2** (67%)" in embed_text(final)
    [posted] = results_posts(h, h.general)
    assert posted["message_reference"]["message_id"] == message["id"]
    assert f"Poll #{poll_id} has closed: its time is up." in posted["content"]
    text = embed_text(posted)
    assert "🏆 **2.** Su\\-hyeok · **2** (67%)" in text
    assert "**1.** On\\-jo · **1** (33%)" in text
    assert "`████████░░░░`" in text
    assert "Winner: Su\\-hyeok" in text


async def test_a_click_after_the_deadline_is_refused_even_before_the_poll_is_closed(h: Harness) -> None:
    _, message = await create(h, duration="30m")
    h.clock.advance(timedelta(minutes=31))  # the scheduler has not run yet
    record = await vote(h, h.member, message, 0)
    assert "This poll is closed" in record.content
    assert await stored_votes(h, poll_id_of(message)) == set()


@pytest.mark.both_stores
async def test_a_deadline_that_passed_while_the_bot_was_down_closes_the_poll_at_startup(h: Harness) -> None:
    _, message = await create(h, duration="1h")
    await vote(h, h.member, message, 0)
    await h.stop()
    h.clock.advance(timedelta(hours=3))
    await h.start()
    await h.settle(0.3)
    assert all(b["disabled"] for b in buttons(current(h, message)))
    [posted] = results_posts(h, h.general)
    assert "🏆 **1.** On\\-jo · **1** (100%)" in embed_text(posted)
    closed_at = int((h.clock.now() - timedelta(hours=2)).timestamp())
    assert f"<t:{closed_at}:f>" in embed_text(posted), "it closed at its deadline, not at startup"


async def test_the_creator_closes_the_poll_early(h: Harness) -> None:
    _, message = await create(h)
    poll_id = poll_id_of(message)
    await vote(h, h.member2, message, 2)
    record = await h.slash(h.member, h.general, "poll close", poll=str(poll_id))
    assert await record.wait_followups()
    assert f"Poll #{poll_id} is closed and its results are posted." in record.followups[0]["content"]
    assert all(b["disabled"] for b in buttons(current(h, message)))
    [posted] = results_posts(h, h.general)
    assert f"Poll #{poll_id} has been closed." in posted["content"]
    again = await h.slash(h.member, h.general, "poll close", poll=str(poll_id))
    assert "already closed" in again.content


async def test_a_moderator_may_close_someone_elses_poll_but_another_member_may_not(h: Harness) -> None:
    _, message = await create(h)
    poll_id = poll_id_of(message)
    refused = await h.slash(h.member2, h.general, "poll close", poll=str(poll_id))
    assert refused.ephemeral
    assert "Only the poll's creator or members with the Manage Messages permission" in refused.content
    assert not any(b.get("disabled") for b in buttons(current(h, message)))
    assert results_posts(h, h.general) == []

    closed = await h.slash(h.moderator, h.general, "poll close", poll=str(poll_id))
    assert await closed.wait_followups()
    assert all(b["disabled"] for b in buttons(current(h, message)))


async def test_closing_a_poll_whose_message_was_deleted_says_so_and_posts_nothing(h: Harness) -> None:
    _, message = await create(h)
    poll_id = poll_id_of(message)
    await h.fake.user_deletes_message(h.general, message)
    record = await h.slash(h.member, h.general, "poll close", poll=str(poll_id))
    assert await record.wait_followups()
    assert "its message was deleted" in record.followups[0]["content"]
    assert results_posts(h, h.general) == []
    async with h.bot.store.read() as conn:
        assert await conn.scalar(select(polls_table.c.announced).where(polls_table.c.id == poll_id)) is True


async def test_autocomplete_offers_this_guilds_open_polls_to_close_and_all_of_them_for_results(h: Harness) -> None:
    _, first = await create(h, question="Does Su-hyeok return?")
    _, second = await create(h, question="When does season 2 air?")
    done = await h.slash(h.member, h.general, "poll close", poll=str(poll_id_of(first)))
    assert await done.wait_followups()
    to_close = await h.autocomplete(h.member, h.general, "poll close", focused="poll", value="")
    assert [c["value"] for c in to_close] == [str(poll_id_of(second))]
    assert to_close[0]["name"] == "#2 · When does season 2 air?"
    for_results = await h.autocomplete(h.member, h.general, "poll results", focused="poll", value="su-hy")
    assert [c["value"] for c in for_results] == [str(poll_id_of(first))]


async def test_poll_list_shows_the_open_polls_of_this_guild(h: Harness) -> None:
    empty = await h.slash(h.member, h.general, "poll list")
    assert "no open polls" in empty.content
    await create(h, question="Does Su-hyeok return?", duration="1d")
    listed = await h.slash(h.member, h.general, "poll list")
    assert listed.ephemeral
    text = embed_text({"embeds": listed.embeds})
    assert "Open polls: 1" in text
    assert "Does Su\\-hyeok return?" in text
    assert "closes <t:" in text


# -- restarts -------------------------------------------------------------------------


@pytest.mark.both_stores
@pytest.mark.parametrize("kill", [False, True], ids=["clean restart", "crash"])
async def test_votes_survive_a_restart_and_the_old_buttons_keep_working(h: Harness, kill: bool) -> None:
    _, message = await create(h, duration="1d")
    poll_id = poll_id_of(message)
    await vote(h, h.member, message, 0)
    await vote(h, h.member2, message, 1)
    await wait_for_tally(h, message, "2 voted")  # in-process, a killed bot's refresher would linger
    await h.restart(kill=kill)
    polls(h).refresher.interval = 0.05
    assert await stored_votes(h, poll_id) == {(h.member.id, 0), (h.member2.id, 1)}

    again = await vote(h, h.member, message, 0)  # same option: retracts the stored vote
    assert "took back your vote" in again.content
    moved = await vote(h, h.member2, message, 2)
    assert "moved your vote from **2.** Su\\-hyeok to **3.** Nam\\-ra" in moved.content
    assert await stored_votes(h, poll_id) == {(h.member2.id, 2)}
    await wait_for_tally(h, message, "**3.** Nam\\-ra · **1** (100%)")


@pytest.mark.both_stores
async def test_a_crash_before_the_message_caught_up_is_repaired_at_startup(h: Harness) -> None:
    polls(h).refresher.interval = 60.0
    _, message = await create(h)
    await vote(h, h.member, message, 0)  # shown at once: the first edit after a quiet spell
    await wait_for_tally(h, message, "1 voted")
    await vote(h, h.member2, message, 1)  # waits for the interval, which the crash cuts short
    await h.restart(kill=True)
    await wait_for_tally(h, message, "2 voted")


# -- settings and bad input ------------------------------------------------------------


async def test_moderators_restrict_poll_creation_to_a_role_and_lift_it_again(h: Harness) -> None:
    role = h.guild.add_role("Pollsters", 0)
    set_role = await h.slash(h.moderator, h.general, "settings polls creator_role", role=role)
    assert "Pollsters" in set_role.content or f"<@&{role.id}>" in set_role.content

    refused = await h.slash(h.member, h.general, "poll create", question=QUESTION, options=OPTIONS)
    assert refused.ephemeral
    assert f"<@&{role.id}>" in refused.content
    assert poll_messages(h, h.general) == []
    assert await poll_count(h) == 0

    h.member.roles.append(role.id)
    await create(h)
    assert len(poll_messages(h, h.general)) == 1

    lifted = await h.slash(h.moderator, h.general, "settings polls creator_role")
    assert "Everyone can create polls again." in lifted.content
    await create(h, member=h.member2)
    assert len(poll_messages(h, h.general)) == 2


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"options": "Only one"}, "at least 2 options"),
        ({"options": " | ".join(f"o{n}" for n in range(21))}, "at most 20"),
        ({"options": "Yes | yes"}, "the same as option 1"),
        ({"options": "Yes | | No"}, "Option 2 is empty"),
        ({"options": "Yes | " + "n" * 81}, "Option 2 is 81 characters long"),
        ({"duration": "0m"}, "longer than zero"),
        ({"duration": "40d"}, "at most 31 days"),
        ({"duration": "soon"}, 'I don\'t understand the duration "soon"'),
        ({"max_choices": 0}, "at least 1"),
        ({"max_choices": 4}, "only 3 options"),
        ({"question": "@everyone who returns?"}, "@everyone or @here"),
        ({"question": "Who ||dies||?"}, "can't contain ||"),
    ],
)
async def test_bad_input_is_explained_privately_and_creates_nothing(
    h: Harness, options: dict[str, Any], expected: str
) -> None:
    record = await h.slash(h.member, h.general, "poll create", **{"question": QUESTION, "options": OPTIONS, **options})
    assert record.ephemeral
    assert expected in record.content
    assert poll_messages(h, h.general) == []
    assert await poll_count(h) == 0
    assert "@everyone" not in (record.data.get("allowed_mentions") or {}).get("parse", [])


@pytest.mark.both_stores
async def test_a_poll_that_cannot_be_posted_leaves_nothing_behind(h: Harness) -> None:
    from localdiscord import Permission

    h.guild.set_bot_overwrite(h.general, allow=0, deny=int(Permission.SEND_MESSAGES))
    record = await h.slash(h.member, h.general, "poll create", question=QUESTION, options=OPTIONS)
    assert await record.wait_followups()
    assert "can't post messages in this channel" in record.followups[0]["content"]
    assert await poll_count(h) == 0


async def test_an_unknown_poll_is_explained(h: Harness) -> None:
    record = await h.slash(h.moderator, h.general, "poll results", poll="#999")
    assert record.ephemeral
    assert "can't find a poll" in record.content


# -- spoilers ---------------------------------------------------------------------------


async def test_a_spoiler_poll_outside_spoiler_channels_numbers_its_buttons_and_hides_the_options(
    h: Harness,
) -> None:
    _, message = await create(h, options="Cheong-san lives | Cheong-san dies", spoiler=True)
    poll_id = poll_id_of(message)
    labels = [b["label"] for b in buttons(message) if b["custom_id"].startswith("poll:vote:")]
    assert labels == ["1", "2"]
    description = message["embeds"][0]["description"]
    assert "||Cheong\\-san lives||" in description
    assert "||Cheong\\-san dies||" in description
    reveal_id = f"spoiler:reveal:poll:{poll_id}"
    assert reveal_id in [b["custom_id"] for b in buttons(message)]

    answer = await vote(h, h.member, message, 1)
    assert "||Cheong\\-san dies||" in answer.content
    reveal = await h.click(h.member2, h.general, current(h, message), reveal_id)
    assert reveal.ephemeral
    revealed = embed_text({"embeds": reveal.embeds})
    assert "Cheong\\-san dies" in revealed
    assert "||" not in revealed


async def test_a_spoiler_poll_in_a_spoiler_channel_shows_its_options_openly(h: Harness) -> None:
    added = await h.slash(h.moderator, h.general, "settings spoilers add", channel=h.category)
    assert added.ephemeral
    _, message = await create(h, channel=h.in_category, options="Cheong-san lives | Cheong-san dies", spoiler=True)
    assert [b["label"] for b in buttons(message)] == ["Cheong-san lives", "Cheong-san dies"]
    assert "||" not in message["embeds"][0]["description"]


@pytest.mark.both_stores
@pytest.mark.postgresql_only  # a row lock held by another connection: the vote waits, it is not refused
async def test_a_vote_that_commits_late_is_acknowledged_first_and_answered_when_it_is_stored(
    h: Harness, store_url: str
) -> None:
    """Discord drops a click not answered within 3 s. A vote still waiting for the store then
    (here: another process holds its poll's row) is acknowledged privately ("thinking…") at
    ACK_SLOW_VOTE_AFTER and answered once committed, so the member never sees a failed click
    for a vote that was stored, and does not click again to retract it."""
    _, message = await create(h)
    poll_id = poll_id_of(message)
    other = await Store.open(store_url)  # another process of the cluster, in a long transaction
    try:
        async with other.transaction() as conn:
            await conn.execute(polls_table.select().where(polls_table.c.id == poll_id).with_for_update())
            record = await h.fake.click(
                h.guild, h.general, h.member, current(h, message), vote_ids(message)[1], wait=False
            )
            assert await record.wait_acknowledged(ACK_SLOW_VOTE_AFTER + 0.4), "the slow vote was not acknowledged"
            assert record.callback_type == DEFERRED_CHANNEL_MESSAGE
            assert record.ephemeral
            assert await stored_votes(h, poll_id) == set()  # still waiting for the lock
            await asyncio.sleep(3.2 - ACK_SLOW_VOTE_AFTER)  # past Discord's 3 s
    finally:
        await other.close()
    assert await record.wait_followups(1, timeout=5)
    assert "is counted" in record.followups[0]["content"]
    assert record.rejected_callbacks == []
    assert await stored_votes(h, poll_id) == {(h.member.id, 1)}
