"""What the bot counts, in one place: the only module that imports prometheus-client.

Features count through :class:`Metrics`'s small methods (``count_vote``, ``count_scheduled_post``...)
on ``bot.metrics``; nothing else knows the metric names. Each bot has a registry of its own
(never the process-wide default), so several bots in one process (the tests) never collide.
Values that exist anyway (gateway latency, guilds per shard, the scheduler's lag, the pack's
age) are not kept up to date by anyone: they are read from a :class:`Snapshot` when scraped.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import exc as sa_exc

from bot.store.errors import classify_failure

#: An interaction's outcome: answered, the member's own mistake (or a store that asked them to
#: try again), a bug (an error reference was shown), or answered after Discord's 3 seconds.
Outcome = Literal["answered", "user_error", "unexpected_error", "late"]
PostResult = Literal["sent", "retried", "given_up"]
#: What one look of the release watch at TVmaze came to: nothing to propose, a proposal posted,
#: a finding proposed or decided already (here or by another process), TVmaze down or rate
#: limiting, TVmaze's answer unusable, the proposal not postable in Discord, or a failure.
WatchLook = Literal["unchanged", "proposed", "known", "unavailable", "unusable", "not_posted", "failed"]

#: Seconds from the member's action (the interaction's snowflake time) to the bot's answer.
FIRST_RESPONSE_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
TRANSACTION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
DISCORD_EPOCH_MS = 1_420_070_400_000
#: What a 429 is counted as (see :class:`RateLimitWatch`); anything else is counted as "unknown".
RATE_LIMIT_SCOPES = frozenset({"route", "global", "webhook"})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The values read at each scrape, as plain numbers (made by the bot, see ``HyosanBot.snapshot``)."""

    #: Gateway latency (seconds) of each shard of this process that has measured one.
    latency: dict[int, float] = field(default_factory=dict)
    guilds: dict[int, int] = field(default_factory=dict)
    #: 1 for each shard of this process that is connected and READY, else 0.
    ready: dict[int, bool] = field(default_factory=dict)
    scheduler_lag_seconds: float = 0.0
    pack_age_days: float | None = None


