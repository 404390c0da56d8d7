"""The countdown fan-out over two bot processes at Discord's shared global limit, beside one process.

    .venv/bin/python bench/bench_fanout_processes.py [--guilds 5000] [--database-url URL] [--also-unshared]
        [--keep-database]

``--guilds`` guilds have their countdown post due at the same instant, against one fake
Discord enforcing the global limit of 50 requests per second for the bot token (one window
for every connection, as on Discord). Two runs in the same store, one after the other:

1. the baseline: one ``python -m bot`` running both shards (SHARD_COUNT=2), at the whole
   budget (47/s);
2. two ``python -m bot`` processes, SHARD_IDS=0 and SHARD_IDS=1 of SHARD_COUNT=2, each at
   half the budget (its shards' share, bot/pacing.py).

``--also-unshared`` adds a control: the two processes each at the whole budget
(REST_RATE_SHARE=1), 94/s between them, which is what the share prevents.

Each run has its own ``--guilds`` guilds in the one fake, half on each shard, due at its
own instant after the previous run has stopped. All schedules are written before any bot
starts, through the feature's repository (as ``bench/run.py``'s fan-out), so one store
serves every run without clean-up.

The store is shared by the processes: an SQLite file (WAL, busy timeout) by default, or
``--database-url``. A PostgreSQL URL names the server: the benchmark creates a fresh
database there (``hyosan_bench_<random>``, with the same user and host), gives it to
every bot as DATABASE_URL, seeds and reads it, and drops it at the end (``--keep-database``
keeps it to look at). An ``sqlite:///`` URL is used as given. The ledger check reads the
store through SQLAlchemy on either backend.

Reported for each run: time from the due instant to the last post, its ratio to the floor
the limit sets (guilds / 50 per second: 100 s for 5,000), the busiest one-second window,
429s, duplicates (a channel with two posts, or a slot claimed twice) and misses; the two
processes' figure beside the baseline's. Writes ``bench/results/fanout_processes.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import BotProcess, machine, new_fake, print_rows, quiesce, ratio, start_ready  # noqa: E402
from bench._fanout import GLOBAL_LIMIT, count_posts, read_ledger  # noqa: E402
from bench.run import seed_schedules  # noqa: E402
from bot.pacing import REST_PER_SECOND  # noqa: E402
from bot.shards import shard_of  # noqa: E402
from bot.store.urls import describe_url, parse_database_url  # noqa: E402
from localdiscord import TEXT, FakeDiscord  # noqa: E402
from localdiscord.state import Channel  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "fanout_processes.json"
SHARDS = 2
#: What each bot logs at start about its rate (bot/client.py).
PACING_LINE = "pacing Discord requests at "
#: Seconds seeding one schedule takes (one transaction through the repository), with room to
#: spare: the first due instant is planned from it. PostgreSQL pays a round trip per statement.
SEEDING_SECONDS = {"sqlite": 0.006, "postgresql": 0.008}
#: The databases this benchmark creates start with this (a crashed run's leftovers are easy to find).
DATABASE_PREFIX = "hyosan_bench_"
log = logging.getLogger("bench.fanout_processes")


@dataclass(frozen=True)
class Store:
    """Where the bots keep their data: a shared SQLite file or a database URL."""

    path: Path
    url: str | None

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.url} if self.url else {"DATABASE_PATH": str(self.path)}

    @property
    def target(self) -> str | Path:
        return self.url or self.path


def _libpq_dsn(url: URL, database: str) -> str:
    """``url`` on ``database`` as asyncpg (and an operator) writes it: postgresql://..."""
    return url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database(database_url: str | None, *, keep: bool) -> AsyncIterator[str | None]:
    """The URL the bots get: a new PostgreSQL database on ``database_url``'s server, dropped
    afterwards (unless ``keep``); an SQLite URL as given; None (the run's own file) without one."""
    if database_url is None:
        yield None
        return
    url = parse_database_url(database_url, setting="--database-url")
    if url.get_backend_name() != "postgresql":
        yield database_url
        return
    name = f"{DATABASE_PREFIX}{secrets.token_hex(4)}"
    # Connect to the database the operator named to create (and later drop) the new one.
    admin_dsn = _libpq_dsn(url, url.database or "postgres")
    admin = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    created = _libpq_dsn(url, name)
    log.info("created database %s", describe_url(parse_database_url(created)))
    try:
        yield created
    finally:
        if keep:
            log.info("kept database %s", describe_url(parse_database_url(created)))
        else:
            admin = await asyncpg.connect(admin_dsn, timeout=10)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            log.info("dropped database %s", name)


