"""The TVmaze client (cogs/countdown/tvmaze.py) against the local TVmaze over real HTTP: what it
sends, and how every kind of answer comes back (JSON, or one of its two exceptions)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot import __version__
from cogs.countdown.tvmaze import TvmazeClient, TvmazeUnavailable
from cogs.countdown.watch import BadAnswer
from tests.support.tvmaze import SHOW_ID, LocalTvmaze


@pytest.fixture
async def client(tv: LocalTvmaze) -> AsyncIterator[TvmazeClient]:
    made = TvmazeClient(tv.url, timeout=1.0)
    yield made
    await made.close()


async def test_it_reads_the_seasons_and_episodes_and_names_itself(tv: LocalTvmaze, client: TvmazeClient) -> None:
    seasons = await client.seasons(SHOW_ID)
    assert isinstance(seasons, list)
    assert [s["number"] for s in seasons] == [1, 2]
    episodes = await client.episodes(seasons[0]["id"])
    assert isinstance(episodes, list)
    assert len(episodes) == 12
    assert [r.user_agent.split(" ")[0] for r in tv.requests] == [f"hyosan-bot/{__version__}"] * 2


@pytest.mark.parametrize(
    ("fault", "retry_after", "kind", "wait"),
    [
        ("rate_limited", 3, "rate_limited", 3.0),
        ("rate_limited", None, "rate_limited", None),
        ("server_error", None, "server_error", None),
        ("slow", None, "timeout", None),
    ],
)
async def test_unavailable_answers_say_why_and_how_long_to_wait(
    tv: LocalTvmaze, client: TvmazeClient, fault: str, retry_after: int | None, kind: str, wait: float | None
) -> None:
    tv.slow_seconds = 2.0
    tv.fail(fault, times=1, retry_after=retry_after)  # type: ignore[arg-type]
    with pytest.raises(TvmazeUnavailable) as failed:
        await client.seasons(SHOW_ID)
    assert (failed.value.kind, failed.value.retry_after) == (kind, wait)
    assert isinstance(await client.seasons(SHOW_ID), list)  # and the next request is answered


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("html", "text/html instead of JSON for /shows/43387/seasons"),
        ("not_json", "unreadable JSON for /shows/43387/seasons"),
    ],
)
async def test_an_answer_that_is_not_json_is_a_bad_answer(
    tv: LocalTvmaze, client: TvmazeClient, fault: str, reason: str
) -> None:
    tv.fail(fault, times=1)  # type: ignore[arg-type]
    with pytest.raises(BadAnswer) as refused:
        await client.seasons(SHOW_ID)
    assert refused.value.reason == reason


async def test_an_unknown_show_is_a_bad_answer(client: TvmazeClient) -> None:
    with pytest.raises(BadAnswer) as refused:
        await client.seasons(1)
    assert refused.value.reason == "HTTP 404 for /shows/1/seasons"


async def test_no_server_is_a_network_outage() -> None:
    client = TvmazeClient("http://127.0.0.1:9", timeout=1.0)
    try:
        with pytest.raises(TvmazeUnavailable) as failed:
            await client.seasons(SHOW_ID)
    finally:
        await client.close()
    assert failed.value.kind == "network"
