"""The shared store fails: PostgreSQL restarted in the middle of a vote storm.

The bot runs on a PostgreSQL server of the test's own (tests/support/pg_private.py), which
the test stops and starts again while members keep clicking. Every click is
answered within Discord's 3 seconds: "counted" only once its vote is committed, and
a clear private "try again" while the server is down; no acknowledged vote is lost,
and once the server is back the bot carries on by itself, without a restart.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest

from localdiscord import InteractionRecord
from tests.support.harness import Harness
from tests.support.pg_private import PrivateServer, why_no_private_server
from tests.support.polls import create, current, vote_ids
from tests.support.stores import fetch_rows

pytestmark = [pytest.mark.slow, pytest.mark.postgresql_only]

VOTERS = 40
OPTIONS = 10
CLICK_EVERY = 0.02  # 50 clicks a second
DOWN_AFTER = 1.5  # seconds into the storm
DOWN_FOR = 2.0
STORM = 7.0
TRY_AGAIN = "I couldn't reach my database just now. Nothing was changed: try again in a moment."


@pytest.fixture
def private_server() -> Iterator[PrivateServer]:
    reason = why_no_private_server()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true needs the PostgreSQL restart test to run", pytrace=False)
        pytest.skip(reason)
    server = PrivateServer.create()
    yield server
    server.destroy()


async def test_a_postgresql_restart_during_a_vote_storm_loses_no_acknowledged_vote(
    harness: Harness, private_server: PrivateServer
) -> None:
    h = harness
    h.expect_errors()  # the scheduler and the tally refresher log the outage
    await h.restart(database_url=private_server.url)
    options = " | ".join(f"Choice {n}" for n in range(OPTIONS))
    _, message = await create(h, question="Who returns in season 2?", options=options, max_choices=OPTIONS)
    [poll_id] = [int(row.id) for row in await fetch_rows(h.bot.store, "SELECT id FROM polls")]
    buttons = vote_ids(message)
    voters = [h.guild.add_member(name=f"storm-{n}") for n in range(VOTERS)]
    pairs = [(voter, option) for option in range(OPTIONS) for voter in range(VOTERS)]

    clicks: dict[tuple[int, int], InteractionRecord] = {}
    began = time.perf_counter()
    outage: dict[str, float] = {}

    async def restart_the_server() -> None:
        await asyncio.sleep(DOWN_AFTER)
        outage["down"] = time.perf_counter()
        await private_server.stop_async("fast")
        await asyncio.sleep(DOWN_FOR)
        await private_server.start_async()
        outage["up"] = time.perf_counter()

    restarter = asyncio.create_task(restart_the_server())
    for voter, option in pairs:
        if time.perf_counter() - began > STORM and restarter.done():
            break
        member = voters[voter]
        clicks[(member.id, option)] = await h.fake.click(
            h.guild, h.general, member, current(h, message), buttons[option], wait=False
        )
        await asyncio.sleep(CLICK_EVERY)
    await restarter
    for record in clicks.values():
        await record.wait_acknowledged(5)

    late = [pair for pair, record in clicks.items() if not record.answered or record.rejected_callbacks]
    assert late == [], f"{len(late)} clicks were not answered within Discord's 3 seconds"
    answers = {record.content for record in clicks.values()}
    assert answers <= {TRY_AGAIN, *(c for c in answers if c and "is counted" in c)}, answers
    assert all(record.ephemeral for record in clicks.values())
    refused = [pair for pair, record in clicks.items() if record.content == TRY_AGAIN]
    counted = {pair for pair, record in clicks.items() if "is counted" in (record.content or "")}
    assert refused, "no click met the outage: the server was never down while members clicked"
    after = [record for record in clicks.values() if record.dispatched_at > outage["up"] + 1.0]
    assert after, "the storm ended before the server came back"
    assert all("is counted" in (record.content or "") for record in after), "the bot did not reconnect by itself"

    stored = {
        (int(row.user_id), int(row.option_index))
        for row in await fetch_rows(h.bot.store, "SELECT user_id, option_index FROM poll_votes WHERE poll_id = :p", p=poll_id)
    }
    assert counted - stored == set(), "an acknowledged vote was lost"
    assert stored - set(clicks) == set(), "a vote nobody cast was stored"
    print(
        f"{len(clicks)} clicks, {len(counted)} counted, {len(refused)} told to try again; "
        f"server down {outage['up'] - outage['down']:.1f} s"
    )