@dataclass(frozen=True)
class Run:
    """One fan-out: the processes (each its extra settings) and the guilds due at ``due``."""

    label: str
    processes: tuple[dict[str, str], ...]
    channels: list[Channel]
    due: dt.datetime


def due_perf(due: dt.datetime) -> float:
    """``due`` on the perf_counter clock the fake stamps its requests with."""
    return time.perf_counter() + (due.timestamp() - time.time())


async def fan_out(fake: FakeDiscord, store: Store, workdir: Path, run: Run, wait_seconds: float) -> dict[str, Any]:
    """Start the run's processes before ``due``, wait for every post, stop them; the figures."""
    env = store.env()
    procs: list[BotProcess] = []
    try:
        procs = list(
            await asyncio.gather(
                *(
                    start_ready("bot", fake, workdir / f"{run.label}-{n}", timeout=300, extra_env=env | extra)
                    for n, extra in enumerate(run.processes)
                )
            )
        )
        # Read now: a run that meets 429s logs enough to push start-up out of the kept lines.
        pacing = [line.partition(PACING_LINE)[2] for p in procs for line in p.lines if PACING_LINE in line]
        due_at = due_perf(run.due)
        ready_before_due = min(due_at - (p.ready_at or due_at) for p in procs)
        # The fake's heap (every guild of every run) is frozen so that its collector's pauses,
        # which are not Discord's, do not bunch the requests it stamps into one second.
        quiesce(fake)
        requests_before, hits_before = len(fake.requests), fake.rate_limit_hits
        deadline = time.monotonic() + max(0.0, due_at - time.perf_counter()) + wait_seconds
        while time.monotonic() < deadline:
            if all(fake.channel_messages(c.id) for c in run.channels):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # a duplicate would show up now
        posts = count_posts(fake, run.channels, requests_before, due_at)
        limited = [r.time - due_at for r in fake.requests[requests_before:] if r.status == 429]
        by_shard = {}
        for shard in range(SHARDS):
            mine = [c for c in run.channels if shard_of(c.guild_id, SHARDS) == shard]
            by_shard[str(shard)] = count_posts(fake, mine, requests_before, due_at)["seconds_to_last_post"]
        exits = [await p.stop() for p in procs]
        posts.update(
            processes=len(procs),
            rate_limit_hits=fake.rate_limit_hits - hits_before,
            first_429_seconds_after_due=round(min(limited), 3) if limited else None,
            last_429_seconds_after_due=round(max(limited), 3) if limited else None,
            ready_seconds_before_due=round(ready_before_due, 3),
            started_late=ready_before_due < 0,
            seconds_to_last_post_by_shard=by_shard,
            violations=len(fake.violations),
            exit_codes=exits,
            logged_errors=[line for p in procs for line in p.errors()][:5],
            pacing=pacing,
        )
        return posts
    finally:
        for proc in procs:
            await proc.stop()


async def measure(
    guilds: int, database_url: str | None, wait_seconds: float, *, unshared: bool, keep_database: bool
) -> dict[str, Any]:
    async with fresh_database(database_url, keep=keep_database) as url:
        return await measure_on(guilds, url, wait_seconds, unshared=unshared)


async def measure_on(guilds: int, database_url: str | None, wait_seconds: float, *, unshared: bool) -> dict[str, Any]:
    """Both runs (and the control) on one store: ``database_url``, or an SQLite file of the run's own."""
    fake = await new_fake()
    fake.recommended_shards = SHARDS
    with tempfile.TemporaryDirectory(prefix="fanout-processes-") as tmp:
        workdir = Path(tmp)
        store = Store(workdir / "shared.db", database_url)
        try:
            setups: list[tuple[str, tuple[dict[str, str], ...]]] = [("one process", ({"SHARD_COUNT": str(SHARDS)},))]
            split = tuple({"SHARD_COUNT": str(SHARDS), "SHARD_IDS": str(shard)} for shard in range(SHARDS))
            setups.append(("two processes", split))
            if unshared:
                setups.append(
                    ("two processes, each at the whole budget", tuple(e | {"REST_RATE_SHARE": "1"} for e in split))
                )
            # Room for seeding and start-up, then for each fan-out and the next start-up.
            per_schedule = SEEDING_SECONDS[parse_database_url(store.target).get_backend_name()]
            due = dt.datetime.fromtimestamp(int(time.time() + 15 + guilds * len(setups) * per_schedule) + 1, dt.UTC)
            runs = []
            for label, processes in setups:
                # Alternate shards so each run has half its guilds on each shard.
                channels = [
                    fake.add_guild(f"{label} {n}", shard=(n % SHARDS, SHARDS)).add_channel("countdown", TEXT)
                    for n in range(guilds)
                ]
                runs.append(Run(label, processes, channels, due))
                due += dt.timedelta(seconds=int(guilds / REST_PER_SECOND * 1.15 + 30))
            started = time.perf_counter()
            for run in runs:
                await seed_schedules(store.target, [(c.guild_id, c.id) for c in run.channels], run.due)
            log.info("seeded %d schedules in %.1f s", len(runs) * guilds, time.perf_counter() - started)
            if (runs[0].due - dt.datetime.now(dt.UTC)).total_seconds() < 10:
                log.warning("seeding took longer than planned: the first run may start late (see its figures)")
            fake.global_rate_limit(per_second=GLOBAL_LIMIT)
            results: dict[str, Any] = {}
            for run in runs:
                results[run.label] = await fan_out(fake, store, workdir, run, wait_seconds)
                log.info("%s: %s", run.label, results[run.label])
            ledger = await read_ledger(store.target)
        finally:
            await fake.close()
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "store": describe_store(database_url),
        "guilds_per_run": guilds,
        "global_limit_per_second": GLOBAL_LIMIT,
        "floor_seconds": guilds / GLOBAL_LIMIT,
        "runs": results,
        "ledger_of_both_runs": ledger,
    }


