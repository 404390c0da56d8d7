"""Bounded work for any input (issue 21, item 4), on both stores where a store is involved.

The duration parser stops at its maximum; a member creates at most one poll per cooldown
and a server holds at most so many open polls, also when creations race; an export too big
for Discord is refused before it is uploaded; a closed poll forgets who voted after the
retention (an anonymous one at once), and its counts stay.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

import pytest
from discord import app_commands
from sqlalchemy import insert, select

from bot.store import Store
from bot.store.schema import poll_votes
from cogs.polls import repo
from cogs.polls.cog import CreateCooldown
from cogs.polls.rules import InvalidPoll, build_poll_spec, parse_duration
from tests.support.harness import Harness
from tests.support.poll_rows import NOW, posted_poll
from tests.support.polls import create, embed_text, poll_count, poll_id_of, stored_votes, vote

QUESTION = "Who returns in season 2?"


# -- the duration parser ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["999999w " * 700, "999999w" * 800, "1m " * 1000 + "999999w " * 200])
def test_a_huge_duration_is_refused_as_too_long_never_overflowing(text: str) -> None:
    with pytest.raises(InvalidPoll) as refused:
        parse_duration(text)
    assert refused.value.key == "polls.invalid.duration_too_long"


async def test_a_huge_duration_gets_a_private_answer_through_the_bot(h: Harness) -> None:
    record = await h.slash(
        h.member, h.general, "poll create", question=QUESTION, options="a | b", duration="999999w " * 700
    )
    assert record.ephemeral
    assert "A poll can stay open for at most 31 days" in record.content
    assert await poll_count(h) == 0


# -- the cooldown and the cap on open polls -----------------------------------------------------


async def test_a_member_creates_one_poll_per_cooldown_and_is_told_when_to_try_again(h: Harness) -> None:
    await h.restart(poll_create_cooldown_seconds=30)

    typo = await h.slash(h.member, h.general, "poll create", question=QUESTION, options="only one")
    assert "at least 2 options" in typo.content  # a refused poll costs no turn
    await create(h)
    again = await h.slash(h.member, h.general, "poll create", question="And season 3?", options="Yes | No")
    other = await h.slash(h.member2, h.general, "poll create", question="And season 3?", options="Yes | No")

    assert again.ephemeral
    assert again.content == "Slow down a little: try again in 30 seconds."
    assert await other.wait_followups()  # another member's turn is their own
    assert await poll_count(h) == 2


def test_the_cooldown_counts_per_member_and_server_and_forgets_old_turns() -> None:
    cooldown = CreateCooldown(per=30)
    cooldown.take(1, 10)
    cooldown.take(2, 10)
    cooldown.take(1, 11)
    with pytest.raises(app_commands.CommandOnCooldown) as refused:
        cooldown.take(1, 10)
    assert 29 < refused.value.retry_after <= 30
    cooldown.give_back(1, 10)
    cooldown.take(1, 10)
    unlimited = CreateCooldown(per=0)  # 0: no cooldown
    for _ in range(3):
        unlimited.take(1, 10)


async def test_a_server_at_its_cap_of_open_polls_is_told_to_close_one_first(h: Harness) -> None:
    await h.restart(poll_open_limit=2)
    await create(h)
    _, second = await create(h, member=h.member2)

    refused = await h.slash(h.moderator, h.general, "poll create", question=QUESTION, options="Yes | No")
    assert await refused.wait_followups()
    assert refused.followups[0]["flags"] & 64
    assert "already has 2 open polls" in refused.followups[0]["content"]
    assert await poll_count(h) == 2

    closing = await h.slash(h.member2, h.general, "poll close", poll=str(poll_id_of(second)))
    assert await closing.wait_followups()
    await create(h, member=h.moderator)
    assert await poll_count(h) == 3


@pytest.mark.both_stores
async def test_racing_creations_never_pass_the_cap(store: Store) -> None:
    spec = build_poll_spec(question="Who returns?", options="a | b")

    async def one() -> bool:
        try:
            await repo.create_poll(store, guild_id=1, channel_id=2, creator_id=3, spec=spec, now=NOW, open_limit=3)
        except repo.TooManyOpenPolls:
            return False
        return True

    created = await asyncio.gather(*(one() for _ in range(8)))
    assert sum(created) == 3
    other_guild = await repo.create_poll(
        store, guild_id=9, channel_id=2, creator_id=3, spec=spec, now=NOW, open_limit=3
    )
    assert other_guild.guild_id == 9


# -- exports too big for Discord ------------------------------------------------------------------


async def test_an_export_above_the_upload_limit_is_refused_before_uploading(h: Harness) -> None:
    labels = " | ".join(f"{n:02d} " + "x" * 77 for n in range(20))
    _, message = await create(h, options=labels, max_choices=20)
    poll_id = poll_id_of(message)
    now = h.clock()
    rows = [
        {"poll_id": poll_id, "user_id": 10**17 + user, "option_index": option, "voted_at": now}
        for user in range(5000)
        for option in range(20)
    ]
    async with h.bot.store.transaction() as conn:
        await conn.execute(insert(poll_votes), rows)  # 100,000 votes: about 12.5 MiB of CSV

    record = await h.slash(h.moderator, h.general, "poll export", poll=str(poll_id))

    assert await record.wait_followups()
    answer = record.followups[0]
    assert answer["flags"] & 64
    assert "more than the 10.0 MiB Discord lets me upload here" in answer["content"]
    assert not [u for u in h.fake.uploads.values() if u.filename.endswith(".csv")]


# -- forgetting who voted -----------------------------------------------------------------------


@pytest.mark.both_stores
async def test_an_anonymous_poll_forgets_its_voters_when_it_closes_and_keeps_its_counts(h: Harness) -> None:
    _, message = await create(h, member=h.moderator, anonymous=True)
    poll_id = poll_id_of(message)
    await vote(h, h.member, message, 1)
    await vote(h, h.member2, message, 1)
    await vote(h, h.moderator, message, 0)

    closing = await h.slash(h.moderator, h.general, "poll close", poll=str(poll_id))
    assert await closing.wait_followups()

    kept = await stored_votes(h, poll_id)
    assert sorted(option for _, option in kept) == [0, 1, 1]
    assert all(user_id < 0 for user_id, _ in kept)
    results = await h.slash(h.member, h.general, "poll results", poll=str(poll_id))
    assert "Su\\-hyeok · **2** (67%)" in embed_text({"embeds": results.embeds})
    export = await h.slash(h.moderator, h.general, "poll export", poll=str(poll_id))
    assert await export.wait_followups()
    [upload] = [u for u in h.fake.uploads.values() if u.filename == f"poll-{poll_id}-counts.csv"]
    table = list(csv.reader(io.StringIO(upload.data.decode())))
    assert [row[3] for row in table[1:]] == ["1", "2", "0"]


@pytest.mark.both_stores
async def test_an_anonymous_poll_closed_by_its_deadline_forgets_its_voters_too(h: Harness) -> None:
    _, message = await create(h, anonymous=True, duration="30m")
    poll_id = poll_id_of(message)
    await vote(h, h.member, message, 2)

    await h.run_scheduler(timedelta(minutes=31))

    assert [option for _, option in await stored_votes(h, poll_id)] == [2]
    assert h.member.id not in {user_id for user_id, _ in await stored_votes(h, poll_id)}


@pytest.mark.both_stores
async def test_a_closed_poll_forgets_who_voted_after_the_retention_and_keeps_its_counts(h: Harness) -> None:
    await h.restart(poll_vote_retention_days=30)
    _, message = await create(h)
    poll_id = poll_id_of(message)
    await vote(h, h.member, message, 0)
    await vote(h, h.member2, message, 1)
    closing = await h.slash(h.member, h.general, "poll close", poll=str(poll_id))
    assert await closing.wait_followups()

    await h.run_scheduler(timedelta(days=29))
    assert {user_id for user_id, _ in await stored_votes(h, poll_id)} == {h.member.id, h.member2.id}
    await h.run_scheduler(timedelta(days=2))

    kept = await stored_votes(h, poll_id)
    assert sorted(option for _, option in kept) == [0, 1]
    assert all(user_id < 0 for user_id, _ in kept)
    results = await h.slash(h.member, h.general, "poll results", poll=str(poll_id))
    assert "On\\-jo · **1** (50%)" in embed_text({"embeds": results.embeds})
    export = await h.slash(h.moderator, h.general, "poll export", poll=str(poll_id))
    assert await export.wait_followups()
    assert "who voted is forgotten" in export.followups[0]["content"]
    [upload] = [u for u in h.fake.uploads.values() if u.filename.endswith(".csv")]
    assert upload.filename == f"poll-{poll_id}-counts.csv"
    assert [row["votes"] for row in csv.DictReader(io.StringIO(upload.data.decode()))] == ["1", "1", "0"]


@pytest.mark.both_stores
async def test_forgetting_keeps_tallies_and_takes_only_owned_polls_due(store: Store) -> None:
    kept_open = await posted_poll(store)
    closed_long_ago = await posted_poll(store)
    closed_lately = await posted_poll(store, max_choices=2)
    for poll_id in (kept_open, closed_long_ago, closed_lately):
        await repo.apply_clicks(store, [repo.Click(poll_id, 7, 0), repo.Click(poll_id, 8, 1)], NOW)
    await repo.apply_clicks(store, [repo.Click(closed_lately, 7, 2)], NOW)
    await repo.close_poll(store, closed_long_ago, NOW, repo.CloseReason.COMMAND)
    await repo.close_poll(store, closed_lately, NOW + timedelta(days=20), repo.CloseReason.COMMAND)
    retention = timedelta(days=30)
    before = {p: (await repo.read_tally(store, p, 3))[0] for p in (kept_open, closed_long_ago, closed_lately)}
    async with store.read() as conn:
        assert await repo.next_forgetting(conn, retention) == NOW + retention

    assert await repo.forget_expired_voters(store, NOW + retention, retention) == [closed_long_ago]

    async with store.read() as conn:
        users = {
            poll_id: {
                row.user_id
                for row in await conn.execute(select(poll_votes.c.user_id).where(poll_votes.c.poll_id == poll_id))
            }
            for poll_id in (kept_open, closed_long_ago, closed_lately)
        }
        assert await repo.next_forgetting(conn, retention) == NOW + timedelta(days=20) + retention
    assert users[kept_open] == users[closed_lately] == {7, 8}
    assert users[closed_long_ago] == {-1, -2}
    for poll_id, tally in before.items():
        assert (await repo.read_tally(store, poll_id, 3))[0] == tally
    assert await repo.forget_expired_voters(store, NOW + retention, retention) == []  # done once