class _SnapshotCollector(Collector):
    def __init__(self, read: Callable[[], Snapshot]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        snapshot = self._read()
        latency = GaugeMetricFamily(
            "hyosan_gateway_latency_seconds",
            "Heartbeat round trip of each shard's gateway connection.",
            labels=["shard"],
        )
        for shard, seconds in sorted(snapshot.latency.items()):
            latency.add_metric([str(shard)], seconds)
        guilds = GaugeMetricFamily("hyosan_guilds", "Servers each shard of this process serves.", labels=["shard"])
        for shard, count in sorted(snapshot.guilds.items()):
            guilds.add_metric([str(shard)], count)
        ready = GaugeMetricFamily(
            "hyosan_shard_ready", "1 while the shard is connected and READY (or RESUMED).", labels=["shard"]
        )
        for shard, is_ready in sorted(snapshot.ready.items()):
            ready.add_metric([str(shard)], 1.0 if is_ready else 0.0)
        lag = GaugeMetricFamily(
            "hyosan_scheduler_lag_seconds", "How far the scheduler is behind its earliest due item (0: on time)."
        )
        lag.add_metric([], snapshot.scheduler_lag_seconds)
        yield from (latency, guilds, ready, lag)
        if snapshot.pack_age_days is not None:
            age = GaugeMetricFamily("hyosan_data_pack_age_days", "Days since the data pack's newest dated source.")
            age.add_metric([], snapshot.pack_age_days)
            yield age


class Metrics:
    """One bot's metrics. Counting costs a lock and an addition; nothing is sent anywhere
    until something scrapes :meth:`exposition`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._interactions = Counter(
            "hyosan_interactions",
            "Interactions handled, by command (or component/modal_submit) and outcome.",
            ["command", "outcome"],
            registry=registry,
        )
        self._first_response = Histogram(
            "hyosan_interaction_response_seconds",
            "From the member's action (the interaction's snowflake time) to the end of the bot's answer to it.",
            buckets=FIRST_RESPONSE_BUCKETS,
            registry=registry,
        )
        self._votes = Counter("hyosan_votes", "Poll clicks, stored or refused.", ["result"], registry=registry)
        self._posts = Counter(
            "hyosan_scheduled_posts",
            "Scheduled countdown posts sent, retried or given up.",
            ["result"],
            registry=registry,
        )
        self._announcements = Counter(
            "hyosan_release_announcements", "Posts announcing a change of the release date.", registry=registry
        )
        self._rate_limits = Counter(
            "hyosan_discord_rate_limits",
            "429 answers from Discord, by X-RateLimit-Scope.",
            ["scope"],
            registry=registry,
        )
        self._transactions = Histogram(
            "hyosan_store_transaction_seconds",
            "Duration of the store's write transactions, from begin to commit or rollback.",
            buckets=TRANSACTION_BUCKETS,
            registry=registry,
        )
        self._store_errors = Counter(
            "hyosan_store_errors",
            "Failed store transactions, by kind (busy, unavailable, full, other).",
            ["kind"],
            registry=registry,
        )
        self._watch_looks = Counter(
            "hyosan_release_watch_looks",
            "Looks of the release watch at TVmaze, by what each came to.",
            ["result"],
            registry=registry,
        )
        # Children made once: the hot paths skip the label look-up.
        self._vote_stored = self._votes.labels("stored")
        self._vote_refused = self._votes.labels("refused")
        self._interaction_children: dict[tuple[str, str], Any] = {}

    # -- what features count ---------------------------------------------------------

    def count_interaction(self, command: str, outcome: Outcome, interaction_id: int | None = None) -> None:
        """One interaction handled; ``interaction_id`` (its snowflake, which says when the member
        acted): also how long the bot took to answer it."""
        child = self._interaction_children.get((command, outcome))
        if child is None:
            child = self._interaction_children[(command, outcome)] = self._interactions.labels(command, outcome)
        child.inc()
        if interaction_id is not None and outcome != "late":
            self._first_response.observe(max(time.time() - ((interaction_id >> 22) + DISCORD_EPOCH_MS) / 1000, 0.0))

    def count_vote(self, *, stored: bool) -> None:
        (self._vote_stored if stored else self._vote_refused).inc()

    def count_scheduled_post(self, result: PostResult) -> None:
        self._posts.labels(result).inc()

    def count_release_announcement(self) -> None:
        self._announcements.inc()

    def count_release_watch_look(self, result: WatchLook) -> None:
        self._watch_looks.labels(result).inc()

    def count_rate_limit(self, scope: str | None) -> None:
        self._rate_limits.labels(scope if scope in RATE_LIMIT_SCOPES else "unknown").inc()

    def observe_transaction(self, seconds: float, error: BaseException | None = None) -> None:
        """A store transaction ended (``error``: it failed with that)."""
        self._transactions.observe(seconds)
        if error is None:
            return
        failure = classify_failure(error)
        if failure is not None:
            self._store_errors.labels(failure.value).inc()
        elif isinstance(error, sa_exc.SQLAlchemyError | sqlite3.Error):
            self._store_errors.labels("other").inc()
        # else: the block raised something of its own (a member's mistake rolls its write back)

    # -- what is read at each scrape --------------------------------------------------

    def watch(self, read: Callable[[], Snapshot]) -> None:
        """Read ``read()`` at every scrape (the bot's shards, scheduler and pack)."""
        self.registry.register(_SnapshotCollector(read))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


class RateLimitWatch(logging.Filter):
    """Counts Discord's 429s from discord.py's own warnings about them (``discord.http`` and
    ``discord.webhook.async_``), the only place discord.py reports them.

    discord.py warns "We are being rate limited ..." for every 429 it waits out, and right
    after it, without awaiting anything between, "Global rate limit has been hit ..." when the
    429 was global. So a 429 is counted as ``route`` (a route's own limit, user or shared scope)
    once the task that logged it has yielded, unless the global line came first; ``webhook``
    for an interaction follow-up's limit. (An aiohttp trace on discord.py's session read the
    X-RateLimit-Scope header instead, but cost a tenth of a vote's CPU: every request paid for it.)
    """

    LOGGERS = ("discord.http", "discord.webhook.async_")

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics
        self._pending = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        text = record.msg if isinstance(record.msg, str) else ""
        if text.startswith("We are being rate limited") and "Retrying" in text:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._metrics.count_rate_limit("route")
                return True
            if not self._pending:
                loop.call_soon(self._flush)
            self._pending += 1
        elif text.startswith("Global rate limit has been hit"):
            self._pending = max(0, self._pending - 1)
            self._metrics.count_rate_limit("global")
        elif text.startswith("Webhook ID") and "rate limited" in text:
            self._metrics.count_rate_limit("webhook")
        return True

    def _flush(self) -> None:
        for _ in range(self._pending):
            self._metrics.count_rate_limit("route")
        self._pending = 0

    def attach(self) -> None:
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            logger.addFilter(self)
            # The warnings must reach this filter whatever LOG_LEVEL says (the handler still drops
            # them below its level): a logger's own filters run only for records it lets through.
            if logger.getEffectiveLevel() > logging.WARNING:
                logger.setLevel(logging.WARNING)

    def detach(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeFilter(self)


#: For clients without metrics of their own (a test's bare client): counts into a registry nobody reads.
UNREAD = Metrics()


def metrics_of(client: object) -> Metrics:
    """The metrics of the bot an interaction came to."""
    metrics = getattr(client, "metrics", None)
    return metrics if isinstance(metrics, Metrics) else UNREAD