def describe_store(database_url: str | None) -> str:
    if database_url is None:
        return "one SQLite file (WAL)"
    url = parse_database_url(database_url)
    if url.get_backend_name() == "postgresql":
        return f"PostgreSQL, a fresh database ({describe_url(url)})"
    return f"SQLite ({describe_url(url)})"


def print_table(result: dict[str, Any]) -> None:
    one, two = result["runs"]["one process"], result["runs"]["two processes"]
    floor = result["floor_seconds"]

    def both(key: str) -> str:
        return f"{two[key]}  (one process: {one[key]})"

    rows = [
        ("guilds due at one instant", f"{result['guilds_per_run']:,} per run; store: {result['store']}"),
        ("global limit", f"{result['global_limit_per_second']}/s for the bot token, shared by every process"),
        ("pacing", "; ".join(two["pacing"]) or "(not logged)"),
        ("time to last post", f"{two['seconds_to_last_post']} s  (one process: {one['seconds_to_last_post']} s)"),
        (
            "ratio to the floor",
            f"{two['ratio_to_floor']} of {floor:g} s  (one process: {one['ratio_to_floor']})",
        ),
        ("two processes / one process", f"{ratio(two['seconds_to_last_post'], one['seconds_to_last_post']):.3f}"),
        ("last post by shard", both("seconds_to_last_post_by_shard")),
        ("busiest one-second window", both("busiest_second_requests")),
        ("429s", both("rate_limit_hits")),
        (
            "duplicates / missed",
            f"{two['duplicates']} / {two['missed']}  (one process: {one['duplicates']} / {one['missed']})",
        ),
        (
            "ready before the due instant",
            f"{two['ready_seconds_before_due']} s  (one process: {one['ready_seconds_before_due']} s)",
        ),
        (
            "violations / logged errors",
            f"{two['violations']} / {len(two['logged_errors'])}  (one process: "
            f"{one['violations']} / {len(one['logged_errors'])})",
        ),
    ]
    ledger = result["ledger_of_both_runs"]
    rows.append(("ledger (every run)", f"{ledger['ledger']} (slots claimed twice: {ledger['slots_claimed_twice']})"))
    control = result["runs"].get("two processes, each at the whole budget")
    if control is not None:
        rows.append(
            (
                "control: both at 47/s",
                f"{control['seconds_to_last_post']} s, 429s: {control['rate_limit_hits']}, busiest second: "
                f"{control['busiest_second_requests']}, duplicates / missed: {control['duplicates']} / "
                f"{control['missed']}",
            )
        )
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=5000, help="guilds due at once in each run (default 5000)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://user@host:port/db: a fresh database is created on that server for the run and "
        "dropped after it; sqlite:///file: used as given; default: one SQLite file of the run's own",
    )
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="do not drop the PostgreSQL database the run created (its name is logged)",
    )
    parser.add_argument(
        "--also-unshared",
        action="store_true",
        help="a third run: two processes each at the whole budget (REST_RATE_SHARE=1), to see the 429s",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = asyncio.run(
        measure(
            args.guilds,
            args.database_url,
            wait_seconds=args.guilds / GLOBAL_LIMIT * 3 + 60,
            unshared=args.also_unshared,
            keep_database=args.keep_database,
        )
    )
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
