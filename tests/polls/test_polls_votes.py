"""One vote rule on two databases: random click sequences go through SQLite's
``apply_clicks`` (the rule in Python) and PostgreSQL's (the rule in PL/pgSQL), and both
answer every click alike and leave the same votes and tally versions behind.

Several members click polls allowing one choice or several, retract, click options and
polls that do not exist, polls never posted, polls closed by command or by their
deadline, alone or in batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.store import Store
from bot.store.schema import poll_votes, polls
from cogs.polls import repo
from cogs.polls.repo import CloseReason
from cogs.polls.rules import build_poll_spec
from cogs.polls.votes import Click, ClickResult, ClickStatus, apply_clicks
from tests.support.stores import postgres_server, selected_backends

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
#: A poll id no store holds.
MISSING_POLL = 10**12
MEMBERS = (11, 12, 13)


@dataclass(frozen=True)
class PollPlan:
    options: int
    max_choices: int
    closes_in_minutes: int | None  # a deadline after NOW
    posted: bool


@dataclass(frozen=True)
class Batch:
    """Clicks sent together, at NOW plus ``minutes``; ``poll`` indexes the plan's polls (one past: a missing poll)."""

    minutes: int
    clicks: tuple[tuple[int, int, int], ...]  # (poll, member, option)


@dataclass(frozen=True)
class CloseCommand:
    poll: int


@st.composite
def poll_plans(draw: st.DrawFn) -> PollPlan:
    options = draw(st.integers(2, 5))
    return PollPlan(
        options=options,
        max_choices=draw(st.one_of(st.just(1), st.integers(1, options))),
        closes_in_minutes=draw(st.sampled_from([None, None, 30])),
        posted=draw(st.booleans().map(lambda unposted: not unposted) | st.just(True)),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[PollPlan], list[Batch | CloseCommand]]:
    plans = draw(st.lists(poll_plans(), min_size=1, max_size=3))
    click = st.tuples(st.integers(0, len(plans)), st.sampled_from(MEMBERS), st.integers(-1, 5))
    batch = st.builds(
        Batch,
        minutes=st.sampled_from([0, 0, 29, 30, 60]),
        clicks=st.lists(click, min_size=1, max_size=12).map(tuple),
    )
    close = st.builds(CloseCommand, poll=st.integers(0, len(plans) - 1))
    steps = draw(st.lists(st.one_of(batch, batch, batch, close), min_size=1, max_size=6))
    return plans, steps


@pytest.fixture
async def sqlite_and_postgresql(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Both databases at once, each fresh and migrated (this test compares them, so it runs once)."""
    if selected_backends(request.config) != ("sqlite", "postgresql"):
        pytest.skip("compares SQLite with PostgreSQL: runs with both stores only (--store=both)")
    server = await postgres_server()
    url = await server.create_database()
    sqlite = await Store.open(str(tmp_path / "bot.db"))
    postgresql = await Store.open(url)
    try:
        yield sqlite, postgresql
    finally:
        await postgresql.close()
        await sqlite.close()
        await server.drop_database(url)


async def create_polls(store: Store, plans: list[PollPlan]) -> list[int]:
    ids = []
    for plan in plans:
        spec = build_poll_spec(
            question="Who returns?",
            options=" | ".join(f"option {n}" for n in range(plan.options)),
            max_choices=plan.max_choices,
            duration=f"{plan.closes_in_minutes}m" if plan.closes_in_minutes else None,
        )
        poll = await repo.create_poll(store, guild_id=1, channel_id=2, creator_id=3, spec=spec, now=NOW)
        if plan.posted:
            await repo.attach_message(store, poll.id, 1000 + poll.id)
        ids.append(poll.id)
    return ids


async def final_state(store: Store, poll_ids: list[int]) -> list[tuple[int, list[tuple[int, int]]]]:
    """Per poll, in plan order: its tally_version and its votes as (member, option)."""
    state = []
    async with store.read() as conn:
        for poll_id in poll_ids:
            version = await conn.scalar(select(polls.c.tally_version).where(polls.c.id == poll_id))
            rows = await conn.execute(
                select(poll_votes.c.user_id, poll_votes.c.option_index)
                .where(poll_votes.c.poll_id == poll_id)
                .order_by(poll_votes.c.user_id, poll_votes.c.option_index)
            )
            state.append((int(version or 0), [(int(user), int(option)) for user, option in rows]))
    return state


async def play(
    store: Store, plans: list[PollPlan], steps: list[Batch | CloseCommand]
) -> tuple[list[int], list[list[ClickResult]]]:
    poll_ids = await create_polls(store, plans)
    answers = []
    for step in steps:
        if isinstance(step, CloseCommand):
            await repo.close_poll(store, poll_ids[step.poll], NOW, CloseReason.COMMAND)
            continue
        clicks = [
            Click(poll_ids[poll] if poll < len(poll_ids) else MISSING_POLL, member, option)
            for poll, member, option in step.clicks
        ]
        answers.append(await apply_clicks(store, clicks, NOW + timedelta(minutes=step.minutes)))
    return poll_ids, answers


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
async def test_random_clicks_get_the_same_answers_and_leave_the_same_votes_on_sqlite_and_postgresql(
    sqlite_and_postgresql: tuple[Store, Store], scenario: tuple[list[PollPlan], list[Batch | CloseCommand]]
) -> None:
    sqlite, postgresql = sqlite_and_postgresql
    plans, steps = scenario
    sqlite_polls, sqlite_answers = await play(sqlite, plans, steps)
    postgresql_polls, postgresql_answers = await play(postgresql, plans, steps)

    assert sqlite_answers == postgresql_answers, "every click is answered alike"
    state = await final_state(sqlite, sqlite_polls)
    assert state == await final_state(postgresql, postgresql_polls), "the same votes and tally versions"

    # ... and those votes are what the answers said: each member holds what their last applied click left.
    held: dict[tuple[int, int], tuple[int, ...]] = {}
    batches = [step for step in steps if isinstance(step, Batch)]
    for batch, answers in zip(batches, sqlite_answers, strict=True):
        for (poll, member, _), answer in zip(batch.clicks, answers, strict=True):
            if answer.status is ClickStatus.APPLIED:
                assert answer.transition is not None
                assert answer.transition.before == held.get((poll, member), ())
                held[(poll, member)] = answer.transition.after
    for poll, (_, votes) in enumerate(state):
        expected = sorted((member, option) for (p, member), options in held.items() if p == poll for option in options)
        assert votes == expected
