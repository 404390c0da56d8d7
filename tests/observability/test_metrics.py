"""The metrics' rules: names and labels as Prometheus wants them, what counts as a store error,
how an answer is timed, the scheduler's lag; and through the real bot in process, Discord's 429s
counted by scope as discord.py waits them out."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import exc as sa_exc

from bot.errors import UserError
from bot.observability import Metrics, Snapshot
from bot.scheduler import Scheduler
from localdiscord import wait_until
from tests.support.harness import Harness
from tests.support.metrics import samples
from tests.support.polls import create, vote


def test_every_metric_follows_prometheus_naming_and_never_labels_a_server() -> None:
    metrics = Metrics()
    metrics.watch(lambda: Snapshot(latency={0: 0.04}, guilds={0: 3}, ready={0: True}, pack_age_days=12))
    metrics.count_interaction("countdown", "answered", 1 << 22)
    metrics.count_vote(stored=True)
    metrics.count_scheduled_post("sent")
    metrics.count_release_announcement()
    metrics.count_rate_limit("global")
    metrics.count_release_watch_look("proposed")
    metrics.observe_transaction(0.001)
    families = list(text_string_to_metric_families(metrics.exposition().decode()))
    assert len(families) >= 14
    for family in families:
        assert family.name.startswith("hyosan_")
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        for sample in family.samples:
            assert not {"guild", "guild_id", "user", "channel"} & sample.labels.keys(), sample
    names = {family.name for family in families}
    assert {"hyosan_interaction_response_seconds", "hyosan_store_transaction_seconds"} <= names
    assert {"hyosan_gateway_latency_seconds", "hyosan_scheduler_lag_seconds", "hyosan_data_pack_age_days"} <= names


def test_two_bots_in_one_process_count_apart() -> None:
    first, second = Metrics(), Metrics()
    first.count_vote(stored=True)
    first.count_vote(stored=False)
    assert samples(first)[("hyosan_votes_total", (("result", "stored"),))] == 1
    assert samples(first)[("hyosan_votes_total", (("result", "refused"),))] == 1
    assert samples(second)[("hyosan_votes_total", (("result", "stored"),))] == 0


def test_store_errors_are_counted_by_kind_and_a_members_mistake_is_not_one() -> None:
    metrics = Metrics()
    locked = sa_exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    full = sa_exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    broken = sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    for error in (locked, full, broken, UserError("polls.vote.gone"), None):
        metrics.observe_transaction(0.003, error)
    found = samples(metrics)
    assert found[("hyosan_store_errors_total", (("kind", "busy"),))] == 1
    assert found[("hyosan_store_errors_total", (("kind", "full"),))] == 1
    assert found[("hyosan_store_errors_total", (("kind", "other"),))] == 1
    assert sum(v for (name, _), v in found.items() if name == "hyosan_store_errors_total") == 3
    assert found[("hyosan_store_transaction_seconds_count", ())] == 5


def test_unknown_rate_limit_scopes_do_not_make_new_labels() -> None:
    metrics = Metrics()
    for scope in ("route", "shared", None, "something-new"):
        metrics.count_rate_limit(scope)
    found = samples(metrics)
    assert found[("hyosan_discord_rate_limits_total", (("scope", "unknown"),))] == 3
    assert found[("hyosan_discord_rate_limits_total", (("scope", "route"),))] == 1


def test_an_interaction_is_timed_from_its_snowflake_and_a_late_one_is_not() -> None:
    metrics = Metrics()
    half_a_second_ago = (int(time.time() * 1000 - 500) - 1_420_070_400_000) << 22
    metrics.count_interaction("countdown", "answered", half_a_second_ago)
    metrics.count_interaction("countdown", "late", half_a_second_ago)
    found = samples(metrics)
    assert found[("hyosan_interaction_response_seconds_count", ())] == 1
    assert 0.45 <= found[("hyosan_interaction_response_seconds_sum", ())] < 3
    assert found[("hyosan_interaction_response_seconds_bucket", (("le", "0.25"),))] == 0
    assert found[("hyosan_interactions_total", (("command", "countdown"), ("outcome", "late")))] == 1


async def test_the_scheduler_lags_by_how_far_now_is_past_its_earliest_due_item() -> None:
    start = datetime(2026, 12, 6, 12, tzinfo=UTC)
    now = start

    class Due:
        name = "due"

        async def next_due(self, at: datetime) -> datetime | None:
            return start

        async def run_due(self, at: datetime) -> None:
            await asyncio.sleep(0)

    scheduler = Scheduler(lambda: now)
    assert scheduler.lag(now) == timedelta(0)
    scheduler.register(Due())
    scheduler.next_due = await scheduler.run_pending()
    now = start + timedelta(seconds=7)
    assert scheduler.lag(now) == timedelta(seconds=7)
    assert scheduler.lag(start - timedelta(seconds=1)) == timedelta(0)


async def test_429s_are_counted_by_scope_as_discord_py_waits_them_out(harness: Harness) -> None:
    h = harness
    h.fake.inject("POST", r"/interactions/\d+/[^/]+/callback", status=429, retry_after=0.1)
    h.fake.inject("POST", rf"/channels/{h.general.id}/messages$", status=429, retry_after=0.1, global_=True)
    _, message = await create(h)  # its deferral (an interaction answer) and its poll message are each 429ed once
    h.fake.inject("PATCH", rf"/channels/{h.general.id}/messages/\d+$", status=429, retry_after=0.1)
    answer = await vote(h, h.member, message, 1)
    assert "counted" in answer.content
    assert await wait_until(lambda: h.fake.rate_limit_hits == 3, timeout=5)
    await asyncio.sleep(0.05)
    found = samples(h.bot.metrics)
    rate_limits = {labels[0][1]: v for (name, labels), v in found.items() if name == "hyosan_discord_rate_limits_total"}
    assert rate_limits == {"webhook": 1, "global": 1, "route": 1}
    assert found[("hyosan_interactions_total", (("command", "poll create"), ("outcome", "answered")))] == 1
    assert found[("hyosan_interactions_total", (("command", "component"), ("outcome", "answered")))] == 1
    assert found[("hyosan_votes_total", (("result", "stored"),))] == 1
